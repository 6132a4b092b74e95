import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * Claude Code (`@anthropic-ai/claude-code`, flags as documented for 2.x; npm had 2.1.331).
 * `claude [prompt]` starts the TUI with the prompt as its first message; `-p`/`--print`
 * prints one answer and exits. Its option parser (commander) ends options at `--`, so the
 * prompt follows `--` and a leading `-` in it is never read as a flag.
 */
export const claude = makeProvider({
  id: "claude",
  name: "Claude Code",
  binary: "claude",
  modes: ["interactive", "oneshot"],
  versionArgs: ["--version"],
  interactivePrompt: true,
  argv: ({ mode, prompt }) =>
    mode === "oneshot"
      ? Effect.map(requirePrompt("claude", prompt), (p) => ["claude", "-p", "--", p])
      : Effect.succeed(prompt === undefined ? ["claude"] : ["claude", "--", prompt]),
})
