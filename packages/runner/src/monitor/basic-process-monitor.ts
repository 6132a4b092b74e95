import { type ChildProcessByStdio, spawn as spawnChild } from "node:child_process"
import { join } from "node:path"
import type { Readable, Writable } from "node:stream"
import { Clock, Deferred, Duration, Effect, Exit, Layer, Option, Queue, Stream } from "effect"
import { RunnerConfig } from "../config.js"
import {
  describeCause,
  type LogStoreError,
  ProcessMonitorError,
  processMonitorFailure,
} from "../domain/errors.js"
import type { ProcessEvent } from "../domain/events.js"
import type { ProcessId } from "../domain/ids.js"
import { validateArgv, validateCwd, validateEnv } from "../domain/validate.js"
import type { DirWatch } from "../logs/dir-watch.js"
import { followLogChunks } from "../logs/log-feed.js"
import { LogStore } from "../logs/log-store.js"
import { makeSegmentWriter, type SegmentWriter } from "../logs/segment-writer.js"
import type { ProcessMonitorHandle, ProcessMonitorPort } from "../ports.js"
import { requireFreshLog } from "./fresh-log.js"
import { type ExitEvent, makeMonitorCore } from "./monitor-core.js"
import { ProcessMonitorTag } from "./process-monitor-tag.js"
import { descendantPids, killLeftovers, signalQuietly } from "./process-tree.js"

const CHUNK_BYTES = 64 * 1024
/** How long an exit waits for the pipes to close: a background child may hold them open. */
const CLOSE_WAIT = Duration.seconds(1)

interface ChildExit {
  readonly code: number | null
  readonly signal: string | null
}

/** One change signal over two folders, so stderr output counts as activity too. */
const mergeWatches = (a: DirWatch, b: DirWatch): DirWatch => ({
  // Both counters only grow, so an unchanged sum means neither moved.
  version: () => a.version() + b.version(),
  awaitChange: (since) =>
    Effect.suspend(() =>
      a.version() + b.version() !== since
        ? Effect.void
        : Effect.raceFirst(a.awaitChange(a.version()), b.awaitChange(b.version())),
    ),
  onChange: (listener) => {
    const stopA = a.onChange(listener)
    const stopB = b.onChange(listener)
    return () => {
      stopA()
      stopB()
    }
  },
})

/** Logs every byte of `stream` in order; `onClosed` runs once the last byte is on disk. */
const logStream = (
  stream: Readable,
  writer: SegmentWriter,
  onFailure: (error: LogStoreError) => void,
  onClosed: () => void,
) => {
  stream.on("data", (chunk: Buffer) => {
    const failure = writer.append(chunk)
    if (failure !== undefined) onFailure(failure)
  })
  // A read error is followed by `close`, which ends the log.
  stream.on("error", () => undefined)
  stream.on("close", () => {
    writer.close()
    onClosed()
  })
}

/** A started child and what its Node callbacks have reported so far. */
interface RunningChild {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>
  readonly pid: number
  readonly exited: Deferred.Deferred<ChildExit>
  /** Both output pipes closed: every byte is on disk. */
  readonly closed: Deferred.Deferred<void>
  readonly failures: Queue.Dequeue<LogStoreError>
}

/**
 * Starts `command` with its output appended to the writers. Every callback is attached
 * before control returns to Effect, and they only complete Deferreds or offer to a queue,
 * so no byte, exit or failure is missed while the monitor is being wired up.
 * Uninterruptible: `spawn` or `error` follows at once, and a child started by an interrupted
 * call would have no handle to stop it.
 */
const startChild = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env: Readonly<Record<string, string>> },
  stdout: SegmentWriter,
  stderr: SegmentWriter,
): Effect.Effect<RunningChild, unknown> =>
  Effect.gen(function* () {
    const started = yield* Deferred.make<void, Error>()
    const exited = yield* Deferred.make<ChildExit>()
    const closed = yield* Deferred.make<void>()
    const failures = yield* Queue.sliding<LogStoreError>(4)
    const child = yield* Effect.try(() => {
      const child = spawnChild(command, [...args], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ["pipe", "pipe", "pipe"],
        // Its own process group, so terminate reaches everything it started.
        detached: true,
      })
      child.once("spawn", () => Deferred.unsafeDone(started, Exit.void))
      child.on("error", (error) => Deferred.unsafeDone(started, Exit.fail(error)))
      child.on("exit", (code, signal) =>
        Deferred.unsafeDone(exited, Exit.succeed({ code, signal })),
      )
      child.stdin.on("error", () => undefined) // EPIPE after exit: `write` reports it
      let open = 2
      const onClosed = () => {
        if (--open === 0) Deferred.unsafeDone(closed, Exit.void)
      }
      const onFailure = (error: LogStoreError) => Queue.unsafeOffer(failures, error)
      logStream(child.stdout, stdout, onFailure, onClosed)
      logStream(child.stderr, stderr, onFailure, onClosed)
      return child
    }).pipe(Effect.mapError((e) => e.error))
    yield* Deferred.await(started)
    if (child.pid === undefined) return yield* Effect.fail("the child has no pid")
    return { child, pid: child.pid, exited, closed, failures }
  }).pipe(Effect.uninterruptible)

/**
 * `ProcessMonitorPort` over a plain child process with pipes, for non-interactive jobs:
 * stdout is logged in the process folder and stderr in its `stderr/` subfolder, both by
 * this server (so, unlike tmux, output is not logged while the server is down).
 *
 * `events` orders stdout and control events exactly, at their stdout offsets. stderr output
 * (its offsets count stderr bytes, and `eventsFrom` always replays it from its oldest kept
 * byte) is interleaved as it is read: best effort, since the two pipes share no clock.
 * `exit` comes last, after every byte of both. stderr output counts as activity too.
 */
export const makeBasicProcessMonitor = Effect.gen(function* () {
  const config = yield* RunnerConfig
  const logs = yield* LogStore
  const services = yield* Effect.context<RunnerConfig | LogStore>()

  const failWith = processMonitorFailure

  /** stderr output events until the log reaches `cutoff` (known once the process has exited). */
  const stderrEvents = (
    processId: ProcessId,
    dir: string,
    cutoff: Deferred.Deferred<number>,
  ): Stream.Stream<ProcessEvent, ProcessMonitorError> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const watch = yield* logs
          .watch(dir)
          .pipe(Effect.mapError(failWith(processId, "could not watch the stderr log")))
        const reader = yield* logs.openReader(dir, 0)
        return Stream.repeatEffectOption(
          Effect.gen(function* () {
            for (;;) {
              const seen = watch.version()
              const known = yield* Deferred.poll(cutoff)
              const limit = Option.isSome(known) ? yield* known.value : undefined
              // A background job may keep writing after the exit: stop at the cutoff.
              if (limit !== undefined && reader.position() >= limit) {
                return yield* Effect.fail(Option.none())
              }
              const chunk = yield* reader
                .read(CHUNK_BYTES)
                .pipe(
                  Effect.mapError((e) =>
                    Option.some(failWith(processId, "could not read the stderr log")(e)),
                  ),
                )
              if (chunk !== undefined) {
                return {
                  _tag: "output",
                  source: "stderr",
                  offset: chunk.offset,
                  data: chunk.bytes,
                  timestamp: yield* Clock.currentTimeMillis,
                } satisfies ProcessEvent
              }
              // Appends are synchronous, so once the cutoff is known an empty read is the end.
              if (limit !== undefined) return yield* Effect.fail(Option.none())
              yield* Effect.raceFirst(watch.awaitChange(seen), Deferred.await(cutoff))
            }
          }),
        )
      }),
    )

  /** SIGINT, SIGTERM, SIGKILL to the group, each after a grace period; then leftovers. */
  const stop = ({ pid, exited }: RunningChild) =>
    Effect.gen(function* () {
      const grace = Duration.millis(config.terminateGraceMs)
      const waitExit = (duration: Duration.Duration) =>
        Deferred.await(exited).pipe(
          Effect.timeoutTo({ duration, onSuccess: () => true, onTimeout: () => false }),
        )
      let pids: ReadonlyArray<number> = []
      if (!(yield* Deferred.isDone(exited))) {
        // Read before signalling: once a parent dies its children lose the link to it.
        pids = yield* Effect.promise(() => descendantPids(pid))
        signalQuietly(-pid, "SIGINT")
        if (!(yield* waitExit(grace))) {
          signalQuietly(-pid, "SIGTERM")
          if (!(yield* waitExit(grace))) {
            signalQuietly(-pid, "SIGKILL")
            yield* waitExit(Duration.seconds(5))
          }
        }
      }
      // Background jobs left in its group, and descendants that left the group.
      yield* killLeftovers(pid, pids, Deferred.isDone(exited))
    })

  /** Exact bytes to stdin; waiting for the flush bounds Node's buffer by the writes in flight. */
  const writeInput = (processId: ProcessId, { child }: RunningChild) => {
    const inputError = (message: string) =>
      new ProcessMonitorError({ processId, message: `could not send input: ${message}` })
    return (data: Uint8Array) =>
      Effect.async<void, ProcessMonitorError>((resume) => {
        if (!child.stdin.writable) {
          resume(Effect.fail(inputError("the process's input is closed")))
          return
        }
        child.stdin.write(data, (error) =>
          resume(
            error === null || error === undefined
              ? Effect.void
              : Effect.fail(inputError(describeCause(error))),
          ),
        )
      })
  }

  /** Watching of a started child; the handle's scope owns the watching, not the child. */
  const monitorChild = (
    processId: ProcessId,
    outDir: string,
    errDir: string,
    stderrWriter: SegmentWriter,
    running: RunningChild,
  ) =>
    Effect.gen(function* () {
      const watch = mergeWatches(
        yield* logs
          .watch(outDir)
          .pipe(Effect.mapError(failWith(processId, "could not watch the log"))),
        yield* logs
          .watch(errDir)
          .pipe(Effect.mapError(failWith(processId, "could not watch the stderr log"))),
      )
      let pipesClosed = false
      const core = yield* makeMonitorCore({
        processId,
        logDir: outDir,
        source: "stdout",
        watch,
        logs,
        activity: { idleMs: config.idleThresholdMs, confirmMs: config.activeConfirmMs },
        startActive: true,
        // Closed pipes mean every byte is on disk; before that, settle by looking twice.
        writerDrained: () => Promise.resolve(pipesClosed ? true : undefined),
      })
      // After the scope closes nothing records the exit, so `terminate` must not wait for it.
      let watching = true
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          watching = false
        }),
      )

      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(running.failures), (error) =>
            core.publish({
              _tag: "error",
              error: failWith(processId, "could not write the output log")(error),
            }),
          ),
        ),
      )
      const stderrCutoff = yield* Deferred.make<number>()
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          const { code, signal } = yield* Deferred.await(running.exited)
          pipesClosed = yield* Deferred.await(running.closed).pipe(
            Effect.timeoutTo({
              duration: CLOSE_WAIT,
              onSuccess: () => true,
              onTimeout: () => false,
            }),
          )
          yield* Deferred.succeed(stderrCutoff, stderrWriter.position())
          yield* core.recordExit(code, signal)
        }),
      )

      const eventsFrom = (from: number): Stream.Stream<ProcessEvent, ProcessMonitorError> =>
        Stream.unwrap(
          Effect.gen(function* () {
            // Held back until stderr is drained too, so `exit` stays the last event.
            const exit = yield* Deferred.make<ExitEvent>()
            const beforeExit = core
              .eventsFrom(from)
              .pipe(
                Stream.filterEffect((event) =>
                  event._tag === "exit"
                    ? Effect.as(Deferred.succeed(exit, event), false)
                    : Effect.succeed(true),
                ),
              )
            return Stream.merge(beforeExit, stderrEvents(processId, errDir, stderrCutoff)).pipe(
              Stream.concat(Stream.fromEffect(Deferred.await(exit))),
            )
          }),
        )

      const terminate = Effect.gen(function* () {
        yield* stop(running)
        if (watching) yield* core.awaitExit
      }).pipe(Effect.withSpan("BasicProcessMonitor.terminate"))

      return {
        processId,
        sessionInfo: undefined,
        events: eventsFrom(0),
        eventsFrom,
        controlEvents: core.controlFrom,
        output: (offset) => logs.tail(outDir, offset),
        // stdout only, like `output`: stderr is a stream of its own in `events`.
        followOutput: (offset, follower) => followLogChunks(outDir, offset, follower),
        logBounds: logs.bounds(outDir),
        getActivityState: core.activity,
        awaitExit: core.awaitExit,
        write: writeInput(processId, running),
        terminate,
      } satisfies ProcessMonitorHandle
    })

  const spawn: ProcessMonitorPort["spawn"] = Effect.fn("BasicProcessMonitor.spawn")(
    function* (command, args, options) {
      const { processId } = options
      const cwd = options.cwd ?? process.cwd()
      const env = options.env ?? {}
      yield* validateArgv([command, ...args])
      yield* validateEnv(env)
      yield* validateCwd(cwd)
      const outDir = logs.processDir(processId)
      const errDir = join(outDir, "stderr")
      yield* requireFreshLog(logs, processId, [outDir, errDir])
      const [outWriter, errWriter] = yield* Effect.all([
        makeSegmentWriter(outDir),
        makeSegmentWriter(errDir),
      ]).pipe(
        Effect.provide(services),
        Effect.mapError(failWith(processId, "could not create the log")),
      )
      const running = yield* startChild(command, args, { cwd, env }, outWriter, errWriter).pipe(
        Effect.catchAll((cause) =>
          Effect.zipRight(
            Effect.ignore(logs.remove(outDir)), // nothing was logged: leave no empty folder
            new ProcessMonitorError({
              processId,
              message: `could not start ${JSON.stringify(command)}: ${describeCause(cause)}`,
              cause: describeCause(cause),
            }),
          ),
        ),
      )
      return yield* monitorChild(processId, outDir, errDir, errWriter, running).pipe(
        // Without a handle nothing could stop it: a child we cannot watch does not outlive us.
        Effect.onError(() => Effect.sync(() => signalQuietly(-running.pid, "SIGKILL"))),
      )
    },
  )

  const monitorExisting: ProcessMonitorPort["monitorExisting"] = (sessionName, options) =>
    Effect.fail(
      new ProcessMonitorError({
        processId: options.processId,
        message: `the basic adapter runs plain child processes and cannot adopt tmux session ${JSON.stringify(sessionName)}`,
      }),
    )

  return { spawn, monitorExisting } satisfies ProcessMonitorPort
})

/** The child-process `ProcessMonitorPort` (no tmux), for non-interactive jobs. */
export const BasicProcessMonitorLive = Layer.effect(ProcessMonitorTag, makeBasicProcessMonitor)
