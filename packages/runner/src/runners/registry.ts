import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { RunnerSummary, ProcessEvent as WireProcessEvent } from "@geppetto/protocol"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Exit,
  FiberId,
  Layer,
  PubSub,
  Queue,
  Runtime,
  Schedule,
  Scope,
  Stream,
} from "effect"
import { captureScreen } from "../attention/capture.js"
import { makeAttentionDetector } from "../attention/detector.js"
import { loadRuleSet } from "../attention/load-rules.js"
import type { CompiledScreenRule } from "../attention/rules.js"
import {
  AiRunnerError,
  type LogStoreError,
  NotFoundError,
  type ProcessMonitorError,
  ValidationError,
} from "../domain/errors.js"
import { type ControlEvent, toWireEvent } from "../domain/events.js"
import { decodeSessionName, generateProcessId, type PaneId, ProcessId } from "../domain/ids.js"
import type {
  RegistryEvent,
  RegistryEventBody,
  RunnerDetail,
  RunnerSession,
  StartRunnerRequest,
  UnmanagedSession,
} from "../domain/runner.js"
import { validateCwd, validateEnv, validateSize } from "../domain/validate.js"
import { JournalStore } from "../journal/journal-store.js"
import { followLogChunks, type LogFollower, type LogSubscription } from "../logs/log-feed.js"
import { type LogBounds, type LogChunk, LogStore } from "../logs/log-store.js"
import { writersDrained } from "../logs/writer-drain.js"
import { ProcessMonitorTag } from "../monitor/process-monitor-tag.js"
import { parseExitFile } from "../monitor/tmux-process-monitor.js"
import {
  type AiRunner,
  AiRunnerPort,
  type ProcessMonitorHandle,
  type TmuxSessionListing,
} from "../ports.js"
import { agentHooks, followHookFile, withHookArgs, writeHookFiles } from "../providers/hooks.js"
import { checkLimits, type RunnerSlot } from "../providers/limits.js"
import { detectFromCommand, getProvider } from "../providers/registry.js"
import { isTmuxServerDown, TmuxControlClient } from "../tmux/control-client.js"
import { awaitWrapperCommand } from "../tmux/pane-wrapper.js"
import { SIZE_FILE, TmuxSessionManager } from "../tmux/session-manager.js"
import { signalCommandTree } from "./job-control.js"
import { decodeRunnerState, encodeRunnerState } from "./runner-codec.js"
import { decodeRunnerMeta, encodeRunnerMeta } from "./runner-meta.js"
import {
  applyActivity,
  applyAttention,
  applyExit,
  emptyTally,
  metricsAt,
  newRunnerState,
  type RunnerState,
  type StopCause,
  statusOf,
  takeTally,
  tallyOutput,
  toSummary,
} from "./runner-state.js"
import { RunnerSettings } from "./settings.js"
import { capturePaneSnapshot, type PaneSnapshot, type RunnerSnapshot } from "./snapshot.js"

/** One runner as the registry keeps it. */
class Entry {
  session: RunnerSession | undefined = undefined
  handle: ProcessMonitorHandle | undefined = undefined
  scope: Scope.CloseableScope | undefined = undefined
  /** The last summary sent to watchers, without `bytesOut` (sent at most once a second). */
  published = ""
  removed = false
  /**
   * Set while a live runner found at start-up is listed but not yet watched: operations on it
   * wait for this (see `entryOf`).
   */
  attaching: Deferred.Deferred<void> | undefined = undefined
  /** Output since `state` was last read (see `OutputTally`). */
  readonly tally = emptyTally()
  /** Set while the exit waits for the output before it to be counted. */
  outputWait: { readonly offset: number; readonly reached: Deferred.Deferred<void> } | undefined =
    undefined
  #state: RunnerState

  constructor(
    state: RunnerState,
    readonly done: Deferred.Deferred<RunnerState>,
    readonly logDir: string,
  ) {
    this.#state = state
  }

  /** The state with every chunk of output seen so far taken in. */
  get state(): RunnerState {
    this.#state = takeTally(this.#state, this.tally)
    return this.#state
  }

  set state(next: RunnerState) {
    this.#state = takeTally(next, this.tally)
  }
}

/** Queue depth of the change feed; a watcher further behind sees a `seq` gap and resyncs. */
const FEED_CAPACITY = 8192
/** Byte counts alone are pushed at most this often per runner. */
const BYTES_FLUSH = Duration.seconds(1)
/** At start-up, how long a runner that ended while the server was down may take to finish. */
const ENDED_AWAY_WAIT = Duration.seconds(5)
/** How long a runner's exit waits for the output before it to be read (a restart's backlog). */
const OUTPUT_WAIT = Duration.seconds(30)
/** How long a pause right after a start waits for the wrapper to run the command. */
const PAUSE_WAIT = Duration.millis(500)
/** Journal size (records) at which it is compacted while running. */
const COMPACT_EVERY = 2_000

/** A summary without what changes with every chunk of output (pushed at most once a second). */
const withoutBytes = (s: RunnerSummary) =>
  JSON.stringify({ ...s, bytesOut: 0, lastLine: undefined })

const notFound = (id: string) =>
  new NotFoundError({ resource: "runner", id, message: `there is no runner ${JSON.stringify(id)}` })

const invalid = (field: string, message: string) => new ValidationError({ field, message })

/**
 * The runners: start, watch, pause, stop and forget them; rediscovered from tmux and the
 * journal when the server starts (the seed's `AiRunnerRegistry`). Closing its scope stops
 * watching; every live runner keeps running in tmux.
 */
export const makeAiRunnerRegistry = Effect.gen(function* () {
  const settings = yield* RunnerSettings
  const monitor = yield* ProcessMonitorTag
  const sessions = yield* TmuxSessionManager
  const client = yield* TmuxControlClient
  const logs = yield* LogStore
  const journal = yield* JournalStore
  const registryScope = yield* Effect.scope

  const entries = new Map<string, Entry>()
  /** Starts in flight: counted by limits and name checks before their session exists. */
  const reserved = new Map<string, RunnerSlot & { readonly name: string }>()
  const startLock = yield* Effect.makeSemaphore(1)
  const persistLock = yield* Effect.makeSemaphore(1)
  const feed = yield* PubSub.sliding<RegistryEvent>(FEED_CAPACITY)
  // For output callbacks, which run outside any fiber.
  const clock = yield* Effect.clock
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  let seq = 0
  let appended = 0

  /** Per runner: who wants only that runner's changes, told synchronously. */
  const runnerListeners = new Map<string, Set<(event: RegistryEvent) => void>>()

  const emit = (body: RegistryEventBody) =>
    Effect.suspend(() => {
      const event = { ...body, seq: ++seq } as RegistryEvent
      const listeners = runnerListeners.get(
        event.type === "runner" ? event.runner.id : event.runnerId,
      )
      if (listeners !== undefined) {
        for (const listener of listeners) {
          try {
            listener(event)
          } catch {
            // A listener's fault is its own: the change still reaches everyone else.
          }
        }
      }
      return PubSub.publish(feed, event)
    })

  /**
   * Calls `listener` with each change of runner `id` until the scope closes: for a terminal
   * viewer, which would otherwise wake for every change of every runner on the feed.
   */
  const onRunnerEvent = (id: string, listener: (event: RegistryEvent) => void) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        let set = runnerListeners.get(id)
        if (set === undefined) {
          set = new Set()
          runnerListeners.set(id, set)
        }
        set.add(listener)
        return set
      }),
      (set) =>
        Effect.sync(() => {
          set.delete(listener)
          if (set.size === 0 && runnerListeners.get(id) === set) runnerListeners.delete(id)
        }),
    ).pipe(Effect.asVoid)

  const emitEvent = (entry: Entry, event: WireProcessEvent) =>
    emit({ type: "event", runnerId: entry.state.id, event })

  // ---- persistence -------------------------------------------------------------------

  /** Appends the entry's state as it is when the append runs, so the last record wins. */
  const persist = (entry: Entry) =>
    persistLock
      .withPermits(1)(
        Effect.suspend(() =>
          entry.removed
            ? Effect.void
            : journal.append({
                type: "runner",
                runnerId: entry.state.id,
                data: encodeRunnerState(entry.state),
              }),
        ),
      )
      .pipe(
        Effect.tap(() => {
          appended++
          return appended % COMPACT_EVERY === 0 ? Effect.ignore(journal.compact) : Effect.void
        }),
        Effect.catchAll((e) => Effect.logWarning(`journal: ${e.message}`)),
      )

  // ---- publishing --------------------------------------------------------------------

  const publishRunner = (entry: Entry) =>
    Effect.suspend(() => {
      const summary = toSummary(entry.state)
      entry.published = withoutBytes(summary)
      return emit({ type: "runner", runner: summary })
    })

  /**
   * Byte counts and last lines only: every runner whose output moved is pushed at most once
   * a second, all of them by one timer (none when all are quiet), in one burst that each
   * watcher writes at once.
   */
  const unflushed = new Set<Entry>()
  const flushWake = yield* Queue.sliding<void>(1)
  const markUnflushed = (entry: Entry) => {
    if (unflushed.size === 0) Queue.unsafeOffer(flushWake, undefined)
    unflushed.add(entry)
  }
  yield* Effect.forkIn(
    Effect.forever(
      Effect.gen(function* () {
        yield* Queue.take(flushWake)
        yield* Effect.sleep(BYTES_FLUSH)
        const due = [...unflushed]
        unflushed.clear()
        for (const entry of due) if (!entry.removed) yield* publishRunner(entry)
      }),
    ),
    registryScope,
  )

  /**
   * Applies a change; pushes `events` (made with the same clock reading), then the summary
   * when it changed, then a `status` event on a new status. All from local values: another
   * fiber may update the entry while this one publishes.
   */
  const update = (
    entry: Entry,
    f: (s: RunnerState, now: number) => RunnerState,
    events: (now: number) => ReadonlyArray<WireProcessEvent> = () => [],
  ) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const before = entry.state
      const after = f(before, now)
      entry.state = after
      if (entry.removed) return
      const status = statusOf(after)
      const statusChanged = status !== statusOf(before)
      const summary = toSummary(after)
      const key = withoutBytes(summary)
      for (const event of events(now)) yield* emitEvent(entry, event)
      // Byte counts and last lines move only through `onOutput`, which marks the runner for
      // the flusher: here, only what `withoutBytes` keeps is worth an immediate push.
      if (key !== entry.published) {
        entry.published = key
        yield* emit({ type: "runner", runner: summary })
      }
      if (statusChanged) yield* emitEvent(entry, { type: "status", timestamp: now, status })
    })

  // ---- watching a live runner -------------------------------------------------------

  const loadRules = (provider: string) =>
    loadRuleSet(provider, settings.rulesDir).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning(
          `screen rules for ${provider}: ${e.message}; using the builtin rules only`,
        ).pipe(Effect.zipRight(loadRuleSet(provider, undefined))),
      ),
      Effect.orElseSucceed((): ReadonlyArray<CompiledScreenRule> => []),
    )

  const finish = (
    entry: Entry,
    exit: { exitCode: number | null; signal: string | null },
    events: (now: number) => ReadonlyArray<WireProcessEvent> = () => [],
  ) =>
    Effect.gen(function* () {
      if (!entry.state.live) return
      yield* update(entry, (s, now) => applyExit(s, exit, now), events)
      yield* persist(entry)
      const scope = entry.scope
      const session = entry.session
      entry.scope = undefined
      entry.handle = undefined
      entry.session = undefined
      // Our session has nothing left to show that the log lacks; left with its dead pane it
      // would be rediscovered after a restart. Killed before the runner counts as done, so a
      // caller that removes it at once leaves no session behind. An adopted session is the
      // user's: left alone.
      if (session !== undefined && !entry.state.adopted) {
        yield* Effect.ignore(sessions.killSession(session.sessionId))
      }
      yield* Deferred.succeed(entry.done, entry.state)
      // Stop watching; the log stays readable from its folder. Done from outside the fibers
      // the scope owns, one of which is running this.
      if (scope !== undefined) yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
    }).pipe(Effect.uninterruptible)

  /**
   * Output, for every chunk of every busy runner: plain code. It moves only the byte and
   * line counts, the last line and the last activity, none of which is pushed at once.
   */
  const onOutput = (entry: Entry, chunk: LogChunk, at: number) => {
    if (entry.removed) return
    tallyOutput(entry.tally, chunk.offset, chunk.bytes, at)
    markUnflushed(entry)
    const wait = entry.outputWait
    if (wait !== undefined && chunk.offset + chunk.bytes.length >= wait.offset) {
      Deferred.unsafeDone(wait.reached, Exit.void)
    }
  }

  /**
   * Waits until the runner's own follower has taken the output up to `offset` (the log's
   * end when the exit was seen): read at once when it is near, in turns of the event loop
   * when a restart left a long backlog; bounded all the same.
   */
  const outputUpTo = (entry: Entry, output: LogSubscription | undefined, offset: number) =>
    Effect.suspend(() => {
      if (output === undefined || output.position() >= offset) return Effect.void
      const reached = Deferred.unsafeMake<void>(FiberId.none)
      entry.outputWait = { offset, reached }
      output.catchUp()
      if (output.position() >= offset) return Effect.void
      return Deferred.await(reached).pipe(
        Effect.timeout(OUTPUT_WAIT),
        Effect.ignore,
        Effect.ensuring(
          Effect.sync(() => {
            entry.outputWait = undefined
          }),
        ),
      )
    })

  const onControlEvent = (
    entry: Entry,
    event: ControlEvent,
    output: LogSubscription | undefined,
  ) => {
    switch (event._tag) {
      case "activity":
        return update(
          entry,
          (s) => applyActivity(s, event.state, event.timestamp),
          () => [toWireEvent(event)],
        ).pipe(
          // A quiet runner is a good moment for a checkpoint of its counters.
          Effect.zipRight(event.state === "idle" ? persist(entry) : Effect.void),
        )
      case "error":
        return update(
          entry,
          (s) => ({ ...s, lastError: event.error.message }),
          () => [toWireEvent(event)],
        )
      case "exit":
        return emitEvent(entry, toWireEvent(event)).pipe(
          // The final counts: every byte logged before the exit.
          Effect.zipRight(outputUpTo(entry, output, event.offset)),
          Effect.zipRight(finish(entry, event)),
        )
      case "log-gap":
        return emitEvent(entry, toWireEvent(event))
    }
  }

  /** Stops a live runner; `cause` says why in its final status. Waits until it ended. */
  const stop = (entry: Entry, cause: StopCause) =>
    Effect.gen(function* () {
      const handle = entry.handle
      if (!entry.state.live || handle === undefined) return
      if (entry.state.stopCause === undefined) {
        entry.state = { ...entry.state, stopCause: cause }
      }
      // A paused process cannot act on C-c: let it run so it can stop cleanly.
      if (entry.state.paused) yield* resumeEntry(entry)
      yield* handle.terminate.pipe(
        Effect.catchAll((e) => Effect.logWarning(`terminate ${entry.state.id}: ${e.message}`)),
      )
      yield* Deferred.await(entry.done).pipe(
        Effect.timeoutTo({
          duration: Duration.seconds(10),
          onSuccess: () => Effect.void,
          onTimeout: () => finish(entry, { exitCode: null, signal: "SIGKILL" }),
        }),
        Effect.flatten,
      )
    })

  /** Wires the fibers of a live runner into its own scope. */
  const watch = (entry: Entry, handle: ProcessMonitorHandle, scope: Scope.CloseableScope) =>
    Effect.gen(function* () {
      entry.handle = handle
      entry.scope = scope
      const info = handle.sessionInfo
      entry.session =
        info === undefined
          ? undefined
          : {
              name: info.name,
              sessionId: info.sessionId,
              windowId: info.windowId,
              paneId: info.paneId,
              attachCommand: info.attachCommand,
              panes: info.panes,
            }
      const from = entry.state.metrics.bytesOut
      const id = entry.state.id
      const stopped = (e: LogStoreError) =>
        Effect.logWarning(`runner ${id}: stopped following output: ${e.message}`)
      const output = yield* handle
        .followOutput(from, {
          onChunk: (chunk) => onOutput(entry, chunk, clock.unsafeCurrentTimeMillis()),
          onError: (e) => runFork(stopped(e)),
        })
        .pipe(
          Scope.extend(scope),
          Effect.tapError(stopped),
          Effect.orElseSucceed(() => undefined),
        )
      yield* handle.controlEvents(from).pipe(
        Stream.runForEach((event) => onControlEvent(entry, event, output)),
        Effect.forkIn(scope),
      )

      const paneId = info?.paneId
      if (paneId !== undefined) {
        const rules = yield* loadRules(entry.state.provider)
        const hooked = agentHooks(entry.state.provider, entry.logDir)
        const restored = entry.state.waitingForInput
          ? {
              waitingForInput: true,
              ...(entry.state.attentionReason !== undefined
                ? { reason: entry.state.attentionReason }
                : {}),
              ...(entry.state.answers !== undefined ? { answers: entry.state.answers } : {}),
            }
          : undefined
        const detector = yield* makeAttentionDetector({
          handle,
          capture: captureScreen(client, paneId),
          rules,
          ...(hooked !== undefined
            ? { hints: followHookFile(hooked.hookFile, entry.state.provider) }
            : {}),
          ...(restored !== undefined ? { initial: restored } : {}),
          debounceMs: settings.attention.debounceMs,
          confirmMs: settings.attention.confirmMs,
          recheckMs: settings.attention.recheckMs,
        }).pipe(Scope.extend(scope))
        yield* detector.changes.pipe(
          // The first element is the detector's initial state, not a transition.
          Stream.drop(1),
          Stream.runForEach((a) =>
            Effect.gen(function* () {
              const s = entry.state
              if (!s.live) return
              if (a.waitingForInput === s.waitingForInput && a.reason === s.attentionReason) {
                return
              }
              yield* update(
                entry,
                (st, now) => applyAttention(st, a, now),
                (now) => [
                  {
                    type: "attention",
                    timestamp: now,
                    waitingForInput: a.waitingForInput,
                    ...(a.reason !== undefined ? { reason: a.reason } : {}),
                  },
                ],
              )
              yield* persist(entry)
            }),
          ),
          Effect.forkIn(scope),
        )
      }

      // Resizes by anyone (our API, an attached tmux client) arrive as the hook's size file.
      const sizeChanged = yield* Queue.sliding<void>(1)
      const dirWatch = yield* logs.watch(entry.logDir).pipe(Scope.extend(scope), Effect.option)
      if (dirWatch._tag === "Some" && info !== undefined) {
        const stop = dirWatch.value.onChange((file) => {
          if (file === SIZE_FILE) Queue.unsafeOffer(sizeChanged, undefined)
        })
        yield* Scope.addFinalizer(scope, Effect.sync(stop))
        let sizes = new Map(info.panes.map((p) => [p.id, `${p.cols}x${p.rows}`]))
        yield* Effect.forever(
          Effect.gen(function* () {
            yield* Queue.take(sizeChanged)
            const panes = yield* sessions
              .panesOfSession(info.sessionId)
              .pipe(Effect.orElseSucceed(() => []))
            if (panes.length === 0) return
            for (const p of panes) {
              if (sizes.get(p.paneId) === `${p.cols}x${p.rows}`) continue
              yield* emit({
                type: "resize",
                runnerId: entry.state.id,
                paneId: p.paneId,
                cols: p.cols,
                rows: p.rows,
              })
            }
            sizes = new Map(panes.map((p) => [p.paneId, `${p.cols}x${p.rows}`]))
            if (entry.session !== undefined) {
              entry.session = {
                ...entry.session,
                panes: panes.map((p) => ({ id: p.paneId, cols: p.cols, rows: p.rows })),
              }
            }
            const primary = panes.find((p) => p.paneId === info.paneId)
            if (primary !== undefined) {
              yield* update(entry, (st) => ({ ...st, cols: primary.cols, rows: primary.rows }))
            }
          }),
        ).pipe(Effect.forkIn(scope))
      }

      const limit = entry.state.maxDurationMs
      if (limit !== undefined) {
        const startedAt = entry.state.startedAt ?? entry.state.createdAt
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Duration.millis(Math.max(0, startedAt + limit - now))).pipe(
          Effect.zipRight(Effect.forkDaemon(stop(entry, "timeout"))),
          Effect.forkIn(scope),
        )
      }
    })

  const newEntry = (state: RunnerState) =>
    Effect.map(
      Deferred.make<RunnerState>(),
      (done) => new Entry(state, done, logs.processDir(state.id)),
    )

  // ---- start ------------------------------------------------------------------------

  const liveSlots = (): RunnerSlot[] => [
    ...[...entries.values()]
      .filter((e) => e.state.live)
      .map((e) => ({ provider: e.state.provider, accountId: e.state.accountId })),
    ...reserved.values(),
  ]

  const nameTaken = (name: string) =>
    [...entries.values()].some((e) => e.state.name === name) ||
    [...reserved.values()].some((r) => r.name === name)

  const startRunner = (request: StartRunnerRequest) =>
    Effect.gen(function* () {
      const provider = yield* getProvider(request.provider).pipe(
        Effect.mapError((e) => invalid("provider", e.message)),
      )
      const mode = request.mode ?? "interactive"
      const accountId = request.accountId
      const account = accountId === undefined ? undefined : settings.accounts[accountId]
      if (accountId !== undefined && account === undefined) {
        return yield* invalid(
          "accountId",
          `there is no account ${JSON.stringify(accountId.slice(0, 64))} in the config`,
        )
      }
      const plan = yield* provider.plan({
        mode,
        ...(request.prompt !== undefined ? { prompt: request.prompt } : {}),
        ...(request.command !== undefined ? { command: request.command } : {}),
        ...(account !== undefined ? { account } : {}),
      })
      const env = request.env ?? {}
      yield* validateEnv(env)
      const cwd = request.cwd ?? settings.defaultCwd
      yield* validateCwd(cwd)
      const cols = request.cols ?? 120
      const rows = request.rows ?? 32
      yield* validateSize(cols, rows)
      const maxDurationMs = request.maxDurationMs
      if (maxDurationMs !== undefined && (!Number.isInteger(maxDurationMs) || maxDurationMs <= 0)) {
        return yield* invalid("maxDurationMs", "maxDurationMs must be a positive whole number")
      }
      const id = generateProcessId("run")
      const name = yield* decodeSessionName(
        request.name ?? `${provider.id}-${id.slice(4, 10)}`,
        "name",
      )
      // Refused up front rather than started unlogged on a full or read-only data dir.
      yield* logs.checkWritable

      // Limits and names are checked and the slot reserved in one step.
      yield* startLock.withPermits(1)(
        Effect.gen(function* () {
          if (nameTaken(name))
            return yield* invalid("name", `a runner named ${name} already exists`)
          if (yield* sessions.hasSession(name).pipe(Effect.orElseSucceed(() => false)))
            return yield* invalid("name", `a tmux session named ${name} already exists`)
          yield* checkLimits({
            running: liveSlots(),
            request: { provider: provider.id, accountId },
            limits: settings.limits,
          })
          reserved.set(id, { provider: provider.id, accountId, name })
        }),
      )

      return yield* Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const prompt = request.prompt === "" ? undefined : request.prompt
        const state = newRunnerState({
          id,
          name,
          provider: provider.id,
          mode,
          cwd,
          prompt,
          accountId,
          maxDurationMs,
          adopted: false,
          at: now,
          cols,
          rows,
        })
        const entry = yield* newEntry(state)
        const scope = yield* Scope.fork(registryScope, ExecutionStrategy.sequential)
        // The agent's own hooks (Claude Code, Codex) report into the runner's folder.
        const hooks = agentHooks(provider.id, entry.logDir)
        if (hooks !== undefined) {
          yield* logs.ensureDir(entry.logDir).pipe(
            Effect.zipRight(writeHookFiles(hooks)),
            Effect.mapError(
              (e) =>
                new AiRunnerError({
                  runnerId: id,
                  provider: provider.id,
                  operation: "start",
                  message: e.message,
                }),
            ),
          )
        }
        const [command, ...args] = withHookArgs(plan.argv, hooks)
        if (command === undefined) return yield* invalid("command", "nothing to run")
        const handle = yield* monitor
          .spawn(command, args, {
            processId: ProcessId(id),
            sessionName: name,
            cwd,
            env: { ...plan.env, ...env },
            cols,
            rows,
            metadata: { provider: provider.id, meta: encodeRunnerMeta(state) },
          })
          .pipe(
            Scope.extend(scope),
            Effect.tapError(() => Scope.close(scope, Exit.void)),
          )
        entries.set(id, entry)
        yield* watch(entry, handle, scope)
        yield* persist(entry)
        yield* publishRunner(entry)
        return yield* detailOf(entry)
      }).pipe(Effect.ensuring(Effect.sync(() => reserved.delete(id))))
    }).pipe(Effect.withSpan("AiRunnerRegistry.startRunner"))

  // ---- lookups ------------------------------------------------------------------------

  const entryOf = (id: string) =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      if (entry === undefined) return Effect.fail(notFound(id))
      // Found at start-up and still being attached: in a moment it is, whatever comes of it.
      if (entry.attaching !== undefined) return Effect.as(Deferred.await(entry.attaching), entry)
      return Effect.succeed(entry)
    })

  const liveEntryOf = (id: string, operation: string) =>
    Effect.flatMap(entryOf(id), (entry) =>
      entry.state.live && entry.handle !== undefined
        ? Effect.succeed({ entry, handle: entry.handle })
        : Effect.fail(
            new AiRunnerError({
              runnerId: id,
              provider: entry.state.provider,
              operation,
              message: `runner ${id} has finished; cannot ${operation}`,
            }),
          ),
    )

  const detailOf = (entry: Entry) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      let session = entry.session
      if (session !== undefined && entry.state.live) {
        // Sizes change with resizes made by anyone (an attached tmux client too).
        const panes = yield* sessions
          .panesOfSession(session.sessionId)
          .pipe(Effect.orElseSucceed(() => undefined))
        if (panes !== undefined && panes.length > 0) {
          session = {
            ...session,
            panes: panes.map((p) => ({ id: p.paneId, cols: p.cols, rows: p.rows })),
          }
        }
      }
      return {
        runner: toSummary(entry.state),
        metrics: metricsAt(entry.state, now),
        session: entry.state.live ? session : undefined,
        answers: entry.state.waitingForInput ? entry.state.answers : undefined,
        accountId: entry.state.accountId,
        attachCommand: sessions.attachCommand(entry.state.name),
      } satisfies RunnerDetail
    })

  const getRunner = (id: string) => Effect.flatMap(entryOf(id), detailOf)

  const listRunners = Effect.sync(() => [...entries.values()].map((e) => toSummary(e.state)))

  const waitForCompletion = (id: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      yield* Deferred.await(entry.done)
      return yield* detailOf(entry)
    })

  // ---- control ------------------------------------------------------------------------

  const panePid = (entry: Entry, operation: string) =>
    Effect.gen(function* () {
      const paneId = entry.session?.paneId
      const pane =
        paneId === undefined
          ? undefined
          : yield* sessions.paneState(paneId).pipe(Effect.orElseSucceed(() => undefined))
      if (pane === undefined || pane.dead || pane.pid <= 1) {
        return yield* new AiRunnerError({
          runnerId: entry.state.id,
          provider: entry.state.provider,
          operation,
          message: `runner ${entry.state.id} has no live pane to ${operation}`,
        })
      }
      return pane.pid
    })

  const resumeEntry = (entry: Entry) =>
    Effect.gen(function* () {
      const pid = yield* panePid(entry, "resume")
      yield* Effect.promise(() => signalCommandTree(pid, "SIGCONT"))
      yield* update(entry, (s) => ({ ...s, paused: false }))
      yield* persist(entry)
    })

  const pauseRunner = (id: string) =>
    Effect.gen(function* () {
      const { entry } = yield* liveEntryOf(id, "pause")
      if (entry.state.paused) return yield* detailOf(entry)
      const pid = yield* panePid(entry, "pause")
      // Just started, the wrapper may not have started the command yet.
      yield* Effect.promise(() => awaitWrapperCommand(pid, Duration.toMillis(PAUSE_WAIT)))
      const reached = yield* Effect.promise(() => signalCommandTree(pid, "SIGSTOP"))
      if (reached === 0) {
        return yield* new AiRunnerError({
          runnerId: id,
          provider: entry.state.provider,
          operation: "pause",
          message: `runner ${id} has no running process to pause`,
        })
      }
      yield* update(entry, (s) => ({ ...s, paused: true }))
      yield* persist(entry)
      return yield* detailOf(entry)
    })

  const resumeRunner = (id: string) =>
    Effect.gen(function* () {
      const { entry } = yield* liveEntryOf(id, "resume")
      if (entry.state.paused) yield* resumeEntry(entry)
      return yield* detailOf(entry)
    })

  const terminateRunner = (id: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      yield* stop(entry, "terminated")
      return yield* detailOf(entry)
    })

  /** Exact bytes as keys into the runner's main pane, or into `paneId` of its session. */
  const write = (id: string, data: Uint8Array, paneId?: PaneId) =>
    Effect.flatMap(
      liveEntryOf(id, "write input"),
      ({
        entry,
        handle,
      }): Effect.Effect<void, ProcessMonitorError | NotFoundError | AiRunnerError> => {
        if (paneId === undefined || paneId === entry.session?.paneId) return handle.write(data)
        if (!entry.session?.panes.some((p) => p.id === paneId)) {
          return Effect.fail(
            new NotFoundError({
              resource: "pane",
              id: paneId,
              message: `runner ${id} has no pane ${paneId}`,
            }),
          )
        }
        return sessions.sendKeysHex(paneId, data).pipe(
          Effect.mapError(
            (e) =>
              new AiRunnerError({
                runnerId: id,
                provider: entry.state.provider,
                operation: "write input",
                message: e.message,
              }),
          ),
        )
      },
    )

  const resize = (id: string, cols: number, rows: number) =>
    Effect.gen(function* () {
      const { entry } = yield* liveEntryOf(id, "resize")
      yield* validateSize(cols, rows)
      const windowId = entry.session?.windowId
      if (windowId === undefined) return
      yield* sessions.resizeWindow(windowId, cols, rows).pipe(
        Effect.mapError(
          (e) =>
            new AiRunnerError({
              runnerId: id,
              provider: entry.state.provider,
              operation: "resize",
              message: e.message,
            }),
        ),
      )
      yield* update(entry, (st) => ({ ...st, cols, rows }))
      // Viewers hear of it from the window-resized hook, like any other resize.
    })

  const removeRunner = (id: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      yield* stop(entry, "terminated")
      entry.removed = true
      entries.delete(id)
      const scope = entry.scope
      entry.scope = undefined
      if (scope !== undefined) yield* Scope.close(scope, Exit.void)
      yield* logs
        .remove(entry.logDir)
        .pipe(Effect.catchAll((e) => Effect.logWarning(`remove ${id}: ${e.message}`)))
      yield* persistLock.withPermits(1)(
        journal
          .append({ type: "removed", runnerId: id })
          .pipe(Effect.catchAll((e) => Effect.logWarning(`journal: ${e.message}`))),
      )
      yield* emit({ type: "removed", runnerId: id })
    })

  // ---- output ------------------------------------------------------------------------

  /** The runner's output from `from`, following new bytes while it runs. */
  const output = (id: string, from: number, paneId?: PaneId) =>
    Stream.unwrap(
      Effect.map(entryOf(id), (entry): Stream.Stream<LogChunk, LogStoreError> => {
        if (entry.handle !== undefined) return entry.handle.output(from, paneId)
        return logs.tail(paneLogDir(entry, paneId), from)
      }),
    )

  /** The same bytes handed to `follower` as they are logged (see `followLogChunks`). */
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

  /** The log folder of one pane of a runner (adopted sessions log each pane apart). */
  const paneLogDir = (entry: Entry, paneId: PaneId | undefined) =>
    paneId === undefined || paneId === entry.session?.paneId
      ? entry.logDir
      : join(entry.logDir, "panes", paneId.slice(1))

  const waitDrained = (dir: string) =>
    Effect.promise(() => writersDrained(dir)).pipe(
      Effect.repeat({
        until: (drained) => drained !== false,
        schedule: Schedule.spaced("5 millis"),
        times: 20,
      }),
    )

  /**
   * What a new viewer draws first, and the log offset it is true at. A live pane is captured
   * between two looks at the log end; when both agree and the writer has drained, no byte
   * lies between the picture and the offset. Only a quiet pane is checked for draining (a
   * scan of /proc): while output flows the two looks differ and the capture is retried at
   * once. A pane that never pauses gets the last try, marked `exact: false`. A finished
   * runner is replayed from the oldest kept byte. Viewers asking at the same time (20
   * skipped forward by one flood) share one capture.
   */
  const takeSnapshot = (
    id: string,
    paneId?: PaneId,
  ): Effect.Effect<RunnerSnapshot, NotFoundError | AiRunnerError> =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      const session = entry.session
      if (paneId !== undefined && !session?.panes.some((p) => p.id === paneId)) {
        return yield* new NotFoundError({
          resource: "pane",
          id: paneId,
          message: `runner ${id} has no pane ${paneId}`,
        })
      }
      const dir = paneLogDir(entry, paneId)
      const bounds = () => logs.bounds(dir).pipe(Effect.orElseSucceed(() => ({ start: 0, end: 0 })))
      const pane = paneId ?? session?.paneId
      if (!entry.state.live || pane === undefined) {
        const { start } = yield* bounds()
        return {
          offset: start,
          cols: entry.state.cols ?? 120,
          rows: entry.state.rows ?? 32,
          data: "\x1b[?1049l\x1b[!p\x1b[H\x1b[2J\x1b[3J",
          exact: true,
        }
      }
      let last: (PaneSnapshot & { offset: number }) | undefined
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = (yield* bounds()).end
        const picture = yield* capturePaneSnapshot(client, pane).pipe(
          Effect.mapError(
            (e) =>
              new AiRunnerError({
                runnerId: id,
                provider: entry.state.provider,
                operation: "snapshot",
                message: e.message,
              }),
          ),
        )
        let after = (yield* bounds()).end
        if (before === after) {
          yield* waitDrained(dir)
          after = (yield* bounds()).end
          if (before === after) return { ...picture, offset: after, exact: true }
        }
        last = { ...picture, offset: after }
      }
      return { ...(last as PaneSnapshot & { offset: number }), exact: false }
    })

  const snapshotsInFlight = new Map<
    string,
    Deferred.Deferred<RunnerSnapshot, NotFoundError | AiRunnerError>
  >()
  const snapshot = (id: string, paneId?: PaneId) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const key = `${id}/${paneId ?? ""}`
        const pending = snapshotsInFlight.get(key)
        if (pending !== undefined) return yield* restore(Deferred.await(pending))
        const deferred = yield* Deferred.make<RunnerSnapshot, NotFoundError | AiRunnerError>()
        snapshotsInFlight.set(key, deferred)
        // The capture finishes for the others even if the viewer that started it leaves.
        const exit = yield* Effect.exit(takeSnapshot(id, paneId))
        snapshotsInFlight.delete(key)
        yield* Deferred.done(deferred, exit)
        return yield* restore(exit)
      }),
    )

  // ---- adoption ----------------------------------------------------------------------

  const unmanagedSessions = Effect.gen(function* () {
    const listings = yield* sessions.listSessions
    const panes = yield* sessions.allPanes
    return listings
      .filter((s) => s.metadata.id === undefined)
      .map((s): UnmanagedSession => {
        const own = panes.filter((p) => p.sessionId === s.sessionId)
        const active = own.find((p) => p.active) ?? own[0]
        return {
          name: s.name,
          windows: s.windows,
          panes: own.length,
          attached: s.attached,
          createdAt: s.createdAt,
          command: active?.currentCommand,
        }
      })
  }).pipe(
    // No tmux server, no sessions: not an error to someone asking what there is to adopt.
    Effect.catchIf(isTmuxServerDown, () => Effect.succeed([] as ReadonlyArray<UnmanagedSession>)),
  )

  const adoptSession = (sessionName: string) =>
    Effect.gen(function* () {
      const name = yield* decodeSessionName(sessionName, "name")
      const listing = (yield* sessions.listSessions).find((s) => s.name === name)
      if (listing === undefined) {
        return yield* new NotFoundError({
          resource: "session",
          id: name,
          message: `there is no tmux session named ${name}`,
        })
      }
      if (listing.metadata.id !== undefined) {
        return yield* invalid(
          "name",
          `tmux session ${name} is already runner ${listing.metadata.id}`,
        )
      }
      yield* logs.checkWritable
      const id = generateProcessId("run")
      const panes = yield* sessions.panesOfSession(listing.sessionId)
      const primary = panes.find((p) => p.active) ?? panes[0]
      const provider = detectFromCommand(primary?.currentCommand ?? "")
      const cwdLines =
        primary === undefined
          ? []
          : yield* client
              .execOne(["display-message", "-p", "-t", primary.paneId, "#{pane_current_path}"])
              .pipe(Effect.orElseSucceed(() => []))
      const now = yield* Clock.currentTimeMillis
      const state = newRunnerState({
        id,
        name,
        provider,
        mode: "interactive",
        cwd: cwdLines[0] ?? "",
        adopted: true,
        at: now,
      })
      const entry = yield* newEntry({
        ...state,
        createdAt: listing.createdAt > 0 ? listing.createdAt : now,
      })
      const scope = yield* Scope.fork(registryScope, ExecutionStrategy.sequential)
      const handle = yield* monitor.monitorExisting(name, { processId: ProcessId(id) }).pipe(
        Scope.extend(scope),
        Effect.tapError(() => Scope.close(scope, Exit.void)),
      )
      for (const windowId of new Set(panes.map((p) => p.windowId))) {
        yield* Effect.ignore(sessions.watchWindowSize(windowId, entry.logDir))
      }
      // Marked as ours in tmux, so a restarted server finds it again.
      yield* client
        .exec([
          ["set-option", "-t", listing.sessionId, "@geppetto-id", id],
          ["set-option", "-t", listing.sessionId, "@geppetto-provider", provider],
          ["set-option", "-t", listing.sessionId, "@geppetto-meta", encodeRunnerMeta(entry.state)],
        ])
        .pipe(Effect.catchAll((e) => Effect.logWarning(`adopt ${name}: ${e.message}`)))
      entries.set(id, entry)
      yield* watch(entry, handle, scope)
      yield* persist(entry)
      yield* publishRunner(entry)
      return yield* detailOf(entry)
    })

  // ---- rediscovery at start-up ---------------------------------------------------------

  const readExit = (logDir: string) =>
    Effect.promise(() =>
      readFile(join(logDir, "exit"), "utf8").then(parseExitFile, () => undefined),
    )

  /** Reattaches to a runner whose session is still in tmux. */
  const reattach = (entry: Entry, sessionName: string, ended = false) =>
    Effect.gen(function* () {
      const state = entry.state
      const scope = yield* Scope.fork(registryScope, ExecutionStrategy.sequential)
      const handle = yield* monitor
        .monitorExisting(sessionName, { processId: ProcessId(state.id) })
        .pipe(Scope.extend(scope), Effect.either)
      if (Either.isLeft(handle)) {
        yield* Scope.close(scope, Exit.void)
        yield* Effect.logWarning(`rediscover ${state.id}: ${handle.left.message}`)
        entry.state = { ...entry.state, lastError: handle.left.message }
        yield* finishOffline(entry)
        return
      }
      entry.published = withoutBytes(toSummary(entry.state))
      yield* watch(entry, handle.right, scope)
      // It ended while we were away: listed as finished from the first list on, once its
      // last bytes are counted (the monitor settles the log first; bounded all the same).
      if (ended) {
        yield* Deferred.await(entry.done).pipe(Effect.timeout(ENDED_AWAY_WAIT), Effect.ignore)
      }
    })

  /** A live runner whose session is gone: its exit file says how it ended, if it got to. */
  const finishOffline = (entry: Entry) =>
    Effect.gen(function* () {
      const exit = yield* readExit(entry.logDir)
      const lastError =
        exit === undefined
          ? (entry.state.lastError ??
            `tmux session ${entry.state.name} ended while the server was down`)
          : entry.state.lastError
      entry.state = {
        ...entry.state,
        ...(lastError !== undefined ? { lastError } : {}),
      }
      const bounds = yield* logs.bounds(entry.logDir).pipe(Effect.option)
      const at = yield* Clock.currentTimeMillis
      entry.state = applyExit(
        bounds._tag === "Some"
          ? {
              ...entry.state,
              metrics: {
                ...entry.state.metrics,
                bytesOut: Math.max(entry.state.metrics.bytesOut, bounds.value.end),
              },
            }
          : entry.state,
        exit ?? { exitCode: null, signal: null },
        at,
      )
      yield* Deferred.succeed(entry.done, entry.state)
      yield* persist(entry)
    })

  const rediscover = Effect.gen(function* () {
    const loaded = yield* journal.load.pipe(
      Effect.catchAll((e) =>
        Effect.logWarning(`journal unreadable, starting without history: ${e.message}`).pipe(
          Effect.as({ runners: new Map<string, Record<string, unknown>>() }),
        ),
      ),
    )
    const listings = yield* sessions.listSessions
    const byId = new Map<string, TmuxSessionListing>()
    for (const l of listings) if (l.metadata.id !== undefined) byId.set(l.metadata.id, l)
    // Panes tmux already shows dead: their runner ended while we were away, even if the
    // exit hook has not written its file yet.
    const deadPanes = new Set(
      (yield* sessions.allPanes.pipe(Effect.orElseSucceed(() => [])))
        .filter((p) => p.dead && p.logDir !== undefined)
        .map((p) => p.logDir),
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
    const known = new Set(states.map((s) => s.id))
    // Sessions started just before a crash, before their first journal record.
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
          at: meta?.createdAt ?? at,
        }),
      )
    }

    // Listed at once; those still running in tmux are watched again in the background,
    // so the server answers (and lists every runner) before 100 of them are re-attached.
    // One that ended while we were away is finished first: it is never listed as running.
    const running: Array<{ readonly entry: Entry; readonly sessionName: string }> = []
    yield* Effect.forEach(
      states,
      (state) =>
        Effect.gen(function* () {
          const entry = yield* newEntry(state)
          entries.set(state.id, entry)
          if (!state.live) return Deferred.unsafeDone(entry.done, Exit.succeed(state))
          const listing = byId.get(state.id)
          if (listing === undefined) return yield* finishOffline(entry)
          if (deadPanes.has(entry.logDir) || (yield* readExit(entry.logDir)) !== undefined) {
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
    yield* Effect.forEach(
      running,
      ({ entry, sessionName }) =>
        reattach(entry, sessionName).pipe(
          // One runner that cannot be watched again must not stop the others.
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`rediscover ${entry.state.id}: not watched again`, cause),
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
    ).pipe(Effect.forkIn(registryScope))
  })

  yield* rediscover

  const changes: Effect.Effect<
    {
      readonly runners: ReadonlyArray<RunnerSummary>
      readonly seq: number
      readonly queue: Queue.Dequeue<RegistryEvent>
    },
    never,
    Scope.Scope
  > = Effect.gen(function* () {
    const queue = yield* PubSub.subscribe(feed)
    return {
      runners: [...entries.values()].map((e) => toSummary(e.state)),
      seq,
      queue,
    }
  })

  return {
    startRunner,
    getRunner,
    listRunners,
    removeRunner,
    pauseRunner,
    resumeRunner,
    terminateRunner,
    waitForCompletion,
    write,
    resize,
    output,
    follow,
    logBounds,
    snapshot,
    unmanagedSessions,
    adoptSession,
    /** Whether tmux answers (see `TmuxControlClient.status`); never starts a tmux server. */
    tmuxStatus: client.status,
    tmuxVersion: client.version,
    /** The runner list now, and every change after it (see `RegistryEvent.seq`). */
    subscribe: changes,
    onRunnerEvent,
  } satisfies AiRunner
})

/** `AiRunnerPort` over the process monitor, the log store and the journal in context. */
export const AiRunnerRegistryLive = Layer.scoped(AiRunnerPort, makeAiRunnerRegistry)
