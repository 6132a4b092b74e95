import { Duration, Effect, Queue, Schedule } from "effect"
import type { RunnerConfigShape } from "../config.js"
import { describeCause, ProcessMonitorError, processMonitorFailure } from "../domain/errors.js"
import type { PaneId, ProcessId } from "../domain/ids.js"
import type { DirWatch } from "../logs/dir-watch.js"
import { followLogChunks } from "../logs/log-feed.js"
import type { LogStore } from "../logs/log-store.js"
import { writersDrained } from "../logs/writer-drain.js"
import type { makeExitWatchdog } from "../monitor/exit-watchdog.js"
import { signalCommandTree } from "../monitor/job-control.js"
import type { MonitorCore } from "../monitor/monitor-core.js"
import { descendantPids, killLeftovers, signalQuietly } from "../monitor/process-tree.js"
import type { PaneState, PaneSummary, ProcessMonitorHandle, TmuxSessionInfo } from "../ports.js"
import type { TmuxControlClient } from "./control-client.js"
import { capturePaneSnapshot, type PaneSnapshot, type RunnerSnapshot } from "./pane-snapshot.js"
import { awaitWrapperCommand } from "./pane-wrapper.js"
import { captureScreen } from "./screen-capture.js"
import { SIZE_FILE, type TmuxSessionManager } from "./session-manager.js"

/** How long a pause right after a start waits for the wrapper to run the command. */
const PAUSE_WAIT_MS = 500
/** Snapshot attempts while output flows before the last one is taken as inexact. */
const SNAPSHOT_TRIES = 5
/** What a finished or blank pane redraws to: normal screen, soft reset, cleared. */
const BLANK_SCREEN = "\x1b[?1049l\x1b[!p\x1b[H\x1b[2J\x1b[3J"

export interface TmuxHandleDeps {
  readonly config: RunnerConfigShape
  readonly client: TmuxControlClient
  readonly sessions: TmuxSessionManager
  readonly logs: LogStore
  readonly watchdog: Effect.Effect.Success<ReturnType<typeof makeExitWatchdog>>
}

const toSummaries = (panes: ReadonlyArray<PaneState>): ReadonlyArray<PaneSummary> =>
  panes.map((p) => ({ id: p.paneId, cols: p.cols, rows: p.rows }))

/**
 * The handle of one monitored tmux session: its main pane's process (`pane`), the session's
 * other panes' logs (`paneDirs`), and every operation on them. Built inside the handle's scope.
 */
export const makeTmuxHandle = (
  deps: TmuxHandleDeps,
  processId: ProcessId,
  pane: PaneState,
  info: TmuxSessionInfo,
  core: MonitorCore,
  /** The watch of `core.logDir` the monitor holds: resizes are seen through it too. */
  watch: DirWatch,
  paneDirs: ReadonlyMap<PaneId, string>,
) =>
  Effect.gen(function* () {
    const { config, client, sessions, logs, watchdog } = deps
    const failWith = processMonitorFailure
    /** A look at /proc or a signal: a rejection is this runner's typed error, not a defect. */
    const fromProc = <A>(what: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) =>
          new ProcessMonitorError({
            processId,
            message: `${what} for ${processId} failed: ${describeCause(cause)}`,
            cause: describeCause(cause),
          }),
      })
    const paneDir = (paneId: PaneId | undefined) =>
      paneId === undefined ? core.logDir : (paneDirs.get(paneId) ?? core.logDir)
    const knownPane = (paneId: PaneId | undefined) =>
      paneId === undefined || paneId === pane.paneId || paneDirs.has(paneId)
        ? Effect.void
        : Effect.fail(
            new ProcessMonitorError({
              processId,
              message: `session ${info.name} of ${processId} has no pane ${paneId}`,
            }),
          )

    /** A pane of the session now: one split after adoption is typed into too. */
    const livePane = (paneId: PaneId | undefined) =>
      paneId === undefined || paneId === pane.paneId || paneDirs.has(paneId)
        ? Effect.void
        : sessions.panesOfSession(info.sessionId).pipe(
            Effect.orElseSucceed((): ReadonlyArray<PaneState> => []),
            Effect.flatMap((now) =>
              now.some((p) => p.paneId === paneId) ? Effect.void : knownPane(paneId),
            ),
          )

    const terminate = Effect.gen(function* () {
      const grace = Duration.millis(config.terminateGraceMs)
      const waitExit = (d: Duration.Duration) =>
        core.awaitExit.pipe(
          Effect.as(true),
          Effect.timeoutTo({
            duration: d,
            onSuccess: (b) => b,
            onTimeout: () => false,
          }),
        )
      // Just started: a C-c before the command runs would be lost (see awaitWrapperCommand).
      yield* awaitWrapperCommand(pane.pid, Duration.toMillis(grace))
      // Without the list, leftovers are looked for under the pane's process alone.
      const pids = yield* fromProc("listing the processes", () => descendantPids(pane.pid)).pipe(
        Effect.orElseSucceed((): ReadonlyArray<number> => []),
      )
      if (!(yield* core.exited)) {
        yield* Effect.ignore(sessions.sendKeys(pane.paneId, ["C-c"]))
        if (!(yield* waitExit(grace))) {
          signalQuietly(-pane.pid, "SIGTERM")
          signalQuietly(pane.pid, "SIGTERM")
          if (!(yield* waitExit(grace))) {
            // Ignores INT, TERM (and so HUP from kill-session, likely): nothing left but KILL.
            // Recorded before the session goes, so the vanish check does not report it.
            signalQuietly(-pane.pid, "SIGKILL")
            signalQuietly(pane.pid, "SIGKILL")
            if (!(yield* waitExit(grace))) yield* core.recordExit(null, "SIGKILL")
          }
        }
      }
      yield* core.settleLog(1_000)
      yield* Effect.ignore(sessions.killSession(info.sessionId))
      // Anything that escaped its process group and ignored SIGHUP; waits until none runs.
      yield* killLeftovers(pane.pid, pids, Effect.succeed(true))
    }).pipe(Effect.withSpan("ProcessMonitor.terminate"))

    /** The pane's process, while the pane is alive. */
    const livePid = (operation: string) =>
      Effect.gen(function* () {
        const state = yield* sessions
          .paneState(pane.paneId)
          .pipe(Effect.orElseSucceed(() => undefined))
        if (state === undefined || state.dead || state.pid <= 1) {
          return yield* new ProcessMonitorError({
            processId,
            message: `${processId} has no live pane to ${operation}`,
          })
        }
        return state.pid
      })

    const pause = Effect.gen(function* () {
      const pid = yield* livePid("pause")
      // Just started, the wrapper may not have started the command yet.
      yield* awaitWrapperCommand(pid, PAUSE_WAIT_MS)
      const reached = yield* fromProc("pause", () => signalCommandTree(pid, "SIGSTOP"))
      if (reached === 0) {
        return yield* new ProcessMonitorError({
          processId,
          message: `${processId} has no running process to pause`,
        })
      }
    }).pipe(Effect.withSpan("ProcessMonitor.pause"))

    const resume = Effect.gen(function* () {
      const pid = yield* livePid("resume")
      yield* fromProc("resume", () => signalCommandTree(pid, "SIGCONT"))
    }).pipe(Effect.withSpan("ProcessMonitor.resume"))

    // A writer that cannot be inspected counts as "cannot tell", as a kernel without wchan does.
    const waitDrained = (dir: string) =>
      fromProc("the writer check", () => writersDrained(dir)).pipe(
        Effect.orElseSucceed(() => undefined),
        Effect.repeat({
          until: (drained) => drained !== false,
          schedule: Schedule.spaced("5 millis"),
          times: 20,
        }),
      )

    /**
     * A live pane is captured between two looks at the log end; when both agree and the writer
     * has drained, no byte lies between the picture and the offset. Only a quiet pane is
     * checked for draining (a scan of /proc): while output flows the two looks differ and the
     * capture is retried at once. A pane that never pauses gets the last try, marked inexact.
     */
    const snapshot = (paneId?: PaneId) =>
      Effect.gen(function* () {
        yield* knownPane(paneId)
        const dir = paneDir(paneId)
        const target = paneId ?? pane.paneId
        const end = logs.bounds(dir).pipe(
          Effect.map((b) => b.end),
          Effect.orElseSucceed(() => 0),
        )
        if (yield* core.exited) {
          const start = yield* logs.bounds(dir).pipe(
            Effect.map((b) => b.start),
            Effect.orElseSucceed(() => 0),
          )
          return {
            offset: start,
            cols: pane.cols,
            rows: pane.rows,
            data: BLANK_SCREEN,
            exact: true,
          } satisfies RunnerSnapshot
        }
        let last: (PaneSnapshot & { offset: number }) | undefined
        for (let attempt = 0; attempt < SNAPSHOT_TRIES; attempt++) {
          const before = yield* end
          const picture = yield* capturePaneSnapshot(client, target).pipe(
            Effect.mapError(failWith(processId, "could not capture the pane")),
          )
          let after = yield* end
          if (before === after) {
            yield* waitDrained(dir)
            after = yield* end
            if (before === after) return { ...picture, offset: after, exact: true }
          }
          last = { ...picture, offset: after }
        }
        return { ...(last as PaneSnapshot & { offset: number }), exact: false }
      }).pipe(Effect.withSpan("ProcessMonitor.snapshot"))

    const panes = sessions.panesOfSession(info.sessionId).pipe(
      Effect.map(toSummaries),
      Effect.orElseSucceed((): ReadonlyArray<PaneSummary> => []),
    )

    // Resizes by anyone (our API, an attached tmux client) arrive as the hook's size file;
    // one that comes while nobody waits is kept for the next `awaitResize`.
    const sizeChanged = yield* Queue.sliding<void>(1)
    const stopSizeWatch = watch.onChange((file) => {
      if (file === SIZE_FILE) Queue.unsafeOffer(sizeChanged, undefined)
    })
    yield* Effect.addFinalizer(() => Effect.sync(stopSizeWatch))
    const awaitResize: Effect.Effect<ReadonlyArray<PaneSummary>> = Queue.take(sizeChanged).pipe(
      Effect.zipRight(panes),
      // Empty once the session is gone: nothing to tell, wait for the next one.
      Effect.flatMap((list) => (list.length > 0 ? Effect.succeed(list) : awaitResize)),
    )

    return {
      processId,
      sessionInfo: info,
      events: core.eventsFrom(0),
      eventsFrom: core.eventsFrom,
      controlEvents: core.controlFrom,
      output: (offset, paneId) => logs.tail(paneDir(paneId), offset),
      followOutput: (offset, follower, paneId) =>
        followLogChunks(paneDir(paneId), offset, follower),
      logBounds: logs.bounds(core.logDir),
      getActivityState: core.activity,
      awaitExit: core.awaitExit,
      write: (data, paneId) =>
        livePane(paneId).pipe(
          Effect.zipRight(sessions.sendKeysHex(paneId ?? pane.paneId, data)),
          Effect.mapError(failWith(processId, "could not send input")),
          // Input is when exits happen (C-d, "q", "exit"): let the watchdog look soon after.
          Effect.zipLeft(watchdog.poke),
        ),
      // The same for a pane known without asking tmux; a split made since, by `write`.
      writeNow: (data, paneId, done) =>
        (paneId === undefined || paneId === pane.paneId || paneDirs.has(paneId)) &&
        sessions.sendKeysHexNow(paneId ?? pane.paneId, data, (error) => {
          if (error !== undefined) return done(failWith(processId, "could not send input")(error))
          watchdog.pokeNow()
          done(undefined)
        }),
      terminate,
      pause,
      resume,
      captureScreen: captureScreen(client, pane.paneId).pipe(
        Effect.mapError(failWith(processId, "could not capture the screen")),
      ),
      snapshot,
      resize: (cols, rows) =>
        sessions
          .resizeWindow(info.windowId, cols, rows)
          .pipe(Effect.mapError(failWith(processId, "could not resize"))),
      panes,
      awaitResize,
      closeSession: Effect.ignore(sessions.killSession(info.sessionId)),
    } satisfies ProcessMonitorHandle
  })
