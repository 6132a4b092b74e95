import { Cause, Clock, Deferred, Effect, Exit, FiberId, Option, PubSub, Ref, Scope } from "effect"
import { RunnerConfig } from "../config.js"
import type { TmuxSessionError } from "../domain/errors.js"
import {
  CONTROL_SESSION,
  type Connection,
  controlError,
  failAll,
  isTmuxServerDown,
  type Outputs,
  openConnection,
  TMUX_SERVER_DOWN,
  type TmuxNotification,
  writeLines,
} from "./control-connection.js"
import { runTmuxOnce, tmuxServerArgs } from "./one-off.js"
import { tmuxCommandLine } from "./quote.js"
import { isSupportedTmux, MIN_TMUX_VERSION, parseTmuxVersion, type TmuxVersion } from "./version.js"

export {
  CONTROL_SESSION,
  isTmuxServerDown,
  TMUX_SERVER_DOWN,
  type TmuxNotification,
} from "./control-connection.js"

const REPLY_TIMEOUT = "15 seconds"

/** What `writeNow` calls back with once tmux answered: undefined, or why it refused. */
export type WriteNowDone = (error: TmuxSessionError | undefined) => void

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
 * One persistent `tmux -C` client carrying pipelined commands, as an Effect service: the
 * connection itself (the child and the parser that matches replies to lines, in order) is
 * plain code in control-connection.ts; this adds connecting, reconnecting and timeouts. The
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

      const startConnection = Effect.map(ensureControlSession, () =>
        openConnection(socket, {
          onNotification: (notification) => notifications.unsafeOffer(notification),
          onLost: markLost,
        }),
      )

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
          if (!connection.alive) {
            const first = (lines[0] ?? []).map(tmuxCommandLine).join(" ; ")
            return yield* controlError(
              `the tmux control client exited before ${first.slice(0, 200)}`,
            )
          }
          const deferreds = lines.map(() =>
            Deferred.unsafeMake<Outputs, TmuxSessionError>(FiberId.none),
          )
          const first = writeLines(connection, lines, (i) => (exit) => {
            const deferred = deferreds[i]
            if (deferred !== undefined) Deferred.unsafeDone(deferred, exit)
          })
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
        writeLines(connection, lines, () => settle)
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
