import { readdir, readFile } from "node:fs/promises"

/**
 * Every live descendant of `root` (children, grandchildren, ...), read from /proc. Used by
 * `terminate` to leave no process behind, even one that moved to its own process group.
 */
export const descendantPids = async (root: number): Promise<ReadonlyArray<number>> => {
  const parentOf = new Map<number, number>()
  const entries = await readdir("/proc").catch(() => [] as string[])
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const stat = await readFile(`/proc/${e}/stat`, "utf8").catch(() => "")
        // The command name may hold spaces and parentheses: fields resume after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
        const ppid = Number(fields[1])
        if (Number.isFinite(ppid)) parentOf.set(Number(e), ppid)
      }),
  )
  const found: number[] = []
  const frontier = [root]
  while (frontier.length > 0) {
    const parent = frontier.pop()
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid)
        frontier.push(pid)
      }
    }
  }
  return found
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Sends `signal`, ignoring a process that is already gone. */
export const signalQuietly = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}
