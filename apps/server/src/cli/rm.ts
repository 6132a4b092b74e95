import { runnerAction } from "./runner-action.js"

export const { usage, run } = runnerAction({
  command: "rm",
  description: "Forgets the runner and deletes its logs, terminating it first if it still runs.",
  action: "delete",
  done: "removed",
})
