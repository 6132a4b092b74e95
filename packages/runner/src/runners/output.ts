import { join } from "node:path"
import { Deferred, Effect, type Scope, Stream } from "effect"
import { AiRunnerError, type LogStoreError, NotFoundError } from "../domain/errors.js"
import type { PaneId } from "../domain/ids.js"
import { followLogChunks, type LogFollower, type LogSubscription } from "../logs/log-feed.js"
import type { LogBounds, LogChunk } from "../logs/log-store.js"
import type { RunnerSnapshot } from "../tmux/pane-snapshot.js"
import type { RegistryContext } from "./registry-context.js"
import { type RunnerEntry, readState } from "./runner-entry.js"

/** What a finished or blank pane redraws to: normal screen, soft reset, cleared. */
const BLANK_SCREEN = "\x1b[?1049l\x1b[!p\x1b[H\x1b[2J\x1b[3J"

/** Reading a runner's output: the log, following it, its bounds, and snapshots for viewers. */
export const makeOutput = (ctx: RegistryContext) => {
  const { logs, entryOf } = ctx

  /** The log folder of one pane of a runner (adopted sessions log each pane apart). */
  const paneLogDir = (entry: RunnerEntry, paneId: PaneId | undefined) =>
    paneId === undefined || paneId === entry.session?.paneId
      ? entry.logDir
      : join(entry.logDir, "panes", paneId.slice(1))

  const output = (id: string, from: number, paneId?: PaneId) =>
    Stream.unwrap(
      Effect.map(entryOf(id), (entry): Stream.Stream<LogChunk, LogStoreError> => {
        if (entry.handle !== undefined) return entry.handle.output(from, paneId)
        return logs.tail(paneLogDir(entry, paneId), from)
      }),
    )

  const follow = (
    id: string,
    from: number,
    follower: LogFollower,
    paneId?: PaneId,
  ): Effect.Effect<LogSubscription, NotFoundError | LogStoreError, Scope.Scope> =>
    Effect.flatMap(entryOf(id), (entry) =>
      entry.handle !== undefined
        ? entry.handle.followOutput(from, follower, paneId)
        : followLogChunks(paneLogDir(entry, paneId), from, follower),
    )

  const logBounds = (
    id: string,
    paneId?: PaneId,
  ): Effect.Effect<LogBounds, NotFoundError | LogStoreError> =>
    Effect.flatMap(entryOf(id), (entry) => logs.bounds(paneLogDir(entry, paneId)))

  /**
   * A live pane's picture comes from the monitor (see `ProcessMonitorHandle.snapshot`); a
   * finished runner is replayed from the oldest kept byte.
   */
  const takeSnapshot = (
    id: string,
    paneId?: PaneId,
  ): Effect.Effect<RunnerSnapshot, NotFoundError | AiRunnerError> =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      const state = yield* readState(entry)
      const session = entry.session
      if (paneId !== undefined && !session?.panes.some((p) => p.id === paneId)) {
        return yield* new NotFoundError({
          resource: "pane",
          id: paneId,
          message: `runner ${id} has no pane ${paneId}`,
        })
      }
      const handle = entry.handle
      if (!state.live || handle === undefined) {
        const start = yield* logs.bounds(paneLogDir(entry, paneId)).pipe(
          Effect.map((b) => b.start),
          Effect.orElseSucceed(() => 0),
        )
        return {
          offset: start,
          cols: state.cols ?? 120,
          rows: state.rows ?? 32,
          data: BLANK_SCREEN,
          exact: true,
        }
      }
      return yield* handle.snapshot(paneId).pipe(
        Effect.mapError(
          (e) =>
            new AiRunnerError({
              runnerId: id,
              provider: state.provider,
              operation: "snapshot",
              message: e.message,
            }),
        ),
      )
    })

  /** Viewers asking at the same time (20 skipped forward by one flood) share one capture. */
  const inFlight = new Map<
    string,
    Deferred.Deferred<RunnerSnapshot, NotFoundError | AiRunnerError>
  >()
  const snapshot = (id: string, paneId?: PaneId) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const key = `${id}/${paneId ?? ""}`
        const pending = inFlight.get(key)
        if (pending !== undefined) return yield* restore(Deferred.await(pending))
        const deferred = yield* Deferred.make<RunnerSnapshot, NotFoundError | AiRunnerError>()
        inFlight.set(key, deferred)
        // The capture finishes for the others even if the viewer that started it leaves.
        const exit = yield* Effect.exit(takeSnapshot(id, paneId))
        inFlight.delete(key)
        yield* Deferred.done(deferred, exit)
        return yield* restore(exit)
      }),
    )

  return { output, follow, logBounds, snapshot } as const
}
