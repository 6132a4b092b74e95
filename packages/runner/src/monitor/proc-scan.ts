import { readdirSync, readFileSync } from "node:fs"

/**
 * The fields of `/proc/PID/stat` after the command name, which may hold spaces and
 * parentheses: `[state, ppid, pgrp, ...]`. Throws when the process is gone.
 */
export const procStatFields = (pid: string | number): ReadonlyArray<string> => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/** The NUL-separated argv of `pid` (empty for a zombie). Throws when the process is gone. */
export const procCommandLine = (pid: string | number): string =>
  readFileSync(`/proc/${pid}/cmdline`, "utf8")

/** Processes visited per turn of the event loop. */
const SLICE = 64

/**
 * Calls `visit` with the pid of every process in /proc. The reads `visit` makes are plain
 * synchronous ones, a slice of processes at a time with a turn of the event loop between
 * slices: with ~400 processes (100 runners) thread-pool reads took 24 ms and four syscalls a
 * file; slices take 7 ms and never hold the loop for more than about one. A process that
 * ends meanwhile (its files gone: `visit` throws) is skipped.
 */
export const scanProcesses = async (visit: (pid: string) => void): Promise<void> => {
  let pids: string[]
  try {
    pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e))
  } catch {
    return
  }
  for (let i = 0; i < pids.length; i += SLICE) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve))
    for (const pid of pids.slice(i, i + SLICE)) {
      try {
        visit(pid)
      } catch {
        // ended meanwhile
      }
    }
  }
}
