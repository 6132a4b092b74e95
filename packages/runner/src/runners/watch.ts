import { Clock, Deferred, Duration, Effect, Exit, FiberId, Runtime, Scope, Stream } from "effect"
import { makeAttentionDetector } from "../attention/detector.js"
import { loadRuleSet } from "../attention/load-rules.js"
import type { CompiledScreenRule } from "../attention/rules.js"
import type { LogStoreError } from "../domain/errors.js"
import { type ControlEvent, toWireEvent } from "../domain/events.js"
import type { LogSubscription } from "../logs/log-feed.js"
import type { LogChunk } from "../logs/log-store.js"
import type { PaneSummary, ProcessMonitorHandle } from "../ports.js"
import { agentHooks, followHookFile } from "../providers/hooks.js"
import type { Control } from "./control.js"
import type { RegistryContext } from "./registry-context.js"
import { type RunnerEntry, readState } from "./runner-entry.js"
import { applyActivity, applyAttention, tallyOutput } from "./runner-state.js"
import type { WorkspaceOps } from "./workspace.js"

/** How long a runner's exit waits for the output before it to be read (a restart's backlog). */
const OUTPUT_WAIT = Duration.seconds(30)

/**
 * Watching a live runner: its output counted, its activity, exit, attention and pane sizes
 * taken into its state, and its `maxDurationMs` enforced; every fiber in the runner's scope.
 */
export const makeWatch = (ctx: RegistryContext, control: Control, workspace: WorkspaceOps) =>
  Effect.gen(function* () {
    const { settings, update, persist, emitEvent, markUnflushed } = ctx
    // For output callbacks, which run outside any fiber.
    const clock = yield* Effect.clock
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())

    /** The runner's own scope while it is watched, else the registry's. */
    const scopeOf = (entry: RunnerEntry): Scope.Scope => entry.scope ?? ctx.registryScope

    const loadRules = (provider: string) =>
      loadRuleSet(provider, settings.rulesDir).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(
            `screen rules for ${provider}: ${e.message}; using the builtin rules only`,
          ).pipe(Effect.zipRight(loadRuleSet(provider, undefined))),
        ),
        Effect.orElseSucceed((): ReadonlyArray<CompiledScreenRule> => []),
      )

    /**
     * Output, for every chunk of every busy runner: plain code. It moves only the byte and
     * line counts, the last line and the last activity, none of which is pushed at once.
     */
    const onOutput = (entry: RunnerEntry, chunk: LogChunk, at: number) => {
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
    const outputUpTo = (entry: RunnerEntry, output: LogSubscription | undefined, offset: number) =>
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
      entry: RunnerEntry,
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
            // A quiet runner is a good moment for a checkpoint of its counters, and for
            // counting what it changed in its workspace (never on a timer).
            Effect.zipRight(
              event.state === "idle"
                ? persist(entry).pipe(
                    // Off this fiber: the runner's next events must not wait for git.
                    Effect.zipRight(Effect.forkIn(workspace.refreshCounts(entry), scopeOf(entry))),
                  )
                : Effect.void,
            ),
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
            Effect.zipRight(control.finish(entry, event)),
          )
        case "log-gap":
          return emitEvent(entry, toWireEvent(event))
      }
    }

    const watchAttention = (
      entry: RunnerEntry,
      handle: ProcessMonitorHandle,
      scope: Scope.CloseableScope,
    ) =>
      Effect.gen(function* () {
        const state = yield* readState(entry)
        const rules = yield* loadRules(state.provider)
        const hooked = agentHooks(state.provider, entry.logDir)
        const restored = state.waitingForInput
          ? {
              waitingForInput: true,
              ...(state.attentionReason !== undefined ? { reason: state.attentionReason } : {}),
              ...(state.answers !== undefined ? { answers: state.answers } : {}),
            }
          : undefined
        const detector = yield* makeAttentionDetector({
          handle,
          capture: handle.captureScreen,
          rules,
          ...(hooked !== undefined
            ? { hints: followHookFile(hooked.hookFile, state.provider) }
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
              const s = yield* readState(entry)
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
      })

    /** Resizes by anyone reach viewers as one `resize` per changed pane. */
    const watchSizes = (
      entry: RunnerEntry,
      handle: ProcessMonitorHandle,
      scope: Scope.CloseableScope,
      initial: ReadonlyArray<PaneSummary>,
      mainPane: string,
    ) => {
      let sizes = new Map(initial.map((p) => [p.id, `${p.cols}x${p.rows}`]))
      return handle.paneSizes.pipe(
        Stream.runForEach((panes) =>
          Effect.gen(function* () {
            for (const p of panes) {
              if (sizes.get(p.id) === `${p.cols}x${p.rows}`) continue
              yield* ctx.feed.emit({
                type: "resize",
                runnerId: entry.id,
                paneId: p.id,
                cols: p.cols,
                rows: p.rows,
              })
            }
            sizes = new Map(panes.map((p) => [p.id, `${p.cols}x${p.rows}`]))
            if (entry.session !== undefined) entry.session = { ...entry.session, panes }
            const primary = panes.find((p) => p.id === mainPane)
            if (primary !== undefined) {
              yield* update(entry, (st) => ({ ...st, cols: primary.cols, rows: primary.rows }))
            }
          }),
        ),
        Effect.forkIn(scope),
      )
    }

    /** Wires the fibers of a live runner into its own scope. */
    const watch = (entry: RunnerEntry, handle: ProcessMonitorHandle, scope: Scope.CloseableScope) =>
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
        const state = yield* readState(entry)
        const from = state.metrics.bytesOut
        const stopped = (e: LogStoreError) =>
          Effect.logWarning(`runner ${entry.id}: stopped following output: ${e.message}`)
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
        if (info !== undefined) {
          yield* watchAttention(entry, handle, scope)
          yield* watchSizes(entry, handle, scope, info.panes, info.paneId)
        }

        const limit = state.maxDurationMs
        if (limit !== undefined) {
          const startedAt = state.startedAt ?? state.createdAt
          const now = yield* Clock.currentTimeMillis
          // The stop outlives the runner's scope, which closes when the runner ends.
          yield* Effect.sleep(Duration.millis(Math.max(0, startedAt + limit - now))).pipe(
            Effect.zipRight(Effect.forkIn(control.stop(entry, "timeout"), ctx.registryScope)),
            Effect.forkIn(scope),
          )
        }
      })

    return { watch } as const
  })

export type Watch = Effect.Effect.Success<ReturnType<typeof makeWatch>>
