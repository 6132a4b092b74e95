import { runnerAction } from "./runner-action.js"

export const { usage, run } = runnerAction({
  command: "resume",
  description: "Lets a paused runner go on (SIGCONT).",
  action: "resume",
  done: "resumed",
})
