import {
  Clock,
  Duration,
  Effect,
  Queue,
  Runtime,
  type Scope,
  Stream,
  SubscriptionRef,
} from "effect"
import type { ProcessMonitorHandle } from "../ports.js"
import { evaluateScreen, type Screen } from "./evaluate.js"
import type { CompiledScreenRule } from "./rules.js"
import {
  type AttentionHint,
  type AttentionModel,
  type AttentionState,
  defaultAttentionSettings,
  initialAttention,
  makeBellScanner,
  NOT_WAITING,
  onAttentionHint,
  onAttentionOutput,
  onAttentionSample,
} from "./signals.js"

export interface AttentionDetectorOptions {
  readonly handle: Pick<ProcessMonitorHandle, "followOutput" | "logBounds">
  /** The pane's current screen and title (`captureScreen(client, paneId)` in real use). */
  readonly capture: Effect.Effect<Screen, unknown>
  readonly rules: ReadonlyArray<CompiledScreenRule>
  /** The agent's own signals, e.g. `followHookFile` on the runner's hook file. */
  readonly hints?: Stream.Stream<AttentionHint>
  /** The state known before this detector started (kept across a server restart). */
  readonly initial?: AttentionState
  readonly debounceMs?: number
  readonly recheckMs?: number
  readonly confirmMs?: number
}

type InboxEvent =
  | { readonly kind: "output"; readonly at: number; readonly bell: boolean }
  | { readonly kind: "hint"; readonly at: number; readonly hint: AttentionHint }

// Hints come a few per agent turn; this only bounds a driver stuck behind a slow capture.
const MAX_INBOX_EVENTS = 64

export interface AttentionDetector {
  /** The current state first, then each change once. */
  readonly changes: Stream.Stream<AttentionState>
  readonly current: Effect.Effect<AttentionState>
}

/**
 * Follows a pane's new output, and the agent's hints when given, and turns them into attention
 * transitions (see `onAttentionSample` and `onAttentionHint` for the rules). Captures happen
 * only after output or a `working` hint (plus one look at start): a quiet pane in a settled
 * state parks its fiber on a queue, with no timer.
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
    const initial = options.initial ?? NOT_WAITING
    const ref = yield* SubscriptionRef.make<AttentionState>(initial)
    // From the end: what was printed before we started watching is not a new event.
    const start = yield* options.handle.logBounds.pipe(
      Effect.map((b) => b.end),
      Effect.orElseSucceed(() => 0),
    )

    // Output and hints since the driver last looked. Output is folded into its latest time
    // (plus a bell); a hint first closes the output before it, so the driver replays both in
    // order. The one-slot queues only wake the driver.
    const inbox: { at: number | undefined; bell: boolean; events: Array<InboxEvent> } = {
      at: undefined,
      bell: false,
      events: [],
    }
    const wake = yield* Queue.sliding<void>(1)
    // Hints have their own signal: they cut a debounce sleep short, output does not.
    const hintWake = yield* Queue.sliding<void>(1)
    const scanner = makeBellScanner()
    // Called for every chunk of a busy pane: plain code, the clock read without a fiber.
    const clock = yield* Effect.clock
    const runtime = yield* Effect.runtime<never>()
    yield* options.handle
      .followOutput(start, {
        onChunk: (chunk) => {
          inbox.bell = scanner.push(chunk.bytes) || inbox.bell
          inbox.at = clock.unsafeCurrentTimeMillis()
          Queue.unsafeOffer(wake, undefined)
        },
        onError: (error) =>
          Runtime.runFork(runtime)(
            Effect.logWarning(`attention: stopped following output: ${error.message}`),
          ),
      })
      .pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(`attention: cannot follow output: ${error.message}`),
        ),
      )

    if (options.hints !== undefined) {
      yield* options.hints.pipe(
        Stream.runForEach((hint) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            if (inbox.at !== undefined) {
              inbox.events.push({ kind: "output", at: inbox.at, bell: inbox.bell })
              inbox.at = undefined
              inbox.bell = false
            }
            inbox.events.push({ kind: "hint", at: now, hint })
            // Bounded: a driver that falls this far behind loses the oldest events.
            const excess = inbox.events.length - MAX_INBOX_EVENTS
            if (excess > 0) inbox.events.splice(0, excess)
            return Queue.offer(hintWake, undefined)
          }),
        ),
        Effect.catchAllCause((cause) =>
          Effect.logWarning("attention: stopped following hints", cause),
        ),
        Effect.forkScoped,
      )
    }

    const takeInbox = () => {
      const seen = { at: inbox.at, bell: inbox.bell, events: inbox.events }
      inbox.at = undefined
      inbox.bell = false
      inbox.events = []
      return seen
    }

    const driver = Effect.gen(function* () {
      let model: AttentionModel = initialAttention(
        yield* Clock.currentTimeMillis,
        settings,
        initial,
      )
      const publish = (changed: AttentionState | undefined) =>
        changed === undefined ? Effect.void : SubscriptionRef.set(ref, changed)
      for (;;) {
        const pending = model.pending
        if (pending === undefined) {
          yield* Effect.race(Queue.take(wake), Queue.take(hintWake))
        } else {
          const now = yield* Clock.currentTimeMillis
          if (pending.at > now) {
            yield* Effect.race(
              Effect.sleep(Duration.millis(pending.at - now)),
              Queue.take(hintWake),
            )
          }
        }
        yield* Queue.takeAll(wake)
        yield* Queue.takeAll(hintWake)
        const seen = takeInbox()
        if (seen.at !== undefined || seen.events.length > 0) {
          for (const event of seen.events) {
            if (event.kind === "output") {
              model = onAttentionOutput(model, event.at, event.bell, settings)
            } else {
              const step = onAttentionHint(model, event.at, event.hint, settings)
              model = step.model
              yield* publish(step.changed)
            }
          }
          if (seen.at !== undefined) model = onAttentionOutput(model, seen.at, seen.bell, settings)
          continue
        }
        if (pending === undefined) continue
        // A stale hint signal can end the sleep early with nothing new: the capture is not due.
        if (pending.at > (yield* Clock.currentTimeMillis)) continue
        const screen = yield* options.capture.pipe(Effect.option)
        const at = yield* Clock.currentTimeMillis
        if (screen._tag === "None") {
          // The pane is gone or tmux is busy: keep the state, wait for more output.
          model = { ...model, pending: undefined }
          continue
        }
        // Output or a hint during the capture makes a debounce sample stale; a re-check stays
        // valid (what came during it is replayed after it, in order).
        const moved = inbox.at !== undefined || inbox.events.length > 0
        if (moved && pending.kind !== "recheck") continue
        const step = onAttentionSample(
          model,
          at,
          evaluateScreen(screen.value, options.rules),
          settings,
        )
        model = step.model
        yield* publish(step.changed)
      }
    })
    yield* Effect.forkScoped(driver)

    return { changes: ref.changes, current: SubscriptionRef.get(ref) }
  })
