import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { Cause, Clock, Deferred, Effect, Exit, FiberId, Option, PubSub, Ref, Scope } from "effect"
import { RunnerConfig } from "../config.js"
import { TmuxSessionError } from "../domain/errors.js"
import { markStage } from "../trace/stage-trace.js"
import { runTmuxOnce, tmuxEnvironment, tmuxServerArgs } from "./one-off.js"
import { tmuxCommandLine } from "./quote.js"
import { isSupportedTmux, MIN_TMUX_VERSION, parseTmuxVersion, type TmuxVersion } from "./version.js"

/**
 * The session our control client attaches to. An unattached control client exits at once
 * (tmux 3.3), so it needs a session of its own; we create it with a `sleep infinity` pane
 * and hide it from every list we show.
 */
export const CONTROL_SESSION = "geppetto-control"

/** Lines tmux sends outside command replies (`%sessions-changed`, `%exit`, ...). */
export type TmuxNotification =
  | { readonly _tag: "line"; readonly line: string }
  | { readonly _tag: "disconnected" }

const REPLY_TIMEOUT = "15 seconds"

type Outputs = ReadonlyArray<ReadonlyArray<string>>

interface Pending {
  readonly line: string
  readonly expected: number
  readonly outputs: Array<ReadonlyArray<string>>
  /** Told once: the outputs of the line's commands, or why it failed. */
  readonly settle: (exit: Exit.Exit<Outputs, TmuxSessionError>) => void
}

/** What `writeNow` calls back with once tmux answered: undefined, or why it refused. */
export type WriteNowDone = (error: TmuxSessionError | undefined) => void

interface Connection {
  readonly child: ChildProcessWithoutNullStreams
  readonly pending: Pending[]
  alive: boolean
}

/**
 * A line's first command name, for the stage trace: never its arguments (a `send-keys` line
 * holds what someone typed, which no file of ours keeps).
 */
const commandName = (line: string): string => /^'?([a-z-]+)/.exec(line)?.[1] ?? ""

const controlError = (message: string, cause?: string) =>
  new TmuxSessionError({
    sessionName: CONTROL_SESSION,
    message,
    ...(cause === undefined ? {} : { cause }),
  })

/** The `cause` of a `TmuxSessionError` that says no tmux server is running on our socket. */
export const TMUX_SERVER_DOWN = "tmux-server-down"

/** Whether `error` says the tmux server is gone (rather than one command failing). */
export const isTmuxServerDown = (error: { readonly cause?: string | undefined }): boolean =>
  error.cause === TMUX_SERVER_DOWN

/** What tmux 3.x clients print when no server answers on the socket (removed, or stale). */
const NO_SERVER = /no server running|error connecting to|server exited unexpectedly/

/** After a failed look for a server, how long commands fail at once without forking tmux again. */
const PROBE_QUIET_MS = 1_000

/** The control client's view of tmux, for `/api/health`. */
export type TmuxStatus =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly since: number }

/** Options of one command line. */
export interface ExecOptions {
  /**
   * Start a tmux server if none runs. Only what creates a session does this (a new runner),
   * and the first connection at start-up: a server that died is not brought back behind the
   * operator's back by a background look or a health check.
   */
  readonly startServer?: boolean
}

/**
 * One persistent `tmux -C` client carrying pipelined commands. Replies are matched in
 * order: tmux answers each command of a line with a `%begin`/`%end` (or `%error`) block
 * flagged 1 ("from this client"), and skips the rest of a line after an error. The
 * client is started on first use and started again, lazily, by the next command after it
 * died. Once a connection was lost, only a command with `startServer` may start a tmux
 * server; the others reconnect to a server that runs (one `has-session` to find out) or fail
 * with a `TmuxSessionError` whose cause is `TMUX_SERVER_DOWN`.
 */
export class TmuxControlClient extends Effect.Service<TmuxControlClient>()(
  "geppetto/TmuxControlClient",
  {
    scoped: Effect.gen(function* () {
      const config = yield* RunnerConfig
      const socket = config.tmuxSocket
      const notifications = yield* PubSub.sliding<TmuxNotification>(1024)
      const connectionRef = yield* Ref.make<Connection | undefined>(undefined)
      /** `connectionRef`'s value for plain code (`writeNow`): set with it. */
      let liveConnection: Connection | undefined
      const connectLock = yield* Effect.makeSemaphore(1)
      const scope = yield* Effect.scope
      // `markLost` runs in the child's event handlers, outside any fiber.
      const clock = yield* Effect.clock
      /** Why the last connection ended, while no new one replaced it; unset before the first. */
      let lost: { readonly reason: string; readonly at: number } | undefined
      /** The last look that found no server: commands within PROBE_QUIET_MS fail with it. */
      let lastProbe: { readonly at: number; readonly error: TmuxSessionError } | undefined
      const where = socket === undefined ? "the default tmux server" : `tmux server -L ${socket}`
      const markLost = (reason: string) => {
        lost ??= { reason, at: clock.unsafeCurrentTimeMillis() }
      }

      const version: Effect.Effect<TmuxVersion, TmuxSessionError> = Effect.gen(function* () {
        const result = yield* runTmuxOnce(socket, ["-V"], "tmux -V")
        const parsed = parseTmuxVersion(result.stdout)
        if (result.code !== 0 || parsed === undefined) {
          return yield* controlError(
            `could not read the tmux version (tmux -V said ${JSON.stringify(result.stdout + result.stderr)})`,
          )
        }
        if (!isSupportedTmux(parsed)) {
          return yield* controlError(
            `tmux ${parsed.raw} is too old: Geppetto needs tmux >= ${MIN_TMUX_VERSION.major}.${MIN_TMUX_VERSION.minor}`,
          )
        }
        return parsed
      })

      const ensureControlSession = Effect.gen(function* () {
        const result = yield* runTmuxOnce(
          socket,
          [
            "new-session",
            "-d",
            "-s",
            CONTROL_SESSION,
            "-x",
            "80",
            "-y",
            "24",
            "--",
            "sleep",
            "infinity",
          ],
          CONTROL_SESSION,
        )
        if (result.code !== 0 && !result.stderr.includes("duplicate session")) {
          return yield* controlError(
            `could not create the tmux control session: ${result.stderr.trim()}`,
          )
        }
      })

      const failAll = (connection: Connection, error: TmuxSessionError) => {
        connection.alive = false
        for (const pending of connection.pending.splice(0)) pending.settle(Exit.fail(error))
      }

      const startConnection = Effect.gen(function* () {
        yield* ensureControlSession
        const child = spawn(
          "tmux",
          [
            ...tmuxServerArgs(socket),
            "-C",
            "attach-session",
            "-t",
            `=${CONTROL_SESSION}`,
            "-f",
            "no-output,ignore-size",
          ],
          { stdio: ["pipe", "pipe", "pipe"], env: tmuxEnvironment() },
        )
        const connection: Connection = { child, pending: [], alive: true }
        let buffered: Buffer = Buffer.alloc(0)
        let block: { key: string; ours: boolean; lines: string[] } | undefined

        const onLine = (line: string) => {
          if (block !== undefined) {
            const end = line.startsWith("%end ")
            const error = line.startsWith("%error ")
            if ((end || error) && line.slice(end ? 5 : 7) === block.key) {
              const finished = block
              block = undefined
              if (!finished.ours) return
              const pending = connection.pending[0]
              if (pending === undefined) return
              if (error) {
                connection.pending.shift()
                pending.settle(
                  Exit.fail(
                    new TmuxSessionError({
                      sessionName: CONTROL_SESSION,
                      message: `tmux refused ${pending.line.slice(0, 200)}: ${finished.lines.join(" ").trim()}`,
                      cause: finished.lines.join("\n"),
                    }),
                  ),
                )
                return
              }
              pending.outputs.push(finished.lines)
              if (pending.outputs.length >= pending.expected) {
                connection.pending.shift()
                markStage("cc.reply", commandName(pending.line))
                pending.settle(Exit.succeed(pending.outputs))
              }
              return
            }
            block.lines.push(line)
            return
          }
          if (line.startsWith("%begin ")) {
            const rest = line.slice(7)
            block = { key: rest, ours: rest.endsWith(" 1"), lines: [] }
            return
          }
          if (line.startsWith("%exit")) {
            markLost(`the tmux control client was detached (${line.trim()})`)
            failAll(connection, controlError("the tmux control client was detached (%exit)"))
          }
          notifications.unsafeOffer({ _tag: "line", line })
        }

        child.stdout.on("data", (chunk: Buffer) => {
          buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
          let start = 0
          for (;;) {
            const nl = buffered.indexOf(0x0a, start)
            if (nl === -1) break
            onLine(buffered.subarray(start, nl).toString("utf8"))
            start = nl + 1
          }
          buffered = start === buffered.length ? Buffer.alloc(0) : buffered.subarray(start)
        })
        let stderr = ""
        child.stderr.on("data", (chunk: Buffer) => {
          if (stderr.length < 1024) stderr += chunk.toString("utf8")
        })
        child.stdin.on("error", () => {})
        const onGone = (reason: string) => {
          if (!connection.alive) return
          const said = stderr.trim()
          const why = said === "" ? reason : `${reason}: ${said.slice(0, 300)}`
          markLost(`the tmux control client exited (${why})`)
          failAll(connection, controlError(`the tmux control client exited: ${why}`))
          notifications.unsafeOffer({ _tag: "disconnected" })
        }
        child.on("error", (cause) => onGone(cause.message))
        child.on("exit", (code, signal) => onGone(`code ${code} signal ${signal}`))
        return connection
      })

      /**
       * After a loss, without leave to start a server: is one running? One `has-session` (tmux
       * answers "no server running" without starting one), at most once per PROBE_QUIET_MS.
       */
      const requireServer = (previous: { readonly reason: string; readonly at: number }) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          if (lastProbe !== undefined && now - lastProbe.at < PROBE_QUIET_MS) {
            return yield* lastProbe.error
          }
          const probe = yield* runTmuxOnce(
            socket,
            ["has-session", "-t", `=${CONTROL_SESSION}`],
            CONTROL_SESSION,
          )
          if (probe.code === 0 || !NO_SERVER.test(probe.stderr)) {
            lastProbe = undefined
            return
          }
          const error = controlError(
            `${where} is not running (${probe.stderr.trim().slice(0, 200)}); lost since ${new Date(previous.at).toISOString()}: ${previous.reason}`,
            TMUX_SERVER_DOWN,
          )
          lastProbe = { at: now, error }
          return yield* error
        })

      const connect = (startServer: boolean) =>
        Effect.flatMap(Ref.get(connectionRef), (current) =>
          // The common case, a live connection, takes no lock: no step between a command's
          // start and its write to tmux.
          current?.alive === true ? Effect.succeed(current) : reconnect(startServer),
        )

      const reconnect = (startServer: boolean) =>
        connectLock.withPermits(1)(
          Effect.gen(function* () {
            const current = yield* Ref.get(connectionRef)
            if (current?.alive) return current
            if (!startServer && lost !== undefined) yield* requireServer(lost)
            const connection = yield* startConnection
            lastProbe = undefined
            lost = undefined
            yield* Ref.set(connectionRef, connection)
            liveConnection = connection
            return connection
          }),
        )

      yield* Scope.addFinalizer(
        scope,
        Effect.gen(function* () {
          const connection = yield* Ref.get(connectionRef)
          if (connection === undefined) return
          connection.alive = false
          connection.child.stdin.end()
          connection.child.kill("SIGTERM")
          failAll(connection, controlError("the tmux control client was closed"))
          // Our control session holds a `sleep` process: leave nothing behind.
          yield* Effect.ignore(
            runTmuxOnce(socket, ["kill-session", "-t", `=${CONTROL_SESSION}`], CONTROL_SESSION),
          )
        }),
      )

      /**
       * Writes the lines in one synchronous step (so replies, and the order of every caller's
       * commands, follow the order of the calls), then waits for each line's reply.
       */
      const send = (
        connection: Connection,
        lines: ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>,
      ) =>
        Effect.gen(function* () {
          const texts = lines.map((commands) => commands.map(tmuxCommandLine).join(" ; "))
          const first = texts[0] ?? ""
          if (!connection.alive) {
            return yield* controlError(
              `the tmux control client exited before ${first.slice(0, 200)}`,
            )
          }
          const deferreds = texts.map((line, i) => {
            const deferred = Deferred.unsafeMake<Outputs, TmuxSessionError>(FiberId.none)
            connection.pending.push({
              line,
              expected: lines[i]?.length ?? 0,
              outputs: [],
              settle: (exit) => Deferred.unsafeDone(deferred, exit),
            })
            return deferred
          })
          markStage("cc.write", commandName(first))
          connection.child.stdin.write(`${texts.join("\n")}\n`)
          const replies = yield* Effect.forEach(deferreds, (deferred) =>
            Deferred.await(deferred),
          ).pipe(
            Effect.timeoutFail({
              duration: REPLY_TIMEOUT,
              // A reply that never comes would shift every later reply onto the wrong
              // command: drop the connection so the next command starts in step.
              onTimeout: () => {
                const error = controlError(
                  `tmux did not answer within 15 s: ${first.slice(0, 200)}`,
                )
                markLost(error.message)
                failAll(connection, error)
                connection.child.kill("SIGKILL")
                return error
              },
            }),
          )
          return replies.flat()
        })

      const observe = <A, E>(
        effect: Effect.Effect<A, E>,
        commands: ReadonlyArray<ReadonlyArray<string>>,
      ): Effect.Effect<A, E> => {
        const observer = config.onTmuxCommand
        if (observer === undefined) return effect
        return Effect.suspend(() => {
          const started = performance.now()
          return Effect.onExit(effect, (exit) =>
            Effect.sync(() => {
              try {
                observer({
                  command: commands[0]?.[0] ?? "",
                  commands: commands.length,
                  durationMs: performance.now() - started,
                  ok: Exit.isSuccess(exit),
                })
              } catch {
                // A metrics hook that throws must not fail the tmux command it measured.
              }
            }),
          )
        })
      }

      /**
       * Runs commands as one line (tmux runs them back to back, before it reads any pane
       * output) and returns each command's output lines. Fails on the first `%error`.
       * With a live connection the line is written before the first asynchronous step: started
       * with `Runtime.runFork`, commands reach tmux in the order they were started. No span:
       * this runs for every keystroke (the `onTmuxCommand` observer times it instead).
       */
      const exec = (commands: ReadonlyArray<ReadonlyArray<string>>, options?: ExecOptions) =>
        execLines([commands], options)

      /**
       * `exec` for many lines written at once, e.g. a long paste as `send-keys` lines of
       * bounded length. Each line is its own `exec` to tmux: an error skips the rest of its
       * line only. Outputs of every command, in order; fails on the first `%error`.
       */
      const execLines = (
        lines: ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>,
        options?: ExecOptions,
      ) =>
        Effect.gen(function* () {
          const nonEmpty = lines.filter((commands) => commands.length > 0)
          if (nonEmpty.length === 0) return []
          // A blank line on a control client's stdin detaches it: never send one.
          if (nonEmpty.some((commands) => commands.some((c) => c.length === 0)))
            return yield* Effect.die("empty tmux command")
          const connection = yield* connect(options?.startServer === true)
          return yield* observe(send(connection, nonEmpty), nonEmpty.flat())
        })

      const execOne = (command: ReadonlyArray<string>, options?: ExecOptions) =>
        Effect.map(exec([command], options), (outputs) => outputs[0] ?? [])

      /**
       * The keystroke path: writes `lines` to the live connection now, from plain code, and
       * calls `done` from the reply handler once tmux answered every line (with the first
       * refusal, if any). No fiber, no timer: per keystroke those cost more than tmux's own
       * round trip (measured: ~0.2 ms of synchronous Effect work per command, which held the
       * event loop while the echo was already waiting to be read). Returns false, writing
       * nothing, when there is no live connection: the caller then takes `execLines`, which
       * connects. Replies stay in order with every other command's, since all share one
       * queue; a tmux that stops answering is caught by the next `exec`'s timeout, which
       * fails these too. Observed (`onTmuxCommand`) as `exec` is.
       */
      const writeNow = (
        lines: ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>,
        done: WriteNowDone,
      ): boolean => {
        const connection = liveConnection
        // A blank line on a control client's stdin detaches it: never send one.
        if (connection?.alive !== true || lines.length === 0) return false
        if (lines.some((commands) => commands.length === 0 || commands.some((c) => c.length === 0)))
          return false
        let left = lines.length
        let failed = false
        // Timed like `exec` (`observe`), from plain code: keystrokes stay in the metrics.
        const observer = config.onTmuxCommand
        const started = observer === undefined ? 0 : performance.now()
        const observed = (ok: boolean) => {
          if (observer === undefined) return
          try {
            observer({
              command: lines[0]?.[0]?.[0] ?? "",
              commands: lines.reduce((n, commands) => n + commands.length, 0),
              durationMs: performance.now() - started,
              ok,
            })
          } catch {
            // A metrics hook that throws must not fail the keystroke it measured.
          }
        }
        // Called from the reply parser: a caller's callback that throws must not stop it.
        const tell = (error: TmuxSessionError | undefined) => {
          try {
            done(error)
          } catch {
            // the caller's own failure; the replies after this one still need matching
          }
        }
        const settle = (exit: Exit.Exit<Outputs, TmuxSessionError>) => {
          if (failed) return
          if (Exit.isFailure(exit)) {
            failed = true
            observed(false)
            const error = Cause.failureOption(exit.cause)
            tell(
              Option.getOrElse(error, () =>
                controlError("the tmux control client failed without a reason"),
              ),
            )
            return
          }
          if (--left === 0) {
            observed(true)
            tell(undefined)
          }
        }
        const texts = lines.map((commands) => commands.map(tmuxCommandLine).join(" ; "))
        texts.forEach((line, i) => {
          connection.pending.push({
            line,
            expected: lines[i]?.length ?? 0,
            outputs: [],
            settle,
          })
        })
        markStage("cc.write", commandName(texts[0] ?? ""))
        connection.child.stdin.write(`${texts.join("\n")}\n`)
        return true
      }

      /**
       * Whether tmux answers: a round trip through the live connection (no process forked);
       * without one, the lazy reconnect of any command, which never starts a server and looks
       * for one at most once a second. Its `error` is for an unauthenticated health check:
       * a fixed phrase, without the socket paths and tmux output the full error carries.
       */
      const status: Effect.Effect<TmuxStatus> = execOne(["display-message", "-p", "ok"]).pipe(
        Effect.timeoutFail({
          duration: "2 seconds",
          onTimeout: () => controlError("tmux did not answer within 2 s"),
        }),
        Effect.as<TmuxStatus>({ ok: true }),
        Effect.catchAll((e) =>
          Effect.map(
            Clock.currentTimeMillis,
            (now): TmuxStatus => ({
              ok: false,
              error: isTmuxServerDown(e)
                ? "the tmux server is not running (killed or crashed); starting a runner starts it again"
                : e.message.startsWith("tmux did not answer")
                  ? e.message
                  : "the tmux control client cannot reach tmux",
              since: lost?.at ?? now,
            }),
          ),
        ),
      )

      return {
        version,
        exec,
        execLines,
        execOne,
        writeNow,
        status,
        subscribe: PubSub.subscribe(notifications),
        socket,
        /** The `tmux` argv prefix for a person: `tmux -L NAME` or plain `tmux`. */
        tmuxPrefix: ["tmux", ...tmuxServerArgs(socket)] as ReadonlyArray<string>,
      } as const
    }),
  },
) {}
