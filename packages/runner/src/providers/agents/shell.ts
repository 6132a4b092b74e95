import { Effect } from "effect"
import { invalidRequest, makeProvider } from "../provider.js"

/**
 * Any argv: `command` as given, else the user's `$SHELL` (interactive only). It takes no
 * prompt; there is no agent to hand one to. No version probe (`versionArgs` is empty), as
 * a bare shell would wait on stdin.
 */
export const shell = makeProvider({
  id: "shell",
  name: "Shell",
  binary: "sh",
  modes: ["interactive", "oneshot"],
  versionArgs: [],
  interactivePrompt: false,
  takesCommand: true,
  argv: ({ mode, prompt, command, shell }) => {
    if (prompt !== undefined)
      return invalidRequest("prompt", "provider shell takes a command, not a prompt")
    if (command !== undefined) return Effect.succeed(command)
    return mode === "oneshot"
      ? invalidRequest("command", "provider shell needs a command in oneshot mode")
      : Effect.succeed([shell])
  },
})
