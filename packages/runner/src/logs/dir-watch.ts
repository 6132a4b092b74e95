import { type FSWatcher, readdirSync, statSync, watch } from "node:fs"
import { join } from "node:path"
import { Deferred, Effect, Exit, FiberId, type Scope } from "effect"

/**
 * Change signal for one folder: a counter bumped on every change in it (a segment grew, a
 * file appeared or was renamed). Readers note the counter, read to the end, and wait for it
 * to move — so a write between the read and the wait is never missed, and a quiet folder
 * costs no timer and no read.
 */
export interface DirWatch {
  readonly version: () => number
  /** How changes are seen now: inotify, or polling through a flood (see `BURST_EVENTS`). */
  readonly mode: () => "inotify" | "polling"
  readonly awaitChange: (since: number) => Effect.Effect<void>
  /** Calls `listener` with the file name of every change until the returned function is called. */
  readonly onChange: (listener: (filename: string) => void) => () => void
}

/**
 * A flood makes one inotify event per write of the log writer (measured: ~8,000 for a 40 MB
 * flood, ~35 µs of our CPU each, taken from the 2 cores tmux needs). So a folder whose events
 * come faster than BURST_GAP_MS for BURST_EVENTS in a row drops inotify and is polled every
 * POLL_MS (one readdir and one stat); after QUIET_POLLS polls without change, inotify is back.
 */
const BURST_EVENTS = 32
const BURST_GAP_MS = 2
const POLL_MS = 4
const QUIET_POLLS = 25

interface Shared {
  readonly dir: string
  watcher: FSWatcher | undefined
  poller: ReturnType<typeof setInterval> | undefined
  version: number
  /** Made only when someone waits: a flood bumps thousands of times with nobody waiting. */
  signal: Deferred.Deferred<void> | undefined
  refs: number
  readonly listeners: Set<(filename: string) => void>
  lastEventAt: number
  fastEvents: number
  /** While polling: the names seen, the newest segment and its size, polls without change. */
  names: Set<string>
  newest: string
  newestSize: number
  /** While polling: what each other file (`exit`, `size`, `hooks.jsonl`, ...) looked like. */
  others: Map<string, string>
  quietPolls: number
}

const shared = new Map<string, Shared>()

const bump = (entry: Shared, filename = "") => {
  entry.version++
  for (const listener of entry.listeners) listener(filename)
  const fired = entry.signal
  if (fired === undefined) return
  entry.signal = undefined
  Deferred.unsafeDone(fired, Exit.void)
}

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size
  } catch {
    return -1
  }
}

/** What a file looks like for "did it change": replaced (inode), grown, or written to. */
const lookOf = (path: string): string => {
  try {
    const info = statSync(path)
    return `${info.ino}:${info.size}:${info.mtimeMs}`
  } catch {
    return "gone"
  }
}

/**
 * One look while polling: new names are reported by name, growth of the newest segment too,
 * and any change of the few other files (a resize's `size`, an agent hook's line in
 * `hooks.jsonl`): a flood of output must not hide them.
 */
const poll = (entry: Shared): boolean => {
  let names: string[]
  try {
    names = readdirSync(entry.dir)
  } catch {
    bump(entry) // the folder went away: wake readers so they notice
    return true
  }
  let changed = false
  for (const name of names.sort()) {
    const segment = name.startsWith("out-")
    if (!segment) {
      const look = lookOf(join(entry.dir, name))
      const before = entry.others.get(name)
      entry.others.set(name, look)
      if (before !== undefined && before !== look) {
        changed = true
        bump(entry, name)
      }
    }
    if (entry.names.has(name)) continue
    entry.names.add(name)
    if (segment && name > entry.newest) {
      entry.newest = name
      entry.newestSize = -1
    }
    changed = true
    bump(entry, name)
  }
  if (entry.newest !== "") {
    const size = sizeOf(join(entry.dir, entry.newest))
    if (size !== entry.newestSize) {
      entry.newestSize = size
      changed = true
      bump(entry, entry.newest)
    }
  }
  return changed
}

const startWatching = (entry: Shared) => {
  const watcher = watch(entry.dir, { persistent: false })
  watcher.on("change", (_event, filename) => onEvent(entry, String(filename ?? "")))
  // The folder went away (runner removed): wake readers so they notice.
  watcher.on("error", () => bump(entry))
  entry.watcher = watcher
}

const startPolling = (entry: Shared) => {
  entry.watcher?.close()
  entry.watcher = undefined
  entry.names = new Set()
  entry.newest = ""
  entry.newestSize = -1
  entry.others = new Map()
  entry.quietPolls = 0
  // The first look reports every existing name once: harmless for listeners, which react
  // only to names they care about and to growth.
  poll(entry)
  entry.poller = setInterval(() => {
    if (poll(entry)) {
      entry.quietPolls = 0
      return
    }
    if (++entry.quietPolls < QUIET_POLLS) return
    clearInterval(entry.poller)
    entry.poller = undefined
    entry.fastEvents = 0
    try {
      startWatching(entry)
    } catch {
      bump(entry) // folder gone
      return
    }
    // A change between the last look and the new watch would otherwise go unseen.
    poll(entry)
  }, POLL_MS)
  entry.poller.unref()
}

const onEvent = (entry: Shared, filename: string) => {
  const now = performance.now()
  entry.fastEvents = now - entry.lastEventAt < BURST_GAP_MS ? entry.fastEvents + 1 : 0
  entry.lastEventAt = now
  bump(entry, filename)
  if (entry.fastEvents >= BURST_EVENTS) startPolling(entry)
}

/** One watch per folder, shared by every reader of it and closed with the last one. */
export const watchDir = (dir: string): Effect.Effect<DirWatch, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        let entry = shared.get(dir)
        if (entry === undefined) {
          const created: Shared = {
            dir,
            watcher: undefined,
            poller: undefined,
            version: 0,
            signal: undefined,
            refs: 0,
            listeners: new Set(),
            lastEventAt: 0,
            fastEvents: 0,
            names: new Set(),
            newest: "",
            newestSize: -1,
            others: new Map(),
            quietPolls: 0,
          }
          startWatching(created)
          shared.set(dir, created)
          entry = created
        }
        entry.refs++
        return entry
      },
      catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause))),
    }),
    (entry) =>
      Effect.sync(() => {
        entry.refs--
        if (entry.refs === 0) {
          entry.watcher?.close()
          if (entry.poller !== undefined) clearInterval(entry.poller)
          shared.delete(dir)
          bump(entry)
        }
      }),
  ).pipe(
    Effect.map(
      (entry): DirWatch => ({
        version: () => entry.version,
        mode: () => (entry.poller === undefined ? "inotify" : "polling"),
        awaitChange: (since) =>
          Effect.suspend(() => {
            if (entry.version !== since) return Effect.void
            if (entry.signal === undefined) entry.signal = Deferred.unsafeMake<void>(FiberId.none)
            return Deferred.await(entry.signal)
          }),
        onChange: (listener) => {
          entry.listeners.add(listener)
          return () => entry.listeners.delete(listener)
        },
      }),
    ),
  )
