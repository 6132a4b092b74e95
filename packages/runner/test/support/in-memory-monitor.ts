import { readFileSync, writeFileSync } from "node:fs"
import { constants as osConstants } from "node:os"
import { basename, join } from "node:path"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  FiberId,
  Layer,
  Option,
  PubSub,
  Queue,
  type Scope,
  Stream,
} from "effect"
import type { Screen } from "../../src/attention/evaluate.js"
import { RunnerConfig, type RunnerConfigShape } from "../../src/config.js"
import { describeCause, LogStoreError, ProcessMonitorError } from "../../src/domain/errors.js"
import type { ActivityState, ControlEvent, ProcessEvent } from "../../src/domain/events.js"
import { decodeSessionName, PaneId, type ProcessId } from "../../src/domain/ids.js"
import { validateArgv, validateCwd, validateEnv, validateSize } from "../../src/domain/validate.js"
import { CHUNK_BYTES, type LogChunk, LogCursor } from "../../src/logs/log-cursor.js"
import type { LogFollower, LogSubscription } from "../../src/logs/log-feed.js"
import { LogStore, openLogReader } from "../../src/logs/log-store.js"
import { createSegmentWriter, type SegmentWriter } from "../../src/logs/segment-writer.js"
import { initialActivity, runActivityTracker } from "../../src/monitor/activity.js"
import type { ControlEventBody, ExitEvent } from "../../src/monitor/monitor-core.js"
import { ProcessMonitorTag } from "../../src/monitor/process-monitor-tag.js"
import type {
  ListedSession,
  PaneSummary,
  ProcessMonitorHandle,
  ProcessMonitorOptions,
  ProcessMonitorPort,
  TmuxSessionInfo,
} from "../../src/ports.js"
import type { RunnerSnapshot } from "../../src/tmux/pane-snapshot.js"

/**
 * An in-memory `ProcessMonitorPort` for unit tests: no tmux, no child process, every timer on
 * Effect's `Clock` (so `TestClock` drives idle/active, debounce and grace periods). A fake
 * process is driven by the test (`FakeProcess`); its output is appended to real segment
 * files in `logs.processDir(id)` by the production `SegmentWriter`, so every reader of the
 * log (`LogStore.bounds`/`tail`, `followLogChunks` on a finished runner) sees the same files
 * as with tmux. The fake sessions live in an `InMemoryMonitorState` that outlives any one
 * monitor, so a second registry built on the same state rediscovers them, as after a restart.
 *
 * What differs from tmux, on purpose: a handle's `followOutput` hands new bytes to its
 * followers synchronously inside `print` (the tmux path wakes them through the folder watch),
 * so a test knows every follower has seen a chunk when `print` returns.
 */

/** How a fake process ended. */
export interface FakeExit {
  readonly exitCode: number | null
  readonly signal: string | null
}

/** A control operation a handle performed on a fake process, in order. */
export type MonitorCall =
  | { readonly op: "pause" }
  | { readonly op: "resume" }
  | { readonly op: "terminate"; readonly signal: "SIGINT" | "SIGTERM" | "SIGKILL" }
  | { readonly op: "resize"; readonly cols: number; readonly rows: number }
  | { readonly op: "closeSession" }

export type FakeStatus = "running" | "paused" | "exited" | "gone"

/** One fake process in its fake session, as a test drives and inspects it. */
export interface FakeProcess {
  /** Our id (`metadata.id`); `undefined` for a session nobody adopted yet. */
  readonly processId: () => ProcessId | undefined
  readonly sessionName: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly metadata: () => Readonly<Record<string, string>>
  /** Output: appended to the log, handed to every follower, counted as activity. */
  readonly print: (data: string | Uint8Array) => Effect.Effect<void>
  /** What `captureScreen` returns from now on (rows as plain text, and the title). */
  readonly setScreen: (lines: ReadonlyArray<string>, title?: string) => Effect.Effect<void>
  /** `setScreen`, and the rows printed as output (a program redrawing its screen). */
  readonly draw: (lines: ReadonlyArray<string>, title?: string) => Effect.Effect<void>
  /**
   * The process ends: the `exit` file is written into its log folder (as tmux's pane-died
   * hook does) and its pane stays, dead, until a handle closes the session.
   */
  readonly exit: (exitCode: number | null, signal?: string | null) => Effect.Effect<void>
  /** The session disappears with no exit recorded (killed outside Geppetto). */
  readonly vanish: Effect.Effect<void>
  /**
   * How many of terminate's signals (C-c, SIGTERM) the process ignores; each ignored one
   * costs `terminateGraceMs` on the Clock. 0 (default): C-c ends it; 2: only SIGKILL does.
   */
  readonly ignoreSignals: (count: 0 | 1 | 2) => void
  /** Every byte written to the process (`handle.write`), as text. */
  readonly typed: () => string
  readonly calls: () => ReadonlyArray<MonitorCall>
  readonly status: () => FakeStatus
  readonly size: () => { readonly cols: number; readonly rows: number }
  /** Handles watching it now (0 while no registry is open). */
  readonly watchers: () => number
}

interface Watcher {
  readonly onOutput: (at: number) => void
  readonly onExit: (exit: FakeExit) => Effect.Effect<void>
  readonly onVanish: Effect.Effect<void>
}

interface Sub {
  readonly follower: LogFollower
  readonly cursor: LogCursor
  position: number
  paused: boolean
  closed: boolean
}

class FakeSession {
  processId: ProcessId | undefined
  metadata: Readonly<Record<string, string>>
  logDir: string | undefined = undefined
  writer: SegmentWriter | undefined = undefined
  screen: Screen = { lines: [], title: "" }
  cols: number
  rows: number
  paused = false
  exited: FakeExit | undefined = undefined
  gone = false
  ignored = 0
  readonly typedBytes: Uint8Array[] = []
  readonly callLog: MonitorCall[] = []
  readonly watchers = new Set<Watcher>()
  readonly subs = new Set<Sub>()
  readonly sizeListeners = new Set<(panes: ReadonlyArray<PaneSummary>) => void>()
  version = 0
  signal: Deferred.Deferred<void> | undefined = undefined

  constructor(
    readonly name: string,
    readonly sessionId: string,
    readonly windowId: string,
    readonly paneId: PaneId,
    readonly createdAt: number,
    readonly command: string,
    readonly args: ReadonlyArray<string>,
    readonly cwd: string,
    readonly env: Readonly<Record<string, string>>,
    size: { readonly cols: number; readonly rows: number },
    metadata: Readonly<Record<string, string>>,
  ) {
    this.cols = size.cols
    this.rows = size.rows
    this.metadata = metadata
    const id = metadata.id
    this.processId = id === undefined ? undefined : (id as ProcessId)
  }

  end(): number {
    return this.writer?.position() ?? 0
  }

  panes(): ReadonlyArray<PaneSummary> {
    return this.gone ? [] : [{ id: this.paneId, cols: this.cols, rows: this.rows }]
  }

  /** Wakes readers waiting for new bytes or a change of state. */
  bump(): void {
    this.version++
    const fired = this.signal
    this.signal = undefined
    if (fired !== undefined) Deferred.unsafeDone(fired, Exit.void)
  }

  awaitChange(since: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.version !== since) return Effect.void
      this.signal ??= Deferred.unsafeMake<void>(FiberId.none)
      return Deferred.await(this.signal)
    })
  }

  /** Delivers what the log holds past the follower's position, in order. */
  pump(sub: Sub): void {
    while (!sub.closed && !sub.paused) {
      let chunk: LogChunk | undefined
      try {
        chunk = sub.cursor.read(CHUNK_BYTES)
      } catch (cause) {
        this.failSub(sub, cause)
        return
      }
      if (chunk === undefined) return
      sub.position = chunk.offset + chunk.bytes.length
      try {
        sub.follower.onChunk(chunk)
      } catch (cause) {
        this.failSub(sub, cause)
        return
      }
    }
  }

  failSub(sub: Sub, cause: unknown): void {
    this.closeSub(sub)
    sub.follower.onError?.(
      new LogStoreError({
        logDir: this.logDir ?? "",
        message: `a log follower failed in ${this.logDir ?? ""}`,
        cause: describeCause(cause),
      }),
    )
  }

  closeSub(sub: Sub): void {
    sub.closed = true
    sub.cursor.close()
    this.subs.delete(sub)
  }
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = osConstants.signals

const signalOfNumber = (n: number): string =>
  Object.entries(SIGNAL_NUMBERS).find(([, v]) => v === n)?.[0] ?? `SIG${n}`

/** The `exit` file as tmux's pane-died hook writes it: `STATUS SIGNAL`, either may be empty. */
const exitFileText = (exit: FakeExit) =>
  `${exit.exitCode ?? ""} ${exit.signal === null ? "" : (SIGNAL_NUMBERS[exit.signal] ?? "")}\n`

const readExitFile = (logDir: string): FakeExit | undefined => {
  let text: string
  try {
    text = readFileSync(join(logDir, "exit"), "utf8")
  } catch {
    return undefined
  }
  const [status = "", signal = ""] = text.replace(/\s+$/, "").split(" ")
  return {
    exitCode: status === "" ? null : Number(status),
    signal: signal === "" ? null : signalOfNumber(Number(signal)),
  }
}

/** Fake sessions that outlive any one monitor (and any one registry): the "tmux server". */
export interface InMemoryMonitorState {
  /** The fake process of runner `processId`; dies when there is none. */
  readonly process: (processId: string) => FakeProcess
  /** The fake process in session `name`, if any (gone ones included). */
  readonly session: (name: string) => FakeProcess | undefined
  /** Every process spawned so far, oldest first. */
  readonly spawned: () => ReadonlyArray<FakeProcess>
  /** A session someone else started (no log, no metadata): something to adopt. */
  readonly addForeignSession: (
    name: string,
    command: string,
    options?: { readonly cwd?: string; readonly cols?: number; readonly rows?: number },
  ) => FakeProcess
  /** Whether the fake tmux server answers (`serverStatus`). */
  readonly setServerUp: (up: boolean) => void
}

interface StateInternals extends InMemoryMonitorState {
  readonly sessions: Map<string, FakeSession>
  readonly all: FakeSession[]
  readonly nextId: () => number
  readonly serverUp: () => boolean
  readonly fake: (session: FakeSession) => FakeProcess
  readonly config: { current: RunnerConfigShape | undefined }
}

const internals = new WeakMap<InMemoryMonitorState, StateInternals>()

const dieWith = (message: string) => Effect.dieMessage(message)

/**
 * A fresh fake tmux server. Its log writers are closed when the scope closes; the folders
 * stay (they belong to the data dir the test made).
 */
export const makeInMemoryMonitorState: Effect.Effect<InMemoryMonitorState, never, Scope.Scope> =
  Effect.gen(function* () {
    const sessions = new Map<string, FakeSession>()
    const all: FakeSession[] = []
    const fakes = new WeakMap<FakeSession, FakeProcess>()
    let counter = 0
    let up = true
    const config: { current: RunnerConfigShape | undefined } = { current: undefined }

    const fake = (session: FakeSession): FakeProcess => {
      const known = fakes.get(session)
      if (known !== undefined) return known
      const label = () => `fake process in session ${session.name}`
      const print = (data: string | Uint8Array) =>
        Effect.gen(function* () {
          if (session.exited !== undefined || session.gone)
            return yield* dieWith(`${label()} has ended: it cannot print`)
          if (session.paused) return yield* dieWith(`${label()} is paused: it cannot print`)
          const writer = session.writer
          const bytes = typeof data === "string" ? Buffer.from(data) : data
          // Nobody pipes an unadopted session: its output goes to the screen only.
          if (writer === undefined || bytes.length === 0) return
          const failed = writer.append(bytes)
          if (failed !== undefined) return yield* Effect.die(failed)
          const at = yield* Clock.currentTimeMillis
          for (const watcher of session.watchers) watcher.onOutput(at)
          for (const sub of [...session.subs]) session.pump(sub)
          session.bump()
        })
      const setScreen = (lines: ReadonlyArray<string>, title = "") =>
        Effect.sync(() => {
          session.screen = { lines: [...lines], title }
        })
      const exit = (exitCode: number | null, signal: string | null = null) =>
        Effect.gen(function* () {
          if (session.exited !== undefined || session.gone)
            return yield* dieWith(`${label()} has already ended`)
          const ended = { exitCode, signal }
          session.exited = ended
          session.paused = false
          if (session.logDir !== undefined)
            writeFileSync(join(session.logDir, "exit"), exitFileText(ended))
          session.writer?.close()
          for (const watcher of [...session.watchers]) yield* watcher.onExit(ended)
          session.bump()
        })
      const vanish = Effect.gen(function* () {
        if (session.gone) return yield* dieWith(`${label()} is already gone`)
        session.gone = true
        sessions.delete(session.name)
        session.writer?.close()
        if (session.exited === undefined)
          for (const watcher of [...session.watchers]) yield* watcher.onVanish
        session.bump()
      })
      const made: FakeProcess = {
        processId: () => session.processId,
        sessionName: session.name,
        command: session.command,
        args: session.args,
        cwd: session.cwd,
        env: session.env,
        metadata: () => session.metadata,
        print,
        setScreen,
        draw: (lines, title) =>
          Effect.zipRight(setScreen(lines, title), print(`\x1b[H\x1b[2J${lines.join("\r\n")}`)),
        exit,
        vanish,
        ignoreSignals: (count) => {
          session.ignored = count
        },
        typed: () => Buffer.concat(session.typedBytes).toString(),
        calls: () => [...session.callLog],
        status: () =>
          session.gone
            ? "gone"
            : session.exited !== undefined
              ? "exited"
              : session.paused
                ? "paused"
                : "running",
        size: () => ({ cols: session.cols, rows: session.rows }),
        watchers: () => session.watchers.size,
      }
      fakes.set(session, made)
      return made
    }

    const nextId = () => ++counter

    const state: StateInternals = {
      sessions,
      all,
      nextId,
      serverUp: () => up,
      fake,
      config,
      process: (processId) => {
        const session = all.find((s) => s.processId === processId)
        if (session === undefined) throw new Error(`no fake process for ${processId}`)
        return fake(session)
      },
      session: (name) => {
        const session = all.findLast((s) => s.name === name)
        return session === undefined ? undefined : fake(session)
      },
      spawned: () => all.filter((s) => s.processId !== undefined).map(fake),
      addForeignSession: (name, command, options = {}) => {
        if (sessions.has(name)) throw new Error(`a fake session named ${name} already exists`)
        const n = nextId()
        const session = new FakeSession(
          name,
          `$${n}`,
          `@${n}`,
          PaneId(`%${n}`),
          0,
          command,
          [],
          options.cwd ?? "/",
          {},
          { cols: options.cols ?? 80, rows: options.rows ?? 24 },
          {},
        )
        sessions.set(name, session)
        all.push(session)
        return fake(session)
      },
      setServerUp: (value) => {
        up = value
      },
    }
    internals.set(state, state)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const session of all) {
          session.writer?.close()
          for (const sub of [...session.subs]) session.closeSub(sub)
        }
      }),
    )
    return state
  })

const failure = (processId: string, message: string) =>
  new ProcessMonitorError({ processId, message })

/** The `ProcessMonitorPort` over `state`; needs `RunnerConfig` and `LogStore`. */
export const makeInMemoryMonitor = (monitorState: InMemoryMonitorState) =>
  Effect.gen(function* () {
    const state = internals.get(monitorState)
    if (state === undefined) return yield* dieWith("not an InMemoryMonitorState")
    const config = yield* RunnerConfig
    const logs = yield* LogStore
    state.config.current = config

    const openWriter = (session: FakeSession, processId: ProcessId) =>
      Effect.gen(function* () {
        const logDir = logs.processDir(processId)
        yield* logs
          .ensureDir(logDir)
          .pipe(
            Effect.mapError((e) =>
              failure(processId, `could not create the log folder: ${e.message}`),
            ),
          )
        const { end } = yield* logs
          .bounds(logDir)
          .pipe(Effect.mapError((e) => failure(processId, `could not read the log: ${e.message}`)))
        session.logDir = logDir
        session.writer = createSegmentWriter({
          dir: logDir,
          start: end,
          segmentBytes: config.segmentBytes,
          retainBytes: config.retainBytes,
        })
      })

    const makeHandle = (session: FakeSession, processId: ProcessId, startActive: boolean) =>
      Effect.gen(function* () {
        const logDir = session.logDir
        if (logDir === undefined) return yield* dieWith(`session ${session.name} has no log`)
        const pubsub = yield* PubSub.sliding<ControlEvent>(1000)
        const history: ControlEvent[] = []
        const lock = yield* Effect.makeSemaphore(1)
        const exitDeferred = yield* Deferred.make<ExitEvent>()
        let exitClaimed = false

        const publish = (body: ControlEventBody) =>
          lock.withPermits(1)(
            Effect.gen(function* () {
              const timestamp = yield* Clock.currentTimeMillis
              const event = { ...body, offset: session.end(), timestamp } as ControlEvent
              history.push(event)
              yield* PubSub.publish(pubsub, event)
            }),
          )

        const recordExit = (exit: FakeExit) =>
          Effect.gen(function* () {
            if (exitClaimed) return
            exitClaimed = true
            yield* publish({ _tag: "exit", exitCode: exit.exitCode, signal: exit.signal })
            const event = history.findLast((e): e is ExitEvent => e._tag === "exit")
            if (event !== undefined) yield* Deferred.succeed(exitDeferred, event)
          }).pipe(Effect.uninterruptible)

        // Activity, by the production tracker, from output times read off the Clock.
        const signals = yield* Queue.sliding<number>(1)
        const now = yield* Clock.currentTimeMillis
        const tracker = {
          model: startActive
            ? initialActivity(now)
            : { state: "idle" as ActivityState, lastOutputAt: now, burstStartedAt: undefined },
        }
        yield* runActivityTracker(
          signals,
          { idleMs: config.idleThresholdMs, confirmMs: config.activeConfirmMs },
          (activity) => publish({ _tag: "activity", state: activity }),
          tracker,
        ).pipe(Effect.raceFirst(Deferred.await(exitDeferred)), Effect.forkScoped)

        const watcher: Watcher = {
          onOutput: (at) => Queue.unsafeOffer(signals, at),
          onExit: recordExit,
          onVanish: Effect.gen(function* () {
            yield* publish({
              _tag: "error",
              error: failure(
                processId,
                `tmux session ${session.name} of ${processId} vanished (killed outside Geppetto, or the tmux server is gone)`,
              ),
            })
            yield* recordExit({ exitCode: null, signal: "SIGHUP" })
          }),
        }
        session.watchers.add(watcher)
        yield* Effect.addFinalizer(() => Effect.sync(() => session.watchers.delete(watcher)))
        // Ended while nobody watched: as the tmux monitor finds the exit file at once.
        const recorded = session.exited ?? readExitFile(logDir)
        if (recorded !== undefined) yield* recordExit(recorded)
        else if (session.gone) yield* watcher.onVanish

        const subscribeControl = (from: number) =>
          lock.withPermits(1)(
            Effect.map(PubSub.subscribe(pubsub), (live) => ({
              backlog: history.filter((e) => e.offset >= from || e._tag === "exit"),
              live,
            })),
          )

        const controlEvents = (from: number): Stream.Stream<ControlEvent> =>
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
              let done = false
              const next: Effect.Effect<
                ProcessEvent,
                Option.Option<ProcessMonitorError>
              > = Effect.gen(function* () {
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
                  const seen = session.version
                  const limit =
                    head === undefined ? CHUNK_BYTES : Math.min(CHUNK_BYTES, head.offset - position)
                  const chunk = yield* reader
                    .read(limit)
                    .pipe(
                      Effect.mapError((e) =>
                        Option.some(
                          failure(processId, `could not read the output log: ${e.message}`),
                        ),
                      ),
                    )
                  if (chunk !== undefined) {
                    return {
                      _tag: "output",
                      source: "pty",
                      offset: chunk.offset,
                      data: chunk.bytes,
                      timestamp: yield* Clock.currentTimeMillis,
                    } satisfies ProcessEvent
                  }
                  const arrived = yield* Effect.raceFirst(
                    Effect.as(session.awaitChange(seen), undefined),
                    Queue.take(live),
                  )
                  if (arrived !== undefined) pending.push(arrived)
                }
              })
              return Stream.repeatEffectOption(next)
            }),
          )

        const followOutput = (
          offset: number,
          follower: LogFollower,
        ): Effect.Effect<LogSubscription, LogStoreError, Scope.Scope> =>
          Effect.map(
            Effect.acquireRelease(
              Effect.sync(() => {
                const sub: Sub = {
                  follower,
                  cursor: new LogCursor(logDir, offset),
                  position: Math.max(0, offset),
                  paused: false,
                  closed: false,
                }
                session.subs.add(sub)
                // The backlog at once: the tmux path delivers it in turns of the event loop.
                session.pump(sub)
                return sub
              }),
              (sub) => Effect.sync(() => session.closeSub(sub)),
            ),
            (sub): LogSubscription => ({
              position: () => sub.position,
              end: () => session.end(),
              pause: () => {
                sub.paused = true
              },
              resume: () => {
                if (!sub.paused) return
                sub.paused = false
                session.pump(sub)
              },
              paused: () => sub.paused,
              catchUp: () => session.pump(sub),
            }),
          )

        /** Output from an absolute offset, following new bytes (never ends by itself). */
        const output = (offset: number): Stream.Stream<LogChunk, LogStoreError> =>
          Stream.unwrapScoped(
            Effect.map(openLogReader(logDir, offset), (reader) =>
              Stream.repeatEffect(
                Effect.gen(function* () {
                  for (;;) {
                    const seen = session.version
                    const chunk = yield* reader.read(CHUNK_BYTES)
                    if (chunk !== undefined) return chunk
                    yield* session.awaitChange(seen)
                  }
                }),
              ),
            ),
          )

        const live = (operation: string) =>
          Effect.suspend(() =>
            session.gone || session.exited !== undefined
              ? Effect.fail(failure(processId, `${processId} has no live pane to ${operation}`))
              : Effect.void,
          )

        const killSession = Effect.sync(() => {
          if (session.gone) return
          session.gone = true
          state.sessions.delete(session.name)
          session.bump()
        })

        const terminate = Effect.gen(function* () {
          const grace = Duration.millis(config.terminateGraceMs)
          const steps = ["SIGINT", "SIGTERM", "SIGKILL"] as const
          for (const [i, signal] of steps.entries()) {
            if (session.exited !== undefined || session.gone) break
            session.callLog.push({ op: "terminate", signal })
            if (session.ignored <= i || signal === "SIGKILL") {
              yield* state.fake(session).exit(null, signal)
              break
            }
            // Ignored: what the tmux monitor waits before the next signal.
            yield* Effect.sleep(grace)
          }
          yield* killSession
        }).pipe(Effect.withSpan("InMemoryProcessMonitor.terminate"))

        const info: TmuxSessionInfo = {
          name: session.name,
          sessionId: session.sessionId,
          windowId: session.windowId,
          paneId: session.paneId,
          panes: session.panes(),
          attachCommand: `tmux attach -t =${session.name}`,
        }

        // The latest resize not yet taken, as the tmux handle keeps its size file's signal.
        const resized = yield* Queue.sliding<ReadonlyArray<PaneSummary>>(1)
        const sizeListener = (panes: ReadonlyArray<PaneSummary>) =>
          Queue.unsafeOffer(resized, panes)
        session.sizeListeners.add(sizeListener)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => session.sizeListeners.delete(sizeListener)),
        )

        const snapshot = (): Effect.Effect<RunnerSnapshot, ProcessMonitorError> =>
          Effect.gen(function* () {
            if (session.exited !== undefined || session.gone) {
              const { start } = yield* logs
                .bounds(logDir)
                .pipe(Effect.orElseSucceed(() => ({ start: 0, end: 0 })))
              return {
                offset: start,
                cols: session.cols,
                rows: session.rows,
                data: "\x1b[?1049l\x1b[!p\x1b[H\x1b[2J\x1b[3J",
                exact: true,
              }
            }
            return {
              offset: session.end(),
              cols: session.cols,
              rows: session.rows,
              data: `\x1b[H\x1b[2J${session.screen.lines.join("\r\n")}`,
              exact: true,
            }
          })

        return {
          processId,
          sessionInfo: info,
          events: eventsFrom(0),
          eventsFrom,
          controlEvents,
          output: (offset) => output(offset),
          followOutput: (offset, follower) => followOutput(offset, follower),
          logBounds: logs.bounds(logDir),
          getActivityState: Effect.sync(() => tracker.model.state),
          awaitExit: Deferred.await(exitDeferred),
          write: (data) =>
            Effect.zipRight(
              live("write input"),
              Effect.sync(() => {
                session.typedBytes.push(Uint8Array.from(data))
              }),
            ),
          terminate,
          pause: Effect.zipRight(
            live("pause"),
            Effect.sync(() => {
              session.callLog.push({ op: "pause" })
              session.paused = true
            }),
          ),
          resume: Effect.zipRight(
            Effect.suspend(() =>
              session.gone
                ? Effect.fail(failure(processId, `${processId} has no live pane to resume`))
                : Effect.void,
            ),
            Effect.sync(() => {
              session.callLog.push({ op: "resume" })
              session.paused = false
            }),
          ),
          captureScreen: Effect.suspend(() =>
            session.gone
              ? Effect.fail(
                  failure(
                    processId,
                    `could not capture the screen: session ${session.name} is gone`,
                  ),
                )
              : Effect.succeed(session.screen),
          ),
          snapshot,
          resize: (cols, rows) =>
            Effect.zipRight(
              Effect.suspend(() =>
                session.gone
                  ? Effect.fail(
                      failure(processId, `could not resize: session ${session.name} is gone`),
                    )
                  : Effect.void,
              ),
              Effect.sync(() => {
                session.callLog.push({ op: "resize", cols, rows })
                session.cols = cols
                session.rows = rows
                const panes = session.panes()
                for (const listener of session.sizeListeners) listener(panes)
              }),
            ),
          panes: Effect.sync(() => session.panes()),
          awaitResize: Queue.take(resized),
          closeSession: Effect.zipRight(
            Effect.sync(() => session.callLog.push({ op: "closeSession" })),
            killSession,
          ),
        } satisfies ProcessMonitorHandle
      })

    const spawn: ProcessMonitorPort["spawn"] = (command, args, options: ProcessMonitorOptions) =>
      Effect.gen(function* () {
        const { processId } = options
        const cwd = options.cwd ?? process.cwd()
        const env = options.env ?? {}
        const cols = options.cols ?? 120
        const rows = options.rows ?? 32
        yield* validateArgv([command, ...args])
        yield* validateEnv(env)
        yield* validateSize(cols, rows)
        yield* validateCwd(cwd)
        const name = yield* decodeSessionName(
          options.sessionName ?? processId.replaceAll(".", "_"),
          "name",
        )
        if (state.sessions.has(name)) {
          return yield* failure(
            processId,
            `could not start ${command} in tmux session ${name}: duplicate session`,
          )
        }
        const { end } = yield* logs
          .bounds(logs.processDir(processId))
          .pipe(
            Effect.mapError((e) =>
              failure(processId, `could not read the log folder: ${e.message}`),
            ),
          )
        if (end > 0) {
          return yield* failure(
            processId,
            `process ${processId} already has a log; ids are never reused`,
          )
        }
        const n = state.nextId()
        const session = new FakeSession(
          name,
          `$${n}`,
          `@${n}`,
          PaneId(`%${n}`),
          yield* Clock.currentTimeMillis,
          command,
          args,
          cwd,
          env,
          { cols, rows },
          { id: processId, ...options.metadata },
        )
        yield* openWriter(session, processId)
        state.sessions.set(name, session)
        state.all.push(session)
        return yield* makeHandle(session, processId, true)
      })

    const monitorExisting: ProcessMonitorPort["monitorExisting"] = (sessionName, options) =>
      Effect.gen(function* () {
        const { processId } = options
        const session = state.sessions.get(sessionName)
        if (session === undefined) {
          return yield* failure(
            processId,
            `there is no tmux session named ${JSON.stringify(sessionName)}`,
          )
        }
        const ours = session.logDir !== undefined && session.processId === processId
        if (!ours) {
          // Adopted: piped into our folder from now on, and marked as ours.
          yield* openWriter(session, processId)
          session.processId = processId
        }
        if (options.metadata !== undefined) {
          session.metadata = { ...session.metadata, id: processId, ...options.metadata }
        }
        return yield* makeHandle(session, processId, !ours)
      })

    const listSessions: ProcessMonitorPort["listSessions"] = Effect.sync(() =>
      [...state.sessions.values()].map(
        (s): ListedSession => ({
          sessionId: s.sessionId,
          name: s.name,
          attached: false,
          windows: 1,
          createdAt: s.createdAt,
          metadata: s.metadata,
          panes: [
            {
              paneId: s.paneId,
              windowId: s.windowId,
              dead: s.exited !== undefined,
              active: true,
              currentCommand: basename(s.command),
              currentPath: s.cwd,
              logDir: s.logDir,
            },
          ],
        }),
      ),
    )

    return {
      spawn,
      monitorExisting,
      listSessions,
      sessionExists: (name) => Effect.sync(() => state.sessions.has(name)),
      recordedExit: (processId) => Effect.sync(() => readExitFile(logs.processDir(processId))),
      attachTarget: (sessionName) => ({
        socket: undefined,
        session: sessionName,
        command: `tmux attach -t =${sessionName}`,
      }),
      serverStatus: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.succeed(
          state.serverUp()
            ? ({ ok: true } as const)
            : ({ ok: false, error: "no server running (in-memory)", since: now } as const),
        ),
      ),
      serverVersion: Effect.succeed({ raw: "3.4", major: 3, minor: 4 }),
    } satisfies ProcessMonitorPort
  })

/** `ProcessMonitorTag` over `state`; needs `RunnerConfig` and `LogStore`. */
export const InMemoryProcessMonitorLive = (state: InMemoryMonitorState) =>
  Layer.effect(ProcessMonitorTag, makeInMemoryMonitor(state))
