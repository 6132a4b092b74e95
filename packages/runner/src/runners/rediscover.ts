import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Exit,
  FiberId,
  Scope,
} from "effect"
import { ProcessId } from "../domain/ids.js"
import type { ListedSession } from "../ports.js"
import type { RegistryContext } from "./registry-context.js"
import { withoutBytes } from "./registry-context.js"
import { decodeRunnerState } from "./runner-codec.js"
import { type RunnerEntry, readState, setState } from "./runner-entry.js"
import { decodeRunnerMeta } from "./runner-meta.js"
import { applyExit, newRunnerState, type RunnerState, toSummary } from "./runner-state.js"
import type { Watch } from "./watch.js"
import type { WorkspaceOps } from "./workspace.js"

/**
 * At start-up, how long a runner that ended while the server was down may take to finish (its
 * log settled and counted) before it is listed anyway. Milliseconds on a quiet machine; 5 s
 * was once too short beside a full test run on 2 cores. Only ended runners wait for it.
 */
const ENDED_AWAY_WAIT = Duration.seconds(15)

/**
 * The runners a server finds when it starts: its journal's, and sessions marked as ours that
 * the journal missed (started just before a crash). Finished ones are listed as they were;
 * live ones are watched again; one that ended while no one watched is finished first.
 */
export const makeRediscovery = (
  ctx: RegistryContext,
  watching: Watch,
  workspace: WorkspaceOps,
  /** See `RunnerConfigShape.reattachAfter`. */
  reattachAfter?: PromiseLike<unknown>,
) => {
  const { monitor, logs, journal, entries } = ctx

  /** A live runner whose session is gone: its exit file says how it ended, if it got to. */
  const finishOffline = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const exit = yield* monitor.recordedExit(ProcessId(entry.id))
      const bounds = yield* logs.bounds(entry.logDir).pipe(Effect.option)
      const at = yield* Clock.currentTimeMillis
      yield* setState(entry, (s) => {
        const lastError =
          exit === undefined
            ? (s.lastError ?? `tmux session ${s.name} ended while the server was down`)
            : s.lastError
        const counted =
          bounds._tag === "Some"
            ? {
                ...s,
                metrics: { ...s.metrics, bytesOut: Math.max(s.metrics.bytesOut, bounds.value.end) },
              }
            : s
        return applyExit(
          { ...counted, ...(lastError !== undefined ? { lastError } : {}) },
          exit ?? { exitCode: null, signal: null },
          at,
        )
      })
      yield* Deferred.succeed(entry.done, yield* readState(entry))
      yield* ctx.persist(entry)
    })

  /** Watches again a runner whose session is still in tmux. */
  const reattach = (entry: RunnerEntry, sessionName: string, ended = false) =>
    Effect.gen(function* () {
      const scope = yield* Scope.fork(ctx.registryScope, ExecutionStrategy.sequential)
      const handle = yield* monitor
        .monitorExisting(sessionName, { processId: ProcessId(entry.id) })
        .pipe(Scope.extend(scope), Effect.either)
      if (Either.isLeft(handle)) {
        yield* Scope.close(scope, Exit.void)
        yield* Effect.logWarning(`rediscover ${entry.id}: ${handle.left.message}`)
        yield* setState(entry, (s) => ({ ...s, lastError: handle.left.message }))
        yield* finishOffline(entry)
        return
      }
      entry.published = withoutBytes(toSummary(yield* readState(entry)))
      yield* watching.watch(entry, handle.right, scope)
      // It ended while we were away: listed as finished from the first list on, once its
      // last bytes are counted (the monitor settles the log first; bounded all the same).
      if (ended) {
        yield* Deferred.await(entry.done).pipe(Effect.timeout(ENDED_AWAY_WAIT), Effect.ignore)
      }
    })

  const journalStates = Effect.gen(function* () {
    const loaded = yield* journal.load.pipe(
      Effect.catchAll((e) =>
        Effect.logWarning(`journal unreadable, starting without history: ${e.message}`).pipe(
          Effect.as({ runners: new Map<string, Record<string, unknown>>() }),
        ),
      ),
    )
    const states: RunnerState[] = []
    for (const [id, data] of loaded.runners) {
      const decoded = decodeRunnerState(data)
      if (Either.isLeft(decoded)) {
        yield* Effect.logWarning(`journal: skipped runner ${id}: ${decoded.left}`)
        continue
      }
      states.push(decoded.right)
    }
    return states
  })

  /** Sessions started just before a crash, before their first journal record. */
  const unjournaled = (byId: ReadonlyMap<string, ListedSession>, known: ReadonlySet<string>) =>
    Effect.gen(function* () {
      const states: RunnerState[] = []
      for (const [id, listing] of byId) {
        if (known.has(id)) continue
        const meta = decodeRunnerMeta(listing.metadata.meta)
        const at = listing.createdAt > 0 ? listing.createdAt : yield* Clock.currentTimeMillis
        states.push(
          newRunnerState({
            id,
            name: meta?.name ?? listing.name,
            provider: listing.metadata.provider ?? "shell",
            mode: meta?.mode ?? "interactive",
            cwd: meta?.cwd ?? "",
            prompt: meta?.prompt,
            accountId: meta?.accountId,
            maxDurationMs: meta?.maxDurationMs,
            adopted: meta?.adopted ?? false,
            workspace: meta?.workspace,
            scheduleId: meta?.scheduleId,
            at: meta?.createdAt ?? at,
          }),
        )
      }
      return states
    })

  const rediscover = Effect.gen(function* () {
    const states = yield* journalStates
    const listings = yield* monitor.listSessions
    const byId = new Map<string, ListedSession>()
    for (const l of listings) if (l.metadata.id !== undefined) byId.set(l.metadata.id, l)
    // Panes tmux already shows dead: their runner ended while we were away, even if the
    // exit hook has not written its file yet.
    const deadPanes = new Set(
      listings
        .flatMap((l) => l.panes.filter((p) => p.dead && p.logDir !== undefined))
        .map((p) => p.logDir),
    )
    states.push(...(yield* unjournaled(byId, new Set(states.map((s) => s.id)))))

    // Listed at once; those still running in tmux are watched again in the background, once
    // `reattachAfter` settles, so the server answers (and lists every runner) before 100 of
    // them are re-attached: their output is in their logs meanwhile, and a call about one waits.
    const running: Array<{ readonly entry: RunnerEntry; readonly sessionName: string }> = []
    yield* Effect.forEach(
      states,
      (state) =>
        Effect.gen(function* () {
          const entry = yield* ctx.newEntry(state)
          entries.set(state.id, entry)
          yield* workspace.checkFolder(entry)
          if (!state.live) return yield* Deferred.succeed(entry.done, state)
          const listing = byId.get(state.id)
          if (listing === undefined) return yield* finishOffline(entry)
          if (
            deadPanes.has(entry.logDir) ||
            (yield* monitor.recordedExit(ProcessId(state.id))) !== undefined
          ) {
            return yield* reattach(entry, listing.name, true)
          }
          entry.attaching = Deferred.unsafeMake<void>(FiberId.none)
          running.push({ entry, sessionName: listing.name })
        }),
      { concurrency: 16, discard: true },
    )
    yield* journal.compact.pipe(
      Effect.catchAll((e) => Effect.logWarning(`journal compaction: ${e.message}`)),
    )
    const gate =
      reattachAfter === undefined
        ? Effect.void
        : Effect.tryPromise(() => Promise.resolve(reattachAfter)).pipe(Effect.ignore)
    yield* Effect.forEach(
      running,
      ({ entry, sessionName }) =>
        reattach(entry, sessionName).pipe(
          // One runner that cannot be watched again must not stop the others.
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`rediscover ${entry.id}: not watched again`, cause),
          ),
          Effect.ensuring(
            Effect.suspend(() => {
              const attaching = entry.attaching
              entry.attaching = undefined
              return attaching === undefined ? Effect.void : Deferred.succeed(attaching, undefined)
            }),
          ),
        ),
      { concurrency: 16, discard: true },
    ).pipe((reattachAll) => Effect.zipRight(gate, reattachAll), Effect.forkIn(ctx.registryScope))
  })

  return { rediscover } as const
}
