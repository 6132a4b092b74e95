import { descendantPids } from "./process-tree.js"

/**
 * Pause and resume of a pane's command. The pane's own process is our wrapper (see
 * `paneWrapperScript`): tmux would answer its SIGSTOP with SIGCONT, so every process under it is
 * signalled one by one instead (a group signal would reach the wrapper too).
 * Returns how many processes were reached; a process that ended meanwhile is not an error.
 */
export const signalCommandTree = async (
  panePid: number,
  signal: "SIGSTOP" | "SIGCONT",
): Promise<number> => {
  const pids = await descendantPids(panePid)
  let reached = 0
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
      reached++
    } catch {
      // ESRCH: gone meanwhile.
    }
  }
  return reached
}
