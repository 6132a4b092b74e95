import type { ProcessEvent as WireProcessEvent } from "@geppetto/protocol"
import { Deferred, Duration, Effect, Exit, Scope } from "effect"
import { AiRunnerError, NotFoundError, type ProcessMonitorError } from "../domain/errors.js"
import type { PaneId } from "../domain/ids.js"
import { validateSize } from "../domain/validate.js"
import { dismissBudgetNotice } from "./budget-notice.js"
import type { RegistryContext } from "./registry-context.js"
import { type RunnerEntry, readState, setState } from "./runner-entry.js"
import { applyExit, type RunnerState, type StopCause } from "./runner-state.js"
import type { WorkspaceOps } from "./workspace.js"

/** How long a stop waits for the runner to end before it is recorded as killed. */
const STOP_WAIT = Duration.seconds(10)

const runnerError =
  (entry: RunnerEntry, provider: string, operation: string) => (e: { readonly message: string }) =>
    new AiRunnerError({
      runnerId: entry.id,
      provider,
      operation,
      message: e.message,
    })

/**
 * Ending and steering live runners: finish (the one place a runner becomes finished), stop
 * (terminate, `maxDurationMs`), pause, resume, input, resize and removal.
 */
export const makeControl = (ctx: RegistryContext, workspace: WorkspaceOps) => {
  const { update, persist, entryOf, liveEntryOf, detailOf } = ctx

  /** Records the end of a live runner, ends its session (ours) and stops watching it. */
  const finish = (
    entry: RunnerEntry,
    exit: { exitCode: number | null; signal: string | null },
    events: (now: number) => ReadonlyArray<WireProcessEvent> = () => [],
  ) =>
    Effect.gen(function* () {
      if (!(yield* readState(entry)).live) return
      yield* update(entry, (s, now) => applyExit(s, exit, now), events)
      yield* persist(entry)
      const { scope, handle } = entry
      entry.scope = undefined
      entry.handle = undefined
      entry.session = undefined
      const state = yield* readState(entry)
      // Our session has nothing left to show that the log lacks; left with its dead pane it
      // would be rediscovered after a restart. Ended before the runner counts as done, so a
      // caller that removes it at once leaves no session behind. An adopted session is the
      // user's: left alone.
      if (handle !== undefined && !state.adopted) yield* handle.closeSession
      yield* Deferred.succeed(entry.done, state)
      // What it changed, counted once more now that it ended (then journaled): after `done`,
      // and on its own fiber, so a slow repository never holds the end or a shutdown.
      yield* Effect.forkIn(
        workspace.refreshCounts(entry).pipe(Effect.zipRight(persist(entry))),
        ctx.registryScope,
      )
      // Stop watching; the log stays readable from its folder. Forked into the registry's
      // scope: this may run on one of the fibers that `scope` owns.
      if (scope !== undefined)
        yield* Effect.forkIn(Scope.close(scope, Exit.void), ctx.registryScope)
    }).pipe(Effect.uninterruptible)

  const resumeEntry = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const handle = entry.handle
      const state = yield* readState(entry)
      if (handle === undefined) return
      yield* handle.resume.pipe(Effect.mapError(runnerError(entry, state.provider, "resume")))
      yield* update(entry, (s) => ({ ...s, paused: false }))
      yield* persist(entry)
    })

  /** Stops a live runner; `cause` says why in its final status. Waits until it ended. */
  const stop = (entry: RunnerEntry, cause: StopCause) =>
    Effect.gen(function* () {
      const handle = entry.handle
      const state = yield* readState(entry)
      if (!state.live || handle === undefined) return
      if (state.stopCause === undefined) {
        yield* setState(entry, (s) => (s.stopCause === undefined ? { ...s, stopCause: cause } : s))
      }
      // A paused process cannot act on C-c: let it run so it can stop cleanly.
      if (state.paused) yield* resumeEntry(entry)
      yield* handle.terminate.pipe(
        Effect.catchAll((e) => Effect.logWarning(`terminate ${entry.id}: ${e.message}`)),
      )
      yield* Deferred.await(entry.done).pipe(
        Effect.timeoutTo({
          duration: STOP_WAIT,
          onSuccess: () => Effect.void,
          onTimeout: () => finish(entry, { exitCode: null, signal: "SIGKILL" }),
        }),
        Effect.flatten,
      )
    })

  const pauseRunner = (id: string) =>
    Effect.gen(function* () {
      const { entry, handle, state } = yield* liveEntryOf(id, "pause")
      if (state.paused) return yield* detailOf(entry)
      yield* handle.pause.pipe(Effect.mapError(runnerError(entry, state.provider, "pause")))
      yield* update(entry, (s) => ({ ...s, paused: true }))
      yield* persist(entry)
      return yield* detailOf(entry)
    }).pipe(Effect.withSpan("AiRunner.pause"))

  const resumeRunner = (id: string) =>
    Effect.gen(function* () {
      const { entry, state } = yield* liveEntryOf(id, "resume")
      if (state.paused) yield* resumeEntry(entry)
      return yield* detailOf(entry)
    }).pipe(Effect.withSpan("AiRunner.resume"))

  const terminateRunner = (id: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      yield* stop(entry, "terminated")
      return yield* detailOf(entry)
    }).pipe(Effect.withSpan("AiRunner.terminate"))

  /** A person typed: an open budget notice has been seen (see `RunnerState.budgetNotice`). */
  const seen = (entry: RunnerEntry, state: RunnerState) =>
    state.budgetNotice === undefined
      ? Effect.void
      : Effect.zipRight(update(entry, dismissBudgetNotice), persist(entry))

  /** Exact bytes as keys into the runner's main pane, or into `paneId` of its session. */
  const write = (id: string, data: Uint8Array, paneId?: PaneId) =>
    Effect.flatMap(
      liveEntryOf(id, "write input"),
      ({ entry, handle, state }): Effect.Effect<void, ProcessMonitorError | NotFoundError> => {
        if (paneId === undefined || paneId === entry.session?.paneId)
          return Effect.zipRight(handle.write(data), seen(entry, state))
        if (!entry.session?.panes.some((p) => p.id === paneId)) {
          return Effect.fail(
            new NotFoundError({
              resource: "pane",
              id: paneId,
              message: `runner ${id} has no pane ${paneId}`,
            }),
          )
        }
        return Effect.zipRight(handle.write(data, paneId), seen(entry, state))
      },
    )

  const resize = (id: string, cols: number, rows: number) =>
    Effect.gen(function* () {
      const { entry, handle, state } = yield* liveEntryOf(id, "resize")
      yield* validateSize(cols, rows)
      yield* handle
        .resize(cols, rows)
        .pipe(Effect.mapError(runnerError(entry, state.provider, "resize")))
      yield* update(entry, (st) => ({ ...st, cols, rows }))
      // Viewers hear of it from the pane sizes the monitor reports, like any other resize.
    })

  const removeRunner = (id: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      yield* stop(entry, "terminated")
      entry.removed = true
      ctx.entries.delete(id)
      const scope = entry.scope
      entry.scope = undefined
      if (scope !== undefined) yield* Scope.close(scope, Exit.void)
      yield* workspace.removeFolder((yield* readState(entry)).workspace)
      yield* ctx.logs
        .remove(entry.logDir)
        .pipe(Effect.catchAll((e) => Effect.logWarning(`remove ${id}: ${e.message}`)))
      yield* ctx.persistence.persistRemoved(id)
      yield* ctx.feed.emit({ type: "removed", runnerId: id })
    }).pipe(Effect.withSpan("AiRunner.remove"))

  return {
    finish,
    stop,
    pauseRunner,
    resumeRunner,
    terminateRunner,
    write,
    resize,
    removeRunner,
  } as const
}

export type Control = ReturnType<typeof makeControl>
