import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * Aider (`aider-chat` on PyPI, flags as documented for 0.8x). `--message` sends one message
 * and exits, `--yes-always` answers its confirmations so a oneshot never blocks. The message
 * is a flag value, so `--message=value` keeps a leading `-` verbatim under argparse.
 * Interactive aider has no flag that sends a first message and stays open (its positional
 * arguments are files to edit), so an interactive prompt is rejected, not dropped.
 */
export const aider = makeProvider({
  id: "aider",
  name: "Aider",
  binary: "aider",
  modes: ["interactive", "oneshot"],
  versionArgs: ["--version"],
  interactivePrompt: false,
  argv: ({ mode, prompt }) =>
    mode === "oneshot"
      ? Effect.map(requirePrompt("aider", prompt), (p) => [
          "aider",
          `--message=${p}`,
          "--yes-always",
        ])
      : Effect.succeed(["aider"]),
})
