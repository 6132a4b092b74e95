import { execFile } from "node:child_process"
import { constants as fsConstants } from "node:fs"
import { open, unlink } from "node:fs/promises"
import { join } from "node:path"
import { Duration, Effect, Schedule } from "effect"
import { TmuxSessionError } from "../domain/errors.js"
import { isPaneId, PaneId as makePaneId, type PaneId } from "../domain/ids.js"
import type {
  CreateSessionSpec,
  PaneState,
  TmuxSessionListing,
  TmuxSessionManagerPort,
} from "../ports.js"
import { CONTROL_SESSION, isTmuxServerDown, TmuxControlClient } from "./control-client.js"
import { namesToUnset, paneCommandArgs, paneWrapperScript, SHELL_CARRIER } from "./pane-wrapper.js"
import { escapeTmuxFormat, quoteShellArg, tmuxCommandLine } from "./quote.js"
import { toolPath } from "./tool-path.js"

/** Field separator in our `-F` formats: a byte no session name or command holds. */
const SEP = "\x1f"
const OPTION_PREFIX = "@geppetto-"
/** Session options we read back on every listing (tmux has no "all user options" format). */
export const METADATA_KEYS = ["id", "provider", "meta"] as const

const PANE_FORMAT = [
  "#{pane_id}",
  "#{session_id}",
  "#{session_name}",
  "#{window_id}",
  "#{pane_pid}",
  "#{pane_dead}",
  "#{pane_dead_status}",
  "#{pane_dead_signal}",
  "#{pane_pipe}",
  "#{pane_width}",
  "#{pane_height}",
  "#{pane_current_command}",
  "#{pane_active}",
  "#{@geppetto-log}",
  "#{pane_current_path}",
].join(SEP)

const intOrNull = (s: string | undefined) => (s === undefined || s === "" ? null : Number(s))

const parsePane = (line: string): PaneState | undefined => {
  const f = line.split(SEP)
  const paneId = f[0] ?? ""
  if (!isPaneId(paneId)) return undefined
  return {
    paneId: makePaneId(paneId),
    sessionId: f[1] ?? "",
    sessionName: f[2] ?? "",
    windowId: f[3] ?? "",
    pid: Number(f[4] ?? 0),
    dead: f[5] === "1",
    deadStatus: intOrNull(f[6]),
    deadSignal: intOrNull(f[7]),
    piped: f[8] === "1",
    cols: Number(f[9] ?? 0),
    rows: Number(f[10] ?? 0),
    currentCommand: f[11] ?? "",
    active: f[12] === "1",
    logDir: f[13] === "" || f[13] === undefined ? undefined : f[13],
    currentPath: f[14] ?? "",
  }
}

/** `mv` by absolute path, quoted for the shell and for tmux's format expansion. */
const mv = () => escapeTmuxFormat(quoteShellArg(toolPath("mv")))

/**
 * Shell command for the `pane-died` hook: the exit status and signal, written atomically
 * to `DIR/exit` (tmp + rename) so the folder watch sees one complete file. The hook runs in
 * the tmux server, so an exit is recorded even while our server is down.
 */
export const exitHookCommand = (logDir: string): string => {
  const tmp = escapeTmuxFormat(quoteShellArg(`${logDir}/exit.tmp`))
  const final = escapeTmuxFormat(quoteShellArg(`${logDir}/exit`))
  const shell = `printf '%s %s' '#{pane_dead_status}' '#{pane_dead_signal}' > ${tmp} && ${mv()} -f ${tmp} ${final}`
  return tmuxCommandLine(["run-shell", "-b", shell])
}

/** Where the `window-resized` hook writes a window's new size, `COLS ROWS`. */
export const SIZE_FILE = "size"

/**
 * Shell command for the `window-resized` hook: the new size into `DIR/size`, atomically. Any
 * resize (ours, an attached `tmux` client's) lands in the folder the server watches, so
 * viewers learn of it without anyone polling tmux.
 */
export const resizeHookCommand = (logDir: string): string => {
  const tmp = escapeTmuxFormat(quoteShellArg(`${logDir}/${SIZE_FILE}.tmp`))
  const final = escapeTmuxFormat(quoteShellArg(`${logDir}/${SIZE_FILE}`))
  const shell = `printf '%s %s' '#{window_width}' '#{window_height}' > ${tmp} && ${mv()} -f ${tmp} ${final}`
  return tmuxCommandLine(["run-shell", "-b", shell])
}

/**
 * The names in `show-environment` output (`NAME=VALUE`, or `-NAME` for one marked removed, which
 * no pane gets). A value holding a line break spills onto lines of its own; a name read off such
 * a line is at worst one more name `env -u` removes, which no pane has unless `spec.env` sets it.
 */
const environmentNames = (lines: ReadonlyArray<string>): ReadonlyArray<string> =>
  lines.flatMap((line) => {
    const eq = line.indexOf("=")
    return line.startsWith("-") || eq <= 0 ? [] : [line.slice(0, eq)]
  })

/** How often, and how long, the start gate is tried until the pane's shell opened it. */
const GATE_LOOK_EVERY = Duration.millis(2)
const GATE_WAIT = Duration.seconds(10)

/** A FIFO made with `mkfifo` (argv, no shell): Node has no mkfifo of its own. */
const makeFifo = (path: string, sessionName: string) =>
  Effect.async<void, TmuxSessionError>((resume) => {
    execFile("mkfifo", ["-m", "600", "--", path], (error) =>
      resume(
        error === null
          ? Effect.void
          : Effect.fail(
              new TmuxSessionError({
                sessionName,
                message: `could not create the start gate for ${sessionName}: ${error.message}`,
              }),
            ),
      ),
    )
  })

/**
 * Opens the gate: writes a line into the FIFO once the pane's shell has opened it for
 * reading (until then a non-blocking open fails with ENXIO), then deletes it.
 */
const openGate = (path: string, sessionName: string) => {
  const notReady = (e: unknown) => (e as NodeJS.ErrnoException).code === "ENXIO"
  const writeGo = Effect.tryPromise({
    try: async () => {
      const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK)
      try {
        await handle.write("go\n")
      } finally {
        await handle.close()
      }
    },
    catch: (cause) => cause,
  })
  return writeGo.pipe(
    Effect.retry({
      while: notReady,
      schedule: Schedule.spaced(GATE_LOOK_EVERY).pipe(Schedule.upTo(GATE_WAIT)),
    }),
    Effect.zipRight(Effect.promise(() => unlink(path).catch(() => undefined))),
    Effect.mapError(
      (cause) =>
        new TmuxSessionError({
          sessionName,
          message: `the command of ${sessionName} never reached its start gate`,
          cause: String(cause),
        }),
    ),
  )
}

/** The commands that wire a pane to its log and exit file (shared by spawn and adopt). */
export const wirePaneCommands = (
  target: ReadonlyArray<string>,
  logDir: string,
  writerCommand: string,
): ReadonlyArray<ReadonlyArray<string>> => [
  ["set-option", "-p", ...target, `${OPTION_PREFIX}log`, logDir],
  ["set-hook", "-p", ...target, "pane-died", exitHookCommand(logDir)],
  ["pipe-pane", "-o", ...target, escapeTmuxFormat(writerCommand)],
]

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

/**
 * Exact bytes as `send-keys -H` commands: 256 keys per command, 64 commands per line (each
 * line is one `exec` to tmux, so an error skips the rest of its line only).
 */
const sendKeysLines = (paneId: PaneId, data: Uint8Array): string[][][] => {
  const commands: string[][] = []
  for (let i = 0; i < data.length; i += 256) {
    const hex: string[] = []
    for (const byte of data.subarray(i, i + 256)) hex.push(HEX[byte] ?? "00")
    commands.push(["send-keys", "-H", "-t", paneId, ...hex])
  }
  const lines: string[][][] = []
  for (let i = 0; i < commands.length; i += 64) lines.push(commands.slice(i, i + 64))
  return lines
}

/** Session-level operations over the control client (the seed's TmuxSessionManager). */
export class TmuxSessionManager extends Effect.Service<TmuxSessionManager>()(
  "geppetto/TmuxSessionManager",
  {
    effect: Effect.gen(function* () {
      const client = yield* TmuxControlClient

      /**
       * Creates a detached session running `argv` without a shell interpreting it. The pane
       * starts on a gate (`paneWrapperScript`, the user's argv only ever as positional parameters)
       * that waits while we set, by explicit ids, `remain-on-exit`, our options, the exit hook
       * and the log pipe; then we open the gate and the wrapper runs the real command. So the
       * first byte is logged and an instant exit is recorded.
       * Chaining the setup onto new-session's implicit target proved unreliable on tmux 3.3a
       * (it sometimes missed the new pane).
       * `spec.env` is the pane's whole environment: every variable goes in with `-e` (on the
       * control client's stdin, never on an argv), `-E` keeps `update-environment` from copying
       * our client's variables in, and the wrapper runs the command through `env -u` for each
       * name of tmux's global environment that `spec.env` lacks (`paneCommandArgs`). That global
       * environment is whatever process started the tmux server had: an older Geppetto, launched
       * by pnpm, or the user's own shell.
       */
      const createSession = Effect.fn("TmuxSessionManager.createSession")(function* (
        spec: CreateSessionSpec,
      ) {
        const gate = join(spec.logDir, ".start-gate")
        yield* makeFifo(gate, spec.name)
        // The commands that may start a tmux server (after it died, a new runner brings it back).
        const globalNames = yield* client
          .execOne(["show-environment", "-g"], { startServer: true })
          .pipe(Effect.map(environmentNames))
        const unset = namesToUnset(spec.env, globalNames)
        const envArgs = [
          ...Object.entries(spec.env),
          ...(spec.env.SHELL === undefined ? [] : [[SHELL_CARRIER, spec.env.SHELL] as const]),
        ].flatMap(([k, v]) => ["-e", `${k}=${v}`])
        const created = yield* client.execOne(
          [
            "new-session",
            "-d",
            "-E",
            "-P",
            "-F",
            PANE_FORMAT,
            "-s",
            spec.name,
            "-x",
            String(spec.cols),
            "-y",
            String(spec.rows),
            "-c",
            escapeTmuxFormat(spec.cwd),
            ...envArgs,
            "--",
            "/bin/sh",
            "-c",
            paneWrapperScript(),
            gate,
            ...paneCommandArgs(spec.argv, unset),
          ],
          { startServer: true },
        )
        const pane = parsePane(created[0] ?? "")
        if (pane === undefined) {
          return yield* new TmuxSessionError({
            sessionName: spec.name,
            message: `tmux created session ${spec.name} but did not report its pane`,
          })
        }
        const killIt = Effect.ignore(client.execOne(["kill-session", "-t", pane.sessionId]))
        yield* client
          .exec([
            ["set-option", "-w", "-t", pane.windowId, "remain-on-exit", "on"],
            [
              "set-hook",
              "-w",
              "-t",
              pane.windowId,
              "window-resized",
              resizeHookCommand(spec.logDir),
            ],
            ...Object.entries(spec.metadata).map(([k, v]) => [
              "set-option",
              "-t",
              pane.sessionId,
              `${OPTION_PREFIX}${k}`,
              v,
            ]),
            ...wirePaneCommands(["-t", pane.paneId], spec.logDir, spec.writerCommand),
          ])
          .pipe(Effect.tapError(() => killIt))
        yield* openGate(gate, spec.name).pipe(Effect.tapError(() => killIt))
        return pane
      })

      const listPanes = (scope: ReadonlyArray<string>) =>
        Effect.map(client.execOne(["list-panes", ...scope, "-F", PANE_FORMAT]), (lines) =>
          lines.map(parsePane).filter((p): p is PaneState => p !== undefined),
        )

      const panesOfSession = (sessionId: string) => listPanes(["-s", "-t", sessionId])
      const allPanes = listPanes(["-a"])

      const paneState = (paneId: PaneId) =>
        Effect.map(client.execOne(["display-message", "-p", "-t", paneId, PANE_FORMAT]), (lines) =>
          parsePane(lines[0] ?? ""),
        ).pipe(
          // A pane that is gone is not an error here: the caller asks to learn just that.
          Effect.catchIf(
            (e) => /can't find|no such/.test(e.message),
            () => Effect.succeed(undefined),
          ),
        )

      const listSessions: TmuxSessionManagerPort["listSessions"] = Effect.gen(function* () {
        const format = [
          "#{session_id}",
          "#{session_name}",
          "#{session_attached}",
          "#{session_windows}",
          "#{session_created}",
          ...METADATA_KEYS.map((k) => `#{${OPTION_PREFIX}${k}}`),
        ].join(SEP)
        const lines = yield* client.execOne(["list-sessions", "-F", format])
        return lines
          .map((line): TmuxSessionListing => {
            const f = line.split(SEP)
            const metadata: Record<string, string> = {}
            METADATA_KEYS.forEach((k, i) => {
              const v = f[5 + i]
              if (v !== undefined && v !== "") metadata[k] = v
            })
            return {
              sessionId: f[0] ?? "",
              name: f[1] ?? "",
              attached: Number(f[2] ?? 0) > 0,
              windows: Number(f[3] ?? 0),
              createdAt: Number(f[4] ?? 0) * 1000,
              metadata,
            }
          })
          .filter((s) => s.name !== CONTROL_SESSION)
      })

      /**
       * The id of the session named exactly `name`, if there is one: one lookup by name (asking
       * for the whole list made a restart with 100 runners read 100 lists of 100 sessions).
       * `list-windows` takes a session target, where a `.` in the name is not a separator.
       */
      const findSession = (name: string) =>
        Effect.map(
          client.execOne(["list-windows", "-t", `=${name}`, "-F", "#{session_id}"]),
          (lines) => lines[0],
        ).pipe(
          Effect.catchIf(
            (e) => !isTmuxServerDown(e) && /can't find|no such|no current/.test(e.message),
            () => Effect.succeed(undefined),
          ),
        )

      /** Our control session is not one to adopt or monitor. */
      const sessionIdByName = (name: string) =>
        name === CONTROL_SESSION ? Effect.succeed(undefined) : findSession(name)

      const hasSession = (name: string) => Effect.map(findSession(name), (id) => id !== undefined)

      const killSession = (sessionId: string) =>
        client.execOne(["kill-session", "-t", sessionId]).pipe(
          Effect.asVoid,
          Effect.catchIf(
            (e) => /can't find|no such/.test(e.message),
            () => Effect.void,
          ),
        )

      const capturePane = (paneId: PaneId, options?: { readonly escapes?: boolean }) =>
        client.execOne(["capture-pane", "-p", ...(options?.escapes ? ["-e"] : []), "-t", paneId])

      /** Exact bytes as keys: `send-keys -H`, 256 bytes per command, one line per 16 KiB. */
      /**
       * Exact bytes as keys: `send-keys -H` of 256 bytes each, 64 to a line, every line written
       * to tmux at once (so a long paste cannot be overtaken by the next keystroke).
       */
      const sendKeysHex = (paneId: PaneId, data: Uint8Array) =>
        Effect.asVoid(client.execLines(sendKeysLines(paneId, data)))

      const sendKeysHexNow = (
        paneId: PaneId,
        data: Uint8Array,
        done: (error: TmuxSessionError | undefined) => void,
      ) => client.writeNow(sendKeysLines(paneId, data), done)

      const sendKeys = (paneId: PaneId, keys: ReadonlyArray<string>) =>
        Effect.asVoid(client.execOne(["send-keys", "-t", paneId, ...keys]))

      const resizeWindow = (windowId: string, cols: number, rows: number) =>
        Effect.asVoid(
          client.execOne(["resize-window", "-t", windowId, "-x", String(cols), "-y", String(rows)]),
        )

      /** Reports the window's resizes into `logDir` (see `resizeHookCommand`). */
      const watchWindowSize = (windowId: string, logDir: string) =>
        Effect.asVoid(
          client.execOne([
            "set-hook",
            "-w",
            "-t",
            windowId,
            "window-resized",
            resizeHookCommand(logDir),
          ]),
        )

      const wirePane = (paneId: PaneId, logDir: string, writerCommand: string) =>
        Effect.asVoid(client.exec(wirePaneCommands(["-t", paneId], logDir, writerCommand)))

      /**
       * A new log writer for a pane whose writer died. Without `-o`: tmux notices a dead pipe
       * only when it next writes to it, and `-o` would close that stale pipe and open nothing.
       */
      const repipePane = (paneId: PaneId, writerCommand: string) =>
        Effect.asVoid(client.execOne(["pipe-pane", "-t", paneId, escapeTmuxFormat(writerCommand)]))

      const attachCommand = (name: string) =>
        [...client.tmuxPrefix, "attach", "-t", `=${name}`]
          .map((w) => (/^[A-Za-z0-9_=%@./-]+$/.test(w) ? w : quoteShellArg(w)))
          .join(" ")

      const port = {
        createSession,
        listSessions,
        hasSession,
        killSession,
        capturePane,
        sendKeysHex,
        sendKeysHexNow,
        resizeWindow,
      } satisfies TmuxSessionManagerPort
      return {
        ...port,
        sendKeys,
        paneState,
        panesOfSession,
        allPanes,
        wirePane,
        repipePane,
        watchWindowSize,
        sessionIdByName,
        attachCommand,
      } as const
    }),
  },
) {}
