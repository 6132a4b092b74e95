import { Clock, Deferred, Duration, Effect, Exit, FiberId, Runtime, Scope, Stream } from "effect"
import { makeAttentionDetector } from "../attention/detector.js"
import { loadRuleSet } from "../attention/load-rules.js"
import type { CompiledScreenRule } from "../attention/rules.js"
import { samePrompt } from "../attention/signals.js"
import { AuditLog } from "../audit/audit-log.js"
import type { LogStoreError } from "../domain/errors.js"
import { type ControlEvent, toWireEvent } from "../domain/events.js"
import type { LogSubscription } from "../logs/log-feed.js"
import type { LogChunk } from "../logs/log-store.js"
import type { PaneSummary, ProcessMonitorHandle } from "../ports.js"
import { agentHooks, followHookFile } from "../providers/hooks.js"
import { decideAutoApprove } from "./auto-approve.js"
import type { Control } from "./control.js"
import { tallyOutput } from "./output-tally.js"
import { promptOnScreen } from "./prompt-on-screen.js"
import type { RegistryContext } from "./registry-context.js"
import { type RunnerEntry, readState } from "./runner-entry.js"
import { applyActivity, applyAttention, attentionOf } from "./runner-state.js"
import type { WorkspaceOps } from "./workspace.js"

/** Who the audit trail says answered a prompt that auto-approve answered. */
export const AUTO_APPROVE_USER = "auto-approve"

/** How long a runner's exit waits for the output before it to be read (a restart's backlog). */
const OUTPUT_WAIT = Duration.seconds(30)

/**
 * Watching a live runner: its output counted, its activity, exit, attention and pane sizes
 * taken into its state, and its `maxDurationMs` enforced; every fiber in the runner's scope.
 */
export const makeWatch = (ctx: RegistryContext, control: Control, workspace: WorkspaceOps) =>
  Effect.gen(function* () {
    const { settings, update, persist, emitEvent, markUnflushed } = ctx
    // Taken here, in the registry's context: auto-approve records to it when the server has one.
    const audit = yield* Effect.serviceOption(AuditLog)
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
        entry.screenRules = rules
        const hooked = agentHooks(state.provider, entry.logDir)
        // A restart starts from the prompt the journal kept, its rule and dialog included, so
        // that the re-check finds the same prompt (same id) rather than a new one.
        const restored = state.waitingForInput ? attentionOf(state) : undefined
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
              const before = attentionOf(s)
              if (
                a.waitingForInput === before.waitingForInput &&
                (!a.waitingForInput || samePrompt(a, before))
              ) {
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
              if (a.waitingForInput) yield* autoApprove(entry, handle, rules)
            }),
          ),
          Effect.forkIn(scope),
        )
      })

    /**
     * Answers the prompt the runner now waits on, when `decideAutoApprove` says so and one
     * more capture shows the very same dialog asking the very same thing. Marked answered
     * before the keys go, so a prompt is answered at most once even if typing fails.
     */
    const autoApprove = (
      entry: RunnerEntry,
      handle: ProcessMonitorHandle,
      rules: ReadonlyArray<CompiledScreenRule>,
    ) =>
      Effect.gen(function* () {
        const s = yield* readState(entry)
        const decision = decideAutoApprove(s)
        if (!decision.approve) return
        if (!(yield* promptOnScreen(handle, rules, s))) {
          return yield* Effect.logInfo(
            `auto-approve ${entry.id}: the prompt changed (or the screen could not be read) before it could be answered; left for a person`,
          )
        }
        let mine = false
        yield* update(entry, (st) => {
          mine = st.attentionId === decision.attentionId && st.autoAnsweredId !== st.attentionId
          return mine ? { ...st, autoAnsweredId: decision.attentionId } : st
        })
        if (!mine) return
        yield* persist(entry)
        const typed = yield* handle.write(new TextEncoder().encode(decision.answer.keys)).pipe(
          Effect.as(true),
          Effect.catchAll((e) =>
            Effect.as(
              Effect.logWarning(`auto-approve ${entry.id}: could not type: ${e.message}`),
              false,
            ),
          ),
        )
        if (!typed) return
        yield* update(
          entry,
          (st) => st,
          (now) => [
            {
              type: "auto-reply",
              timestamp: now,
              attentionId: decision.attentionId,
              detail: decision.detail,
              label: decision.answer.label,
              pattern: decision.pattern,
            },
          ],
        )
        if (audit._tag === "Some") {
          yield* audit.value.record({
            user: AUTO_APPROVE_USER,
            action: "runner.auto-approve",
            runnerId: entry.id,
            detail: `${decision.detail} (${decision.answer.label}; allowed by ${decision.pattern})`,
          })
        }
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
      // A fiber waiting on the handle, not a stream reader: most runners never resize, and a
      // suspended stream held some 20 KB more per runner (issue 14).
      return handle.awaitResize.pipe(
        Effect.flatMap((panes) =>
          Effect.gen(function* () {
            for (const p of panes) {
              if (sizes.get(p.id) === `${p.cols}x${p.rows}`) continue
              yield* ctx.feed.emit({
                type: "resize",
                runnerId: entry.id,
                paneId: p.id,
                main: p.id === mainPane,
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
        Effect.forever,
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
