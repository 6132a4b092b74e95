import { runnerAction } from "./runner-action.js"

export const { usage, run } = runnerAction({
  command: "pause",
  description: "Freezes the runner (SIGSTOP to its process group) until `geppetto resume`.",
  action: "pause",
  done: "paused",
})
