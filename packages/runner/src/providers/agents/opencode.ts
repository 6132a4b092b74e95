import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * OpenCode (`opencode-ai`; checked against 1.18.33's `--help` and real runs). The TUI takes
 * `--prompt` (a flag value, so `--prompt=value` keeps a leading `-` verbatim under yargs);
 * `opencode run [message..]` runs once. yargs fills `message..` from the words after `--`
 * ("--help me" reached the model; `opencode run` with no message exits 1), and the `--` is
 * what stops a leading `-` from being read as a flag.
 */
export const opencode = makeProvider({
  id: "opencode",
  name: "OpenCode",
  binary: "opencode",
  modes: ["interactive", "oneshot"],
  versionArgs: ["--version"],
  interactivePrompt: true,
  argv: ({ mode, prompt }) =>
    mode === "oneshot"
      ? Effect.map(requirePrompt("opencode", prompt), (p) => ["opencode", "run", "--", p])
      : Effect.succeed(prompt === undefined ? ["opencode"] : ["opencode", `--prompt=${prompt}`]),
})
