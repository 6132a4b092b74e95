import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * Cursor Agent CLI (`cursor-agent`, installed by Cursor's script, not npm; flags as
 * documented in 2025, not run here). `cursor-agent [prompt]` starts the TUI with a first
 * message; `-p`/`--print` runs once. Unsure: that its parser honours `--` as end of options
 * (it is commander-style like Claude Code's); the prompt follows `--` on that assumption. If
 * it is commander, a prompt that is exactly one of its command names (`login`, `status`, …)
 * runs that command, as Claude Code's does (see claude.ts); not guarded here, untested.
 */
export const cursorAgent = makeProvider({
  id: "cursor-agent",
  name: "Cursor Agent",
  binary: "cursor-agent",
  modes: ["interactive", "oneshot"],
  versionArgs: ["--version"],
  interactivePrompt: true,
  argv: ({ mode, prompt }) =>
    mode === "oneshot"
      ? Effect.map(requirePrompt("cursor-agent", prompt), (p) => ["cursor-agent", "-p", "--", p])
      : Effect.succeed(prompt === undefined ? ["cursor-agent"] : ["cursor-agent", "--", prompt]),
})
