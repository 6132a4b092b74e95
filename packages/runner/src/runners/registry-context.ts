import type { ProcessEvent as WireProcessEvent } from "@geppetto/protocol"
import { Clock, Deferred, Duration, Effect, Queue } from "effect"
import { AiRunnerError, NotFoundError } from "../domain/errors.js"
import type { RunnerDetail } from "../domain/runner.js"
import { JournalStore } from "../journal/journal-store.js"
import { LogStore } from "../logs/log-store.js"
import { ProcessMonitorTag } from "../monitor/process-monitor-tag.js"
import type { RunnerSlot } from "../providers/limits.js"
import { Workspaces } from "../workspaces/workspaces.js"
import { budgetShown } from "./budget-notice.js"
import { makeChangeFeed } from "./change-feed.js"
import { makePersistence } from "./persistence.js"
import { makeEntry, modifyState, type RunnerEntry, readState } from "./runner-entry.js"
import { metricsAt, type RunnerState, statusOf, toSummary } from "./runner-state.js"
import { RunnerSettings } from "./settings.js"

/** Byte counts alone are pushed at most this often per runner. */
const BYTES_FLUSH = Duration.seconds(1)

/** A summary without what changes with every chunk of output (pushed at most once a second). */
export const withoutBytes = (s: ReturnType<typeof toSummary>) =>
  JSON.stringify({ ...s, bytesOut: 0, lastLine: undefined })

export const notFound = (id: string) =>
  new NotFoundError({
    resource: "runner",
    id,
    message: `there is no runner ${JSON.stringify(id)}`,
  })

/** The quick answers a runner offers now: its prompt's, and none over a budget notice. */
export const offeredAnswers = (state: RunnerState) =>
  // A budget notice offers no answer, whatever the screen behind it does.
  state.waitingForInput && budgetShown(state) === undefined ? state.answers : undefined

/**
 * What every part of the registry shares: its dependencies, the runners, the change feed and
 * the one way a runner's state changes (`update`). Built once in the registry's scope.
 */
export const makeRegistryContext = Effect.gen(function* () {
  const settings = yield* RunnerSettings
  const monitor = yield* ProcessMonitorTag
  const logs = yield* LogStore
  const journal = yield* JournalStore
  const workspaces = yield* Workspaces
  const registryScope = yield* Effect.scope
  const entries = new Map<string, RunnerEntry>()
  /** Starts in flight: counted by limits and name checks before their session exists. */
  const reserved = new Map<string, RunnerSlot & { readonly name: string }>()
  const feed = yield* makeChangeFeed
  const persistence = yield* makePersistence(journal)

  const newEntry = (state: RunnerState) => makeEntry(state, logs.processDir(state.id))

  const persist = (entry: RunnerEntry) =>
    persistence.persist(entry.id, () => (entry.removed ? undefined : readState(entry)))

  const publishRunner = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const summary = toSummary(yield* readState(entry))
      entry.published = withoutBytes(summary)
      yield* feed.emit({ type: "runner", runner: summary })
    })

  const emitEvent = (entry: RunnerEntry, event: WireProcessEvent) =>
    feed.emit({ type: "event", runnerId: entry.id, event })

  /**
   * Byte counts and last lines only: every runner whose output moved is pushed at most once
   * a second, all of them by one timer (none when all are quiet), in one burst.
   */
  const unflushed = new Set<RunnerEntry>()
  const flushWake = yield* Queue.sliding<void>(1)
  const markUnflushed = (entry: RunnerEntry) => {
    if (unflushed.size === 0) Queue.unsafeOffer(flushWake, undefined)
    unflushed.add(entry)
  }
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.gen(function* () {
        yield* Queue.take(flushWake)
        yield* Effect.sleep(BYTES_FLUSH)
        const due = [...unflushed]
        unflushed.clear()
        for (const entry of due) if (!entry.removed) yield* publishRunner(entry)
      }),
    ),
  )

  /**
   * Applies a change; pushes `events` (made with the same clock reading), then the summary
   * when it changed, then a `status` event on a new status. All from local values: another
   * fiber may update the entry while this one publishes.
   */
  const update = (
    entry: RunnerEntry,
    f: (s: RunnerState, now: number) => RunnerState,
    events: (now: number) => ReadonlyArray<WireProcessEvent> = () => [],
  ) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const [before, after] = yield* modifyState(entry, (s) => f(s, now))
      if (entry.removed) return
      const status = statusOf(after)
      const summary = toSummary(after)
      const key = withoutBytes(summary)
      for (const event of events(now)) yield* emitEvent(entry, event)
      // Byte counts and last lines move only through the output tally, which marks the runner
      // for the flusher: here, only what `withoutBytes` keeps is worth an immediate push.
      if (key !== entry.published) {
        entry.published = key
        yield* feed.emit({ type: "runner", runner: summary })
      }
      if (status !== statusOf(before)) {
        yield* emitEvent(entry, { type: "status", timestamp: now, status })
      }
    })

  const entryOf = (id: string) =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      if (entry === undefined) return Effect.fail(notFound(id))
      // Found at start-up and still being attached: in a moment it is, whatever comes of it.
      if (entry.attaching !== undefined) return Effect.as(Deferred.await(entry.attaching), entry)
      return Effect.succeed(entry)
    })

  const liveEntryOf = (id: string, operation: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      const state = yield* readState(entry)
      if (state.live && entry.handle !== undefined) return { entry, handle: entry.handle, state }
      return yield* new AiRunnerError({
        runnerId: id,
        provider: state.provider,
        operation,
        message: `runner ${id} has finished; cannot ${operation}`,
      })
    })

  const detailOf = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const state = yield* readState(entry)
      let session = entry.session
      if (session !== undefined && state.live && entry.handle !== undefined) {
        // Sizes change with resizes made by anyone (an attached tmux client too).
        const panes = yield* entry.handle.panes
        if (panes.length > 0) session = { ...session, panes }
      }
      return {
        runner: toSummary(state),
        metrics: metricsAt(state, now),
        session: state.live ? session : undefined,
        answers: offeredAnswers(state),
        accountId: state.accountId,
        attachCommand: monitor.attachTarget(state.name).command,
      } satisfies RunnerDetail
    })

  const listRunners = Effect.suspend(() =>
    Effect.forEach([...entries.values()], (e) => Effect.map(readState(e), toSummary)),
  )

  return {
    settings,
    monitor,
    logs,
    journal,
    workspaces,
    registryScope,
    entries,
    reserved,
    feed,
    persistence,
    newEntry,
    persist,
    publishRunner,
    emitEvent,
    markUnflushed,
    update,
    entryOf,
    liveEntryOf,
    detailOf,
    listRunners,
  } as const
})

export type RegistryContext = Effect.Effect.Success<typeof makeRegistryContext>
