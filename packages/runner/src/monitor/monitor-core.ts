import { Clock, Deferred, Effect, Option, PubSub, Queue, type Scope, Stream } from "effect"
import { ProcessMonitorError } from "../domain/errors.js"
import type { ActivityState, ControlEvent, OutputSource, ProcessEvent } from "../domain/events.js"
import type { ProcessId } from "../domain/ids.js"
import type { DirWatch } from "../logs/dir-watch.js"
import { type LogStore, makeReadPacer, openLogReader } from "../logs/log-store.js"
import { type ActivitySettings, initialActivity, runActivityTracker } from "./activity.js"

const CHUNK_BYTES = 64 * 1024
/** Control events kept for late subscribers; old activity flips fall off first. */
const HISTORY_LIMIT = 1000

export type ExitEvent = Extract<ProcessEvent, { _tag: "exit" }>
/** A control event as its publisher makes it; `publish` stamps the offset and the time. */
export type ControlEventBody = ControlEvent extends infer E
  ? E extends ControlEvent
    ? Omit<E, "offset" | "timestamp">
    : never
  : never

/**
 * What every adapter shares once bytes land in a log folder: activity from the folder's
 * change signal, control events stamped with the log offset they follow, and per-subscriber
 * ordered streams that interleave output and control events at the right byte.
 */
export interface MonitorCore {
  readonly processId: ProcessId
  readonly logDir: string
  readonly publish: (event: ControlEventBody) => Effect.Effect<void>
  /** Publishes `exit` once (after the log stops growing) and resolves `awaitExit`. */
  readonly recordExit: (exitCode: number | null, signal: string | null) => Effect.Effect<void>
  readonly awaitExit: Effect.Effect<ExitEvent>
  readonly exited: Effect.Effect<boolean>
  readonly activity: Effect.Effect<ActivityState>
  readonly eventsFrom: (from: number) => Stream.Stream<ProcessEvent, ProcessMonitorError>
  /** Control events only (no output), from `from`; ends after `exit`. */
  readonly controlFrom: (from: number) => Stream.Stream<ControlEvent>
  /** Waits until the log end is unchanged for two looks 25 ms apart (at most `maxMs`). */
  readonly settleLog: (maxMs: number) => Effect.Effect<number>
}

export const makeMonitorCore = (options: {
  readonly processId: ProcessId
  readonly logDir: string
  readonly source: OutputSource
  readonly watch: DirWatch
  readonly logs: LogStore
  readonly activity: ActivitySettings
  readonly startActive: boolean
  /**
   * Whether the out-of-process writer has written all it was given (see writer-drain.ts).
   * Never rejects: `undefined` when it cannot tell.
   */
  readonly writerDrained?: () => Promise<boolean | undefined>
  /** Told of every activity transition, after it is published. */
  readonly onActivityChange?: (state: ActivityState) => Effect.Effect<void>
}): Effect.Effect<MonitorCore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { processId, logDir, logs, watch } = options
    const pubsub = yield* PubSub.sliding<ControlEvent>(HISTORY_LIMIT)
    const lock = yield* Effect.makeSemaphore(1)
    const history: ControlEvent[] = []
    const exitDeferred = yield* Deferred.make<ExitEvent>()
    const monitorError = (message: string, cause: unknown) =>
      new ProcessMonitorError({ processId, message, cause: String(cause) })

    const logEnd = logs.bounds(logDir).pipe(
      Effect.map((b) => b.end),
      Effect.orElseSucceed(() => 0),
    )

    const publish = (body: ControlEventBody) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          // An event sits where the log is when it is published; a log gap where the gap is
          // (the new writer may have logged more by the time it is published).
          const offset = body._tag === "log-gap" ? body.logOffset : yield* logEnd
          const timestamp = yield* Clock.currentTimeMillis
          const event = { ...body, offset, timestamp } as ControlEvent
          history.push(event)
          if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT)
          yield* PubSub.publish(pubsub, event)
        }),
      )

    const drained = options.writerDrained
    const settleLog = (maxMs: number) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        let last = yield* logEnd
        for (;;) {
          const verdict = drained === undefined ? undefined : yield* Effect.promise(drained)
          if (verdict === true) {
            const end = yield* logEnd
            if (end === last) return end
            last = end
            continue
          }
          yield* Effect.sleep("25 millis")
          const next = yield* logEnd
          // Without a kernel verdict, two equal looks 25 ms apart count as settled.
          if (verdict === undefined && next === last) return next
          last = next
          if ((yield* Clock.currentTimeMillis) - started > maxMs) return next
        }
      })

    let exitClaimed = false
    const recordExit = (exitCode: number | null, signal: string | null) =>
      Effect.gen(function* () {
        // The first report of an exit wins; later ones (hook, vanish check) just wait for it.
        if (exitClaimed) return
        exitClaimed = true
        // tmux may still be flushing the pane's last bytes into the writer.
        yield* settleLog(2_000)
        yield* publish({ _tag: "exit", exitCode, signal })
        const exit = history.findLast((e): e is ExitEvent => e._tag === "exit")
        if (exit !== undefined) yield* Deferred.succeed(exitDeferred, exit)
      }).pipe(Effect.uninterruptible)

    // Activity: output signals come from the folder watch (a segment file changed).
    const signals = yield* Queue.sliding<number>(1)
    const now = yield* Clock.currentTimeMillis
    const tracker = {
      model: options.startActive
        ? initialActivity(now)
        : {
            state: "idle" as const,
            lastOutputAt: now,
            burstStartedAt: undefined,
          },
    }
    // The watch calls back outside any fiber: the clock is taken once, so TestClock drives it.
    const clock = yield* Effect.clock
    const stopListening = watch.onChange((filename) => {
      if (filename.startsWith("out-")) Queue.unsafeOffer(signals, clock.unsafeCurrentTimeMillis())
    })
    yield* Effect.addFinalizer(() => Effect.sync(stopListening))
    yield* runActivityTracker(
      signals,
      options.activity,
      (state) =>
        Effect.zipRight(
          publish({ _tag: "activity", state }),
          options.onActivityChange?.(state) ?? Effect.void,
        ),
      tracker,
    ).pipe(Effect.raceFirst(Deferred.await(exitDeferred)), Effect.forkScoped)

    /** The events kept at or after `from` (and an exit, always), and every later one. */
    const subscribeControl = (from: number) =>
      lock.withPermits(1)(
        Effect.map(PubSub.subscribe(pubsub), (live) => ({
          backlog: history.filter((e) => e.offset >= from || e._tag === "exit"),
          live,
        })),
      )

    const controlFrom = (from: number): Stream.Stream<ControlEvent> =>
      Stream.unwrapScoped(
        Effect.map(subscribeControl(from), ({ backlog, live }) =>
          Stream.concat(Stream.fromIterable(backlog), Stream.fromQueue(live)).pipe(
            Stream.takeUntil((e) => e._tag === "exit"),
          ),
        ),
      )

    const eventsFrom = (from: number): Stream.Stream<ProcessEvent, ProcessMonitorError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const reader = yield* openLogReader(logDir, from)
          const { backlog, live } = yield* subscribeControl(from)
          const pending: ControlEvent[] = [...backlog]
          const pace = makeReadPacer()
          let done = false
          const next: Effect.Effect<ProcessEvent, Option.Option<ProcessMonitorError>> = Effect.gen(
            function* () {
              for (;;) {
                if (done) return yield* Effect.fail(Option.none())
                pending.push(...(yield* Queue.takeAll(live)))
                const head = pending[0]
                const position = reader.position()
                if (head !== undefined && head.offset <= position) {
                  pending.shift()
                  if (head._tag === "exit") done = true
                  return head
                }
                const seen = watch.version()
                const limit =
                  head === undefined ? CHUNK_BYTES : Math.min(CHUNK_BYTES, head.offset - position)
                const chunk = yield* reader
                  .read(limit)
                  .pipe(
                    Effect.mapError((e) =>
                      Option.some(monitorError("could not read the output log", e.message)),
                    ),
                  )
                if (chunk !== undefined) {
                  return {
                    _tag: "output",
                    source: options.source,
                    offset: chunk.offset,
                    data: chunk.bytes,
                    timestamp: yield* Clock.currentTimeMillis,
                  } satisfies ProcessEvent
                }
                const arrived = yield* Effect.raceFirst(
                  Effect.as(watch.awaitChange(seen), undefined),
                  Queue.take(live),
                )
                if (arrived !== undefined) pending.push(arrived)
                else yield* pace
              }
            },
          )
          return Stream.repeatEffectOption(next)
        }),
      )

    return {
      processId,
      logDir,
      publish,
      recordExit,
      awaitExit: Deferred.await(exitDeferred),
      exited: Deferred.isDone(exitDeferred),
      activity: Effect.sync(() => tracker.model.state),
      eventsFrom,
      controlFrom,
      settleLog,
    }
  })
