import { open, readFile, unlink } from "node:fs/promises"
import { join } from "node:path"

/** The data dir is held by another live server: two writers would corrupt the journal. */
export class DataDirLockedError extends Error {
  readonly _tag = "DataDirLockedError"
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `data dir ${dataDir} is in use by another geppetto server (pid ${pid}, lock ${join(dataDir, LOCK_FILE)}); stop it, or start this one with another --data-dir`,
    )
  }
}

export const LOCK_FILE = "server.lock"

/** Lock files this process holds: a lock naming our own pid but absent here is stale (pid reuse, e.g. pid 1 in a container). */
const held = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the pid exists but belongs to another user; it is alive.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const ownerOf = async (file: string): Promise<number | undefined> => {
  try {
    const pid = Number.parseInt((await readFile(file, "utf8")).trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}

export interface DataDirLock {
  readonly file: string
  /** Removes the lock file if it is still ours. Idempotent. */
  readonly release: () => Promise<void>
}

/**
 * Takes `DATA_DIR/server.lock` with `O_CREAT|O_EXCL` and writes our pid into it. A lock left
 * by a dead process (a `kill -9`, a power cut) is taken over; one held by a live process is
 * refused with `DataDirLockedError`. An empty or unreadable lock (a writer killed between
 * create and write) counts as stale.
 */
export const acquireDataDirLock = async (dataDir: string): Promise<DataDirLock> => {
  const file = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600)
      try {
        await handle.writeFile(`${process.pid}\n`)
      } finally {
        await handle.close()
      }
      held.add(file)
      let released = false
      return {
        file,
        release: async () => {
          if (released) return
          released = true
          held.delete(file)
          if ((await ownerOf(file)) === process.pid) await unlink(file).catch(() => undefined)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    const pid = await ownerOf(file)
    const live = pid !== undefined && (pid === process.pid ? held.has(file) : isAlive(pid))
    if (live) throw new DataDirLockedError(dataDir, pid)
    // Stale: remove and retry the exclusive create; a racing starter loses on O_EXCL.
    await unlink(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e
    })
  }
  throw new Error(`could not take the lock ${file}: it keeps changing hands`)
}
