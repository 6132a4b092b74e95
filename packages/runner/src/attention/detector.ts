import { Clock, Duration, Effect, Queue, type Scope, Stream, SubscriptionRef } from "effect"
import type { ProcessMonitorHandle } from "../ports.js"
import { evaluateScreen } from "./evaluate.js"
import type { CompiledScreenRule } from "./rules.js"
import {
  type AttentionModel,
  type AttentionState,
  defaultAttentionSettings,
  initialAttention,
  makeBellScanner,
  NOT_WAITING,
  onAttentionOutput,
  onAttentionSample,
} from "./signals.js"

export interface AttentionDetectorOptions {
  readonly handle: Pick<ProcessMonitorHandle, "output" | "logBounds">
  /** The pane's current screen as plain lines (`sessions.capturePane(paneId)` in real use). */
  readonly capture: Effect.Effect<ReadonlyArray<string>, unknown>
  readonly rules: ReadonlyArray<CompiledScreenRule>
  readonly debounceMs?: number
  readonly recheckMs?: number
  readonly confirmMs?: number
}

export interface AttentionDetector {
  /** The current state first, then each change once. */
  readonly changes: Stream.Stream<AttentionState>
  readonly current: Effect.Effect<AttentionState>
}

/**
 * Follows a pane's new output and turns it into attention transitions (see `onAttentionSample` for
 * the rules). Captures happen only after output (plus one look at start): a quiet pane in a
 * settled state parks its fiber on a queue, with no timer.
 */
export const makeAttentionDetector = (
  options: AttentionDetectorOptions,
): Effect.Effect<AttentionDetector, never, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = {
      debounceMs: options.debounceMs ?? defaultAttentionSettings.debounceMs,
      confirmMs: options.confirmMs ?? defaultAttentionSettings.confirmMs,
      recheckMs: options.recheckMs ?? defaultAttentionSettings.recheckMs,
    }
    const ref = yield* SubscriptionRef.make<AttentionState>(NOT_WAITING)
    // From the end: what was printed before we started watching is not a new event.
    const start = yield* options.handle.logBounds.pipe(
      Effect.map((b) => b.end),
      Effect.orElseSucceed(() => 0),
    )

    // Output since the driver last looked; the one-slot queue only wakes it.
    const inbox: { at: number | undefined; bell: boolean } = { at: undefined, bell: false }
    const wake = yield* Queue.sliding<void>(1)
    const scanner = makeBellScanner()
    yield* options.handle.output(start).pipe(
      Stream.runForEach((chunk) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          inbox.bell = scanner.push(chunk.bytes) || inbox.bell
          inbox.at = now
          return Queue.offer(wake, undefined)
        }),
      ),
      Effect.catchAllCause((cause) =>
        Effect.logWarning("attention: stopped following output", cause),
      ),
      Effect.forkScoped,
    )

    const takeInbox = () => {
      const seen = { at: inbox.at, bell: inbox.bell }
      inbox.at = undefined
      inbox.bell = false
      return seen
    }

    const driver = Effect.gen(function* () {
      let model: AttentionModel = initialAttention(yield* Clock.currentTimeMillis, settings)
      for (;;) {
        const pending = model.pending
        if (pending === undefined) {
          yield* Queue.take(wake)
        } else {
          const now = yield* Clock.currentTimeMillis
          if (pending.at > now) yield* Effect.sleep(Duration.millis(pending.at - now))
          yield* Queue.takeAll(wake)
        }
        const seen = takeInbox()
        if (seen.at !== undefined) {
          model = onAttentionOutput(model, seen.at, seen.bell, settings)
          continue
        }
        if (pending === undefined) continue
        const lines = yield* options.capture.pipe(Effect.option)
        const at = yield* Clock.currentTimeMillis
        if (lines._tag === "None") {
          // The pane is gone or tmux is busy: keep the state, wait for more output.
          model = { ...model, pending: undefined }
          continue
        }
        // Output during the capture makes a debounce sample stale; a re-check stays valid.
        if (inbox.at !== undefined && pending.kind !== "recheck") continue
        const step = onAttentionSample(
          model,
          at,
          evaluateScreen(lines.value, options.rules),
          settings,
        )
        model = step.model
        if (step.changed !== undefined) yield* SubscriptionRef.set(ref, step.changed)
      }
    })
    yield* Effect.forkScoped(driver)

    return { changes: ref.changes, current: SubscriptionRef.get(ref) }
  })
