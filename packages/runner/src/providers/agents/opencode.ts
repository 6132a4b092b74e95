import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * OpenCode (`opencode-ai`, flags as documented for 1.x; npm had 1.18.33). The TUI takes
 * `--prompt` (a flag value, so `--prompt=value` keeps a leading `-` verbatim under yargs);
 * `opencode run [message..]` runs once. Unsure: that yargs fills `message..` from the words
 * after `--` (yargs' default without `populate--`); the `--` is what stops a leading `-`
 * from being read as a flag.
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
