import { type FSWatcher, watch } from "node:fs"
import { Deferred, Effect, Exit, FiberId, type Scope } from "effect"

/**
 * Change signal for one folder: a counter bumped on every inotify event in it (a segment
 * grew, a file appeared or was renamed). Readers note the counter, read to the end, and
 * wait for it to move — so a write between the read and the wait is never missed, and a
 * quiet folder costs no timer and no read.
 */
export interface DirWatch {
  readonly version: () => number
  readonly awaitChange: (since: number) => Effect.Effect<void>
  /** Calls `listener` with the file name of every change until the returned function is called. */
  readonly onChange: (listener: (filename: string) => void) => () => void
}

interface Shared {
  readonly watcher: FSWatcher
  version: number
  /** Made only when someone waits: a flood bumps thousands of times with nobody waiting. */
  signal: Deferred.Deferred<void> | undefined
  refs: number
  readonly listeners: Set<(filename: string) => void>
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

/** One `fs.watch` per folder, shared by every reader of it and closed with the last one. */
export const watchDir = (dir: string): Effect.Effect<DirWatch, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        let entry = shared.get(dir)
        if (entry === undefined) {
          const created: Shared = {
            watcher: watch(dir, { persistent: false }),
            version: 0,
            signal: undefined,
            refs: 0,
            listeners: new Set(),
          }
          created.watcher.on("change", (_event, filename) => bump(created, String(filename ?? "")))
          // The folder went away (runner removed): wake readers so they notice.
          created.watcher.on("error", () => bump(created))
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
          entry.watcher.close()
          shared.delete(dir)
          bump(entry)
        }
      }),
  ).pipe(
    Effect.map(
      (entry): DirWatch => ({
        version: () => entry.version,
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
