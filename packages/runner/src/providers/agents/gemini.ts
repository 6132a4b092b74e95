import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * Gemini CLI and its fork Qwen Code share a yargs command line (flags as documented for
 * `@google/gemini-cli` 0.x, npm had 0.61.0; `@qwen-code/qwen-code` 0.x, npm had 0.24.4):
 * `-i`/`--prompt-interactive` starts the TUI with a first message, `-p`/`--prompt` runs once.
 * The prompt is a flag's value, so it goes in the `--flag=value` form: yargs then takes it
 * verbatim, even when it starts with `-`. Unsure: newer gemini releases call `-p` deprecated
 * in favour of a positional prompt; it is still accepted as of the version above.
 */
const geminiFamily = (id: string, name: string) =>
  makeProvider({
    id,
    name,
    binary: id,
    modes: ["interactive", "oneshot"],
    versionArgs: ["--version"],
    interactivePrompt: true,
    argv: ({ mode, prompt }) =>
      mode === "oneshot"
        ? Effect.map(requirePrompt(id, prompt), (p) => [id, `--prompt=${p}`])
        : Effect.succeed(prompt === undefined ? [id] : [id, `--prompt-interactive=${prompt}`]),
  })

export const gemini = geminiFamily("gemini", "Gemini CLI")
export const qwen = geminiFamily("qwen", "Qwen Code")
