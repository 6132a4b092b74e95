import { runnerAction } from "./runner-action.js"

export const { usage, run } = runnerAction({
  command: "stop",
  description:
    "Terminates the runner: Ctrl-C, then SIGTERM, then its tmux session is killed, each after a\ngrace period. It stays listed, with its logs, until `geppetto rm`.",
  action: "terminate",
  done: "stopped",
})
