import {
  type AuditEntry,
  type AuditFilter,
  type AuditInput,
  AuditLog,
  type AuditQuery,
  matchesFilter,
} from "@geppetto/runner"
import { Chunk, Deferred, Effect, Fiber, type ManagedRuntime, Queue } from "effect"

/**
 * The audit trail as the HTTP layer uses it: plain promises and callbacks over the runner
 * domain's `AuditLog`, so that routes and hooks outside Effect record without ceremony.
 */
export interface AuditTrail {
  /**
   * Records one entry; resolves once it is written (or its write failed: `AuditLog` logs and
   * counts that, and never fails the caller). Routes await it before answering, so that what
   * a client was told happened is in the trail.
   */
  readonly record: (input: AuditInput) => Promise<void>
  /** Newest first; bad lines are skipped (see `AuditLog.query`). */
  readonly query: (query: AuditQuery) => Promise<ReadonlyArray<AuditEntry>>
  /**
   * The newest `limit` entries matching `query` oldest first, then each new matching one, to
   * `onEntry`, with none missed or repeated in between. Resolves once the backlog has been
   * handed over, with a function that stops following.
   */
  readonly follow: (query: AuditQuery, onEntry: (entry: AuditEntry) => void) => Promise<() => void>
}

/**
 * Entries of `live` (recorded after the subscription, oldest first) that `backlog` (newest
 * first, queried after the subscription) does not already hold. The overlap, if any, is the
 * first k of `live` and the newest k of the backlog in the same order: the largest such k is
 * dropped. Two entries equal in every field are indistinguishable, so a repeat of an identical
 * entry within one millisecond may be taken for the overlap: harmless for a trail's reader.
 */
export const afterBacklog = (
  backlog: ReadonlyArray<AuditEntry>,
  live: ReadonlyArray<AuditEntry>,
): ReadonlyArray<AuditEntry> => {
  const key = (e: AuditEntry) => JSON.stringify(e)
  const newestFirst = backlog.map(key)
  for (let k = Math.min(backlog.length, live.length); k > 0; k--) {
    let same = true
    for (let i = 0; i < k && same; i++) {
      // live[i] against the backlog's (k - 1 - i)th newest.
      same = key(live[i] as AuditEntry) === newestFirst[k - 1 - i]
    }
    if (same) return live.slice(k)
  }
  return live
}

const filterOf = (query: AuditQuery): AuditFilter => ({
  ...(query.user === undefined ? {} : { user: query.user }),
  ...(query.runnerId === undefined ? {} : { runnerId: query.runnerId }),
  ...(query.action === undefined ? {} : { action: query.action }),
  ...(query.since === undefined ? {} : { since: query.since }),
})

/** The trail of the runner domain's runtime. */
export const auditTrailOf = (
  runtime: ManagedRuntime.ManagedRuntime<AuditLog, unknown>,
): AuditTrail => ({
  // `AuditLog.record` never fails; the catch is for a runtime already disposed (shutdown).
  record: (input) =>
    runtime.runPromise(Effect.flatMap(AuditLog, (log) => log.record(input))).catch(() => undefined),
  query: (query) =>
    runtime.runPromise(
      Effect.flatMap(AuditLog, (log) => log.query(query)).pipe(Effect.map((r) => r.entries)),
    ),
  follow: async (query, onEntry) => {
    const filter = filterOf(query)
    const started = await runtime.runPromise(Deferred.make<void, unknown>())
    const fiber = runtime.runFork(
      Effect.gen(function* () {
        const log = yield* AuditLog
        // Subscribed before the backlog is read: what is recorded meanwhile is queued.
        const live = yield* log.subscribe
        const backlog = yield* log.query(query)
        const early = Chunk.toReadonlyArray(yield* Queue.takeAll(live)).filter((e) =>
          matchesFilter(e, filter),
        )
        for (const entry of [...backlog.entries].reverse()) onEntry(entry)
        for (const entry of afterBacklog(backlog.entries, [...early])) onEntry(entry)
        yield* Deferred.succeed(started, undefined)
        for (;;) {
          const entry = yield* Queue.take(live)
          if (matchesFilter(entry, filter)) onEntry(entry)
        }
      }).pipe(
        Effect.scoped,
        Effect.catchAll((e) => Deferred.fail(started, e)),
      ),
    )
    await runtime.runPromise(Deferred.await(started))
    return () => {
      runtime.runFork(Fiber.interrupt(fiber))
    }
  },
})

/** For an app without the runner domain (tests of auth alone): records nowhere. */
export const noAuditTrail: AuditTrail = {
  record: async () => undefined,
  query: async () => [],
  follow: async () => () => undefined,
}
