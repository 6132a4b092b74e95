import { readdir, unlink } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Queue, type Scope } from "effect"
import { ProcessMonitorError } from "../domain/errors.js"
import type { PaneId, ProcessId } from "../domain/ids.js"
import type { DirWatch } from "../logs/dir-watch.js"
import { type LogStore, WRITER_EXIT_PREFIX } from "../logs/log-store.js"
import { liveWriters } from "../logs/writer-drain.js"
import type { MonitorCore } from "../monitor/monitor-core.js"
import { signalName } from "../monitor/process-tree.js"
import type { TmuxSessionManager } from "./session-manager.js"

/** Restarts in a row whose writer logged nothing wait 1 s, 2 s, 4 s ... up to this. */
const MAX_BACKOFF_MS = 60_000

/** What `split`'s exit status says (`sh` reports death by signal N as 128 + N). */
const describeStatus = (status: number | undefined): string => {
  if (status === undefined) return "for an unknown reason"
  if (status === 0) return "its input closed"
  if (status > 128 && status < 160) return `killed by ${signalName(status - 128)}`
  return `exit status ${status}: a write failed (disk full, or the folder not writable?)`
}

const markersIn = (dir: string) =>
  Effect.promise(() =>
    readdir(dir).then(
      (names) => names.filter((n) => n.startsWith(WRITER_EXIT_PREFIX)),
      () => [] as string[],
    ),
  )

/**
 * Keeps one pane's log writer running. When `split` ends, the writer command leaves
 * `writer-exit-STATUS` in the folder (see `LogStore.writerCommand`); the folder watch wakes
 * this fiber, nothing polls. If the pane still runs and no writer is left, a new one is piped
 * in at the log's end, so offsets stay one contiguous run, and a `log-gap` event says that
 * output printed meanwhile is missing (how much is unknown: it never reached us). A writer that
 * dies again without logging a byte (a full disk) is restarted with a growing delay, and one
 * error event says so.
 */
export const superviseWriter = (options: {
  readonly processId: ProcessId
  readonly paneId: PaneId
  readonly logDir: string
  readonly watch: DirWatch
  readonly logs: LogStore
  readonly sessions: TmuxSessionManager
  readonly core: MonitorCore
}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { processId, paneId, logDir, watch, logs, sessions, core } = options
    const signal = yield* Queue.sliding<void>(1)
    const stop = watch.onChange((filename) => {
      if (filename.startsWith(WRITER_EXIT_PREFIX)) Queue.unsafeOffer(signal, undefined)
    })
    yield* Effect.addFinalizer(() => Effect.sync(stop))

    /** Log end when we last started a writer; no growth since means it failed at once. */
    let restartedAt: number | undefined
    let failures = 0

    const fail = (message: string) =>
      core.publish({ _tag: "error", error: new ProcessMonitorError({ processId, message }) })

    const check = Effect.gen(function* () {
      const markers = yield* markersIn(logDir)
      if (markers.length === 0) return
      const clear = Effect.promise(() =>
        Promise.all(markers.map((m) => unlink(join(logDir, m)).catch(() => undefined))),
      )
      // The pane ended and its writer with it; or the pane or tmux is gone, which the exit
      // and vanish checks report. Nothing to restart.
      if (yield* core.exited) return
      const pane = yield* sessions.paneState(paneId).pipe(Effect.option)
      if (pane._tag === "None" || pane.value === undefined || pane.value.dead) return
      // The marker of a writer we already replaced.
      if ((yield* Effect.promise(() => liveWriters(logDir))) > 0) return yield* clear
      const statuses = markers.map((m) => Number(m.slice(WRITER_EXIT_PREFIX.length)))
      const status = statuses.find((s) => Number.isInteger(s) && s !== 0) ?? statuses[0]
      yield* clear
      const bounds = yield* logs.bounds(logDir).pipe(Effect.either)
      if (bounds._tag === "Left") {
        return yield* fail(
          `the log writer of ${processId} (pane ${paneId}) stopped (${describeStatus(status)}) and cannot be restarted: ${bounds.left.message}`,
        )
      }
      const end = bounds.right.end
      const progressed = restartedAt === undefined || end > restartedAt
      failures = progressed ? 0 : failures + 1
      if (failures > 0) {
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1))
        if (failures === 1) {
          yield* fail(
            `the log writer of ${processId} (pane ${paneId}) stopped again without logging a byte (${describeStatus(status)}); restarting it with up to ${MAX_BACKOFF_MS / 1000} s between tries, output is not logged meanwhile`,
          )
        }
        yield* Effect.sleep(delay)
        if (yield* core.exited) return
      }
      const started = yield* logs.writerCommand(logDir).pipe(
        Effect.flatMap((command) => sessions.repipePane(paneId, command)),
        Effect.either,
      )
      if (started._tag === "Left") {
        return yield* fail(
          `the log writer of ${processId} (pane ${paneId}) stopped (${describeStatus(status)}) and could not be restarted: ${started.left.message}`,
        )
      }
      restartedAt = end
      if (!progressed) return // the same gap, already reported
      yield* core.publish({
        _tag: "log-gap",
        paneId,
        logOffset: end,
        reason: `the log writer of pane ${paneId} stopped (${describeStatus(status)}) and was restarted at byte ${end}; output printed in between is not in the log, and how much is unknown`,
      })
    })

    // Once now, for a writer that died while we were away; then at every marker.
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(check, Queue.take(signal))))
  })
