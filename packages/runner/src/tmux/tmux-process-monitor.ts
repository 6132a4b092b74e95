import { constants as fsConstants } from "node:fs"
import { access, readFile } from "node:fs/promises"
import { join } from "node:path"
import { Deferred, Effect, Layer, Queue } from "effect"
import { RunnerConfig } from "../config.js"
import { ProcessMonitorError, processMonitorFailure, TmuxSessionError } from "../domain/errors.js"
import { decodeSessionName, type PaneId, type ProcessId } from "../domain/ids.js"
import { validateArgv, validateCwd, validateEnv, validateSize } from "../domain/validate.js"
import type { DirWatch } from "../logs/dir-watch.js"
import { LogStore } from "../logs/log-store.js"
import { writersDrained } from "../logs/writer-drain.js"
import { makeExitWatchdog } from "../monitor/exit-watchdog.js"
import { requireFreshLog } from "../monitor/fresh-log.js"
import { makeMonitorCore } from "../monitor/monitor-core.js"
import { ProcessMonitorTag } from "../monitor/process-monitor-tag.js"
import { signalName } from "../monitor/process-tree.js"
import type { PaneState, ProcessMonitorPort, TmuxSessionInfo } from "../ports.js"
import { isTmuxServerDown, TMUX_SERVER_DOWN, TmuxControlClient } from "./control-client.js"
import { TmuxSessionManager } from "./session-manager.js"
import { makeTmuxHandle } from "./tmux-handle.js"
import { makeVanishWatch } from "./vanish-watch.js"
import { superviseWriter } from "./writer-watch.js"

/** Parses the `exit` file the pane-died hook writes: `STATUS SIGNAL`, either may be empty. */
export const parseExitFile = (text: string) => {
  // `STATUS SIGNAL` with one side empty: a leading space is meaningful, so no trim().
  const [status = "", signal = ""] = text.replace(/\s+$/, "").split(" ")
  const code = status === "" ? null : Number(status)
  const sig = signal === "" ? null : Number(signal)
  return {
    exitCode: code !== null && Number.isFinite(code) ? code : null,
    signal: sig !== null && Number.isFinite(sig) ? signalName(sig) : null,
  }
}

/** `ProcessMonitorPort` over tmux: each process a detached session, output logged by `pipe-pane`. */
export const makeTmuxProcessMonitor = Effect.gen(function* () {
  const config = yield* RunnerConfig
  const client = yield* TmuxControlClient
  const sessions = yield* TmuxSessionManager
  const logs = yield* LogStore
  const vanishWatch = yield* makeVanishWatch
  const watchdog = yield* makeExitWatchdog(
    Effect.ignore(client.execOne(["run-shell", "-b", "true"])),
  )
  const handleDeps = { config, client, sessions, logs, watchdog }

  const failWith = processMonitorFailure

  /** The folder watch of a runner's log: one registration, shared by its monitor and handle. */
  const watchLog = (processId: ProcessId, logDir: string) =>
    logs.watch(logDir).pipe(Effect.mapError(failWith(processId, "could not watch the log")))

  /** Wires watching for one pane whose bytes already flow into `logDir`, seen by `watch`. */
  const monitorPane = (
    processId: ProcessId,
    pane: PaneState,
    logDir: string,
    watch: DirWatch,
    info: TmuxSessionInfo,
    startActive: boolean,
  ) =>
    Effect.gen(function* () {
      const core = yield* makeMonitorCore({
        processId,
        logDir,
        source: "pty",
        watch,
        logs,
        activity: {
          idleMs: config.idleThresholdMs,
          confirmMs: config.activeConfirmMs,
        },
        startActive,
        writerDrained: () => writersDrained(logDir),
        onActivityChange: (state) => (state === "idle" ? watchdog.poke : Effect.void),
      })

      const readExitFile = Effect.promise(() =>
        readFile(join(logDir, "exit"), "utf8").catch(() => undefined),
      )
      const checkExit = Effect.gen(function* () {
        const text = yield* readExitFile
        if (text === undefined) return false
        const { exitCode, signal } = parseExitFile(text)
        yield* core.recordExit(exitCode, signal)
        return true
      })

      /** The pane is gone without an exit file: killed with its session, or tmux died. */
      const onVanished = (serverGone: string | undefined) =>
        Effect.gen(function* () {
          if (yield* core.exited) return
          // The hook may still be writing the exit file of a pane that died just before.
          yield* Effect.sleep("50 millis")
          if (yield* checkExit) return
          if (serverGone !== undefined) {
            // Its processes got SIGHUP from the closed terminal, most likely; tmux, which would
            // have recorded how they ended, is gone, so no status is claimed.
            yield* core.publish({
              _tag: "error",
              error: new TmuxSessionError({
                sessionName: info.name,
                message: `tmux server gone: session ${info.name} of ${processId} ended with it, exit status unknown (${serverGone})`,
                cause: TMUX_SERVER_DOWN,
              }),
            })
            yield* core.recordExit(null, null)
            return
          }
          yield* core.publish({
            _tag: "error",
            error: new ProcessMonitorError({
              processId,
              message: `tmux session ${info.name} of ${processId} vanished (killed outside Geppetto, or the tmux server is gone)`,
            }),
          })
          yield* core.recordExit(null, "SIGHUP")
        })

      // Retention: pruned when the writer starts a new segment, and once now for what
      // accumulated while we were away. Never on a timer.
      const pruneSignal = yield* Queue.sliding<void>(1)
      let lastSegment = ""
      const stopPruneWatch = watch.onChange((filename) => {
        if (filename.startsWith("out-") && filename !== lastSegment) {
          lastSegment = filename
          Queue.unsafeOffer(pruneSignal, undefined)
        }
      })
      yield* Effect.addFinalizer(() => Effect.sync(stopPruneWatch))
      yield* Effect.forkScoped(
        Effect.forever(Effect.zipRight(Effect.ignore(logs.prune(logDir)), Queue.take(pruneSignal))),
      )

      // Exit file written by the hook: watched, and checked once now for an exit we slept through.
      const exitSignal = yield* Deferred.make<void>()
      const stop = watch.onChange((filename) => {
        if (filename === "exit") Deferred.unsafeDone(exitSignal, Effect.void)
      })
      yield* Effect.addFinalizer(() => Effect.sync(stop))
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          if (yield* checkExit) return
          yield* Deferred.await(exitSignal)
          yield* checkExit
        }),
      )
      if (pane.dead && pane.logDir !== logDir) {
        // Adopted after it died: tmux still knows the status.
        yield* core.recordExit(pane.deadStatus, signalName(pane.deadSignal))
      }

      const watched = {
        pid: pane.pid,
        exited: core.exited,
        // Only when tmux itself shows the pane dead: a process already reaped while tmux is
        // still drawing its last output is not lost, just not finished.
        statusLost: Effect.gen(function* () {
          const state = yield* sessions.paneState(pane.paneId).pipe(Effect.option)
          if (state._tag === "None" || state.value === undefined) return
          const { dead, deadStatus, deadSignal } = state.value
          if (!dead) return
          if (yield* checkExit) return
          if (deadStatus !== null || deadSignal !== null) {
            // tmux has the status but the hook left no exit file: the folder cannot be written
            // (a read-only or full data dir), or the hook is very late. tmux's word is as good.
            const writable = yield* Effect.promise(() =>
              access(logDir, fsConstants.W_OK).then(
                () => true,
                () => false,
              ),
            )
            if (!writable) {
              yield* core.publish({
                _tag: "error",
                error: new ProcessMonitorError({
                  processId,
                  message: `the exit of ${processId} could not be recorded in ${logDir} (not writable); taken from tmux`,
                }),
              })
            }
            yield* core.recordExit(deadStatus, signalName(deadSignal))
            return
          }
          yield* core.publish({
            _tag: "error",
            error: new ProcessMonitorError({
              processId,
              message: `tmux lost the exit status of ${processId} (pane ${pane.paneId})`,
            }),
          })
          yield* core.recordExit(null, null)
        }),
      }
      yield* watchdog.watch(watched)
      yield* Effect.addFinalizer(() => watchdog.unwatch(watched))

      yield* vanishWatch.register(pane.paneId, onVanished)
      yield* superviseWriter({
        processId,
        paneId: pane.paneId,
        logDir,
        watch,
        logs,
        sessions,
        core,
      })
      return core
    })

  const sessionInfoOf = (panes: ReadonlyArray<PaneState>, primary: PaneState): TmuxSessionInfo => ({
    name: primary.sessionName,
    sessionId: primary.sessionId,
    windowId: primary.windowId,
    paneId: primary.paneId,
    panes: panes.map((p) => ({ id: p.paneId, cols: p.cols, rows: p.rows })),
    attachCommand: sessions.attachCommand(primary.sessionName),
  })

  const spawn: ProcessMonitorPort["spawn"] = Effect.fn("ProcessMonitor.spawn")(
    function* (command, args, options) {
      const { processId } = options
      const argv = [command, ...args]
      const cwd = options.cwd ?? process.cwd()
      const env = options.env ?? {}
      const cols = options.cols ?? 120
      const rows = options.rows ?? 32
      yield* validateArgv(argv)
      yield* validateEnv(env)
      yield* validateSize(cols, rows)
      yield* validateCwd(cwd)
      const name = yield* decodeSessionName(
        options.sessionName ?? processId.replaceAll(".", "_"),
        "name",
      )
      for (const key of Object.keys(options.metadata ?? {})) {
        if (!/^[a-z][a-z0-9-]{0,31}$/.test(key)) {
          return yield* new ProcessMonitorError({
            processId,
            message: `metadata key ${JSON.stringify(key)} is not a valid option name`,
          })
        }
      }
      const logDir = logs.processDir(processId)
      yield* requireFreshLog(logs, processId, [logDir])
      yield* logs
        .ensureDir(logDir)
        .pipe(Effect.mapError(failWith(processId, "could not create the log folder")))
      const writerCommand = yield* logs
        .writerCommand(logDir)
        .pipe(Effect.mapError(failWith(processId, "could not plan the log writer")))
      // Watch before the session exists, so the first byte and an instant exit are both seen.
      const watch = yield* watchLog(processId, logDir)
      const pane = yield* sessions
        .createSession({
          name,
          argv,
          cwd,
          env: { ...config.environment, ...env },
          cols,
          rows,
          metadata: { id: processId, ...options.metadata },
          logDir,
          writerCommand,
        })
        .pipe(
          Effect.mapError(
            failWith(processId, `could not start ${command} in tmux session ${name}`),
          ),
        )
      const info = sessionInfoOf([pane], pane)
      const core = yield* monitorPane(processId, pane, logDir, watch, info, true)
      return yield* makeTmuxHandle(
        handleDeps,
        processId,
        pane,
        info,
        core,
        watch,
        new Map([[pane.paneId, logDir]]),
      )
    },
  )

  const monitorExisting: ProcessMonitorPort["monitorExisting"] = Effect.fn(
    "ProcessMonitor.monitorExisting",
  )(function* (sessionName, options) {
    const { processId } = options
    const sessionId = yield* sessions
      .sessionIdByName(sessionName)
      .pipe(Effect.mapError(failWith(processId, `could not look up tmux session ${sessionName}`)))
    if (sessionId === undefined) {
      return yield* new ProcessMonitorError({
        processId,
        message: `there is no tmux session named ${JSON.stringify(sessionName)}`,
      })
    }
    const panes = yield* sessions
      .panesOfSession(sessionId)
      .pipe(Effect.mapError(failWith(processId, `could not list the panes of ${sessionName}`)))
    const primary = panes.find((p) => p.active) ?? panes[0]
    if (primary === undefined) {
      return yield* new ProcessMonitorError({
        processId,
        message: `tmux session ${sessionName} has no panes`,
      })
    }
    const root = logs.processDir(processId)
    const paneDirs = new Map<PaneId, string>()
    const unpiped: PaneState[] = []
    for (const pane of panes) {
      const dir = pane === primary ? root : join(root, "panes", pane.paneId.slice(1))
      paneDirs.set(pane.paneId, dir)
      yield* logs
        .ensureDir(dir)
        .pipe(Effect.mapError(failWith(processId, "could not create the log folder")))
      if (pane.logDir === dir) continue // ours already: the writer kept logging while we were away
      if (pane.dead) continue // nothing more to log; tmux still holds its exit status
      if (pane.piped) {
        unpiped.push(pane) // someone else's pipe: never clobber it
        continue
      }
      const writer = yield* logs
        .writerCommand(dir)
        .pipe(Effect.mapError(failWith(processId, "could not plan the log writer")))
      yield* sessions
        .wirePane(pane.paneId, dir, writer)
        .pipe(Effect.mapError(failWith(processId, `could not pipe pane ${pane.paneId}`)))
    }
    const info = sessionInfoOf(panes, primary)
    const watch = yield* watchLog(processId, root)
    const core = yield* monitorPane(processId, primary, root, watch, info, primary.logDir !== root)
    // The other panes' writers are kept running too; their gaps are reported on this runner.
    for (const pane of panes) {
      const dir = paneDirs.get(pane.paneId)
      if (pane === primary || dir === undefined || pane.dead || unpiped.includes(pane)) continue
      yield* superviseWriter({
        processId,
        paneId: pane.paneId,
        logDir: dir,
        watch: yield* watchLog(processId, dir),
        logs,
        sessions,
        core,
      })
    }
    for (const pane of unpiped) {
      yield* core.publish({
        _tag: "error",
        error: new ProcessMonitorError({
          processId,
          message: `pane ${pane.paneId} of ${sessionName} already pipes its output elsewhere; Geppetto leaves that pipe alone and cannot log this pane`,
        }),
      })
    }
    const handle = yield* makeTmuxHandle(
      handleDeps,
      processId,
      primary,
      info,
      core,
      watch,
      paneDirs,
    )
    if (options.metadata !== undefined) {
      // Made ours (adopted): marked in tmux so a restarted server finds it again, and its
      // windows report resizes into the log folder as our own sessions do. Last, so a
      // failure above leaves the session as it was (not marked as a runner nobody lists).
      const sessionId = primary.sessionId
      yield* client
        .exec(
          Object.entries({ id: processId, ...options.metadata }).map(([key, value]) => [
            "set-option",
            "-t",
            sessionId,
            `@geppetto-${key}`,
            value,
          ]),
        )
        .pipe(Effect.mapError(failWith(processId, `could not mark tmux session ${sessionName}`)))
      for (const windowId of new Set(panes.map((p) => p.windowId))) {
        yield* Effect.ignore(sessions.watchWindowSize(windowId, root))
      }
    }
    return handle
  })

  const listSessions: ProcessMonitorPort["listSessions"] = Effect.gen(function* () {
    const listings = yield* sessions.listSessions
    const panes = yield* sessions.allPanes
    return listings.map((listing) => ({
      ...listing,
      panes: panes
        .filter((p) => p.sessionId === listing.sessionId)
        .map((p) => ({
          paneId: p.paneId,
          windowId: p.windowId,
          dead: p.dead,
          active: p.active,
          currentCommand: p.currentCommand,
          currentPath: p.currentPath,
          logDir: p.logDir,
        })),
    }))
  }).pipe(
    // No tmux server, no sessions.
    Effect.catchIf(isTmuxServerDown, () => Effect.succeed([])),
  )

  const recordedExit: ProcessMonitorPort["recordedExit"] = (processId) =>
    Effect.promise(() =>
      readFile(join(logs.processDir(processId), "exit"), "utf8").then(
        parseExitFile,
        () => undefined,
      ),
    )

  const attachTarget: ProcessMonitorPort["attachTarget"] = (sessionName) => ({
    socket: client.socket,
    session: sessionName,
    command: sessions.attachCommand(sessionName),
  })

  return {
    spawn,
    monitorExisting,
    listSessions,
    sessionExists: sessions.hasSession,
    recordedExit,
    attachTarget,
    serverStatus: client.status,
    serverVersion: client.version,
  } satisfies ProcessMonitorPort
})

/** The tmux-backed `ProcessMonitorPort`. */
export const TmuxProcessMonitorLive = Layer.scoped(ProcessMonitorTag, makeTmuxProcessMonitor)
