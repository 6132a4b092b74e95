import { existsSync, readdirSync, readFileSync } from "node:fs"
import { constants as osConstants } from "node:os"
import { Clock, Duration, Effect } from "effect"
import { procStatFields, scanProcesses } from "./proc-scan.js"

/** `SIGTERM` for 15; `SIGn` for a number this platform does not name. */
export const signalName = (n: number | null): string | null => {
  if (n === null) return null
  const entry = Object.entries(osConstants.signals).find(([, v]) => v === n)
  return entry?.[0] ?? `SIG${n}`
}

export interface ProcEntry {
  readonly pid: number
  readonly ppid: number
  readonly pgrp: number
  /** One letter: R running, S sleeping, Z zombie, ... */
  readonly state: string
}

/** The process table, from /proc (see `scanProcesses`). */
export const readProcTable = async (): Promise<ReadonlyArray<ProcEntry>> => {
  const table: ProcEntry[] = []
  await scanProcesses((pid) => {
    const fields = procStatFields(pid)
    const state = fields[0] ?? ""
    if (state !== "")
      table.push({ pid: Number(pid), ppid: Number(fields[1]), pgrp: Number(fields[2]), state })
  })
  return table
}

/** Whether this kernel lists a task's children in /proc (CONFIG_PROC_CHILDREN). */
const childrenFiles = existsSync(`/proc/self/task/${process.pid}/children`)

/**
 * The children of `pid` from `/proc/PID/task/TID/children`, every thread's: a few reads, where
 * the whole table is one per process (400 with 100 runners, and pause and terminate each read
 * it). Empty when `pid` is gone; `undefined` when this kernel has no such files.
 */
const childrenFromProc = (pid: number): ReadonlyArray<number> | undefined => {
  if (!childrenFiles) return undefined
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  const children: number[] = []
  for (const task of tasks) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, "latin1").split(" ")) {
        if (child !== "") children.push(Number(child))
      }
    } catch {
      // The thread ended meanwhile.
    }
  }
  return children
}

/** `children(pid)` over a process table read once: by parent links. */
export const childrenInTable =
  (table: ReadonlyArray<ProcEntry>) =>
  (pid: number): ReadonlyArray<number> =>
    table.filter((p) => p.ppid === pid).map((p) => p.pid)

/** Every process below `root` (children, grandchildren, ...), as `children` gives them. */
export const walkDescendants = (
  root: number,
  children: (pid: number) => ReadonlyArray<number>,
): ReadonlyArray<number> => {
  const found: number[] = []
  const frontier = [root]
  while (frontier.length > 0) {
    const parent = frontier.pop() ?? root
    for (const child of children(parent)) {
      if (!found.includes(child)) {
        found.push(child)
        frontier.push(child)
      }
    }
  }
  return found
}

/** The direct children of `pid` (none when it is gone). */
export const childPids = async (pid: number): Promise<ReadonlyArray<number>> =>
  childrenFromProc(pid) ?? childrenInTable(await readProcTable())(pid)

/**
 * Every live descendant of `root` (children, grandchildren, ...). Used by `terminate` to
 * leave no process behind, even one that moved to its own process group, and by pause.
 */
export const descendantPids = async (root: number): Promise<ReadonlyArray<number>> =>
  childrenFiles
    ? walkDescendants(root, (pid) => childrenFromProc(pid) ?? [])
    : walkDescendants(root, childrenInTable(await readProcTable()))

/** Sends `signal`, ignoring a process that is already gone. */
export const signalQuietly = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** SIGKILL cannot be refused, but a process in uninterruptible sleep takes a while to go. */
const KILL_WAIT = Duration.seconds(5)

/**
 * Kills what is left of group `pgid` and of `pids`, and waits (at most 5 s) until none runs
 * (zombies do not count): a SIGKILLed process takes a moment to die. A group id is not
 * reused while the group has members, but once the leader has exited and the group emptied,
 * the number may come back as another process, maybe another group's leader (tmux panes
 * are): a running process with that pid means the group is no longer ours.
 */
export const killLeftovers = (
  pgid: number,
  pids: ReadonlyArray<number>,
  leaderExited: Effect.Effect<boolean>,
) =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(KILL_WAIT)
    while ((yield* Clock.currentTimeMillis) < deadline) {
      const running = (yield* Effect.promise(readProcTable)).filter((p) => p.state !== "Z")
      const groupIsOurs = !(yield* leaderExited) || !running.some((p) => p.pid === pgid)
      const left = running.filter((p) => (groupIsOurs && p.pgrp === pgid) || pids.includes(p.pid))
      if (left.length === 0) return
      for (const p of left) signalQuietly(p.pid, "SIGKILL")
      yield* Effect.sleep("20 millis")
    }
  })

/** The state letter of `pid` (`Z` for a zombie), or `undefined` once it is gone. */
export const processState = (pid: number): string | undefined => {
  try {
    return procStatFields(pid)[0]
  } catch {
    return undefined
  }
}

/** True while `pid` exists and is not a zombie. */
export const isRunning = (pid: number): boolean => {
  const state = processState(pid)
  return state !== undefined && state !== "Z"
}
