import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { Deferred, Effect, Exit, PubSub, Ref, Scope } from "effect"
import { RunnerConfig } from "../config.js"
import { TmuxSessionError } from "../domain/errors.js"
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

interface Pending {
  readonly line: string
  readonly expected: number
  readonly outputs: Array<ReadonlyArray<string>>
  readonly deferred: Deferred.Deferred<ReadonlyArray<ReadonlyArray<string>>, TmuxSessionError>
}

interface Connection {
  readonly child: ChildProcessWithoutNullStreams
  readonly pending: Pending[]
  alive: boolean
}

const controlError = (message: string, cause?: string) =>
  new TmuxSessionError({
    sessionName: CONTROL_SESSION,
    message,
    ...(cause === undefined ? {} : { cause }),
  })

/**
 * One persistent `tmux -C` client carrying pipelined commands. Replies are matched in
 * order: tmux answers each command of a line with a `%begin`/`%end` (or `%error`) block
 * flagged 1 ("from this client"), and skips the rest of a line after an error. The
 * client is started on first use and started again after it dies.
 */
export class TmuxControlClient extends Effect.Service<TmuxControlClient>()(
  "geppetto/TmuxControlClient",
  {
    scoped: Effect.gen(function* () {
      const config = yield* RunnerConfig
      const socket = config.tmuxSocket
      const notifications = yield* PubSub.sliding<TmuxNotification>(1024)
      const connectionRef = yield* Ref.make<Connection | undefined>(undefined)
      const connectLock = yield* Effect.makeSemaphore(1)
      const scope = yield* Effect.scope

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
        for (const pending of connection.pending.splice(0)) {
          Deferred.unsafeDone(pending.deferred, Exit.fail(error))
        }
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
                Deferred.unsafeDone(
                  pending.deferred,
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
                Deferred.unsafeDone(pending.deferred, Exit.succeed(pending.outputs))
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
        child.stderr.on("data", () => {})
        child.stdin.on("error", () => {})
        const onGone = (reason: string) => {
          if (!connection.alive) return
          failAll(connection, controlError(`the tmux control client exited: ${reason}`))
          notifications.unsafeOffer({ _tag: "disconnected" })
        }
        child.on("error", (cause) => onGone(cause.message))
        child.on("exit", (code, signal) => onGone(`code ${code} signal ${signal}`))
        return connection
      })

      const connect = connectLock.withPermits(1)(
        Effect.gen(function* () {
          const current = yield* Ref.get(connectionRef)
          if (current?.alive) return current
          const connection = yield* startConnection
          yield* Ref.set(connectionRef, connection)
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

      const send = (connection: Connection, commands: ReadonlyArray<ReadonlyArray<string>>) =>
        Effect.gen(function* () {
          const line = commands.map(tmuxCommandLine).join(" ; ")
          const deferred = yield* Deferred.make<
            ReadonlyArray<ReadonlyArray<string>>,
            TmuxSessionError
          >()
          if (!connection.alive) {
            return yield* controlError(
              `the tmux control client exited before ${line.slice(0, 200)}`,
            )
          }
          // Push and write in one synchronous step so that replies stay in order.
          connection.pending.push({
            line,
            expected: commands.length,
            outputs: [],
            deferred,
          })
          connection.child.stdin.write(`${line}\n`)
          return yield* Deferred.await(deferred).pipe(
            Effect.timeoutFail({
              duration: REPLY_TIMEOUT,
              // A reply that never comes would shift every later reply onto the wrong
              // command: drop the connection so the next command starts in step.
              onTimeout: () => {
                const error = controlError(`tmux did not answer within 15 s: ${line.slice(0, 200)}`)
                failAll(connection, error)
                connection.child.kill("SIGKILL")
                return error
              },
            }),
          )
        })

      /**
       * Runs commands as one line (tmux runs them back to back, before it reads any pane
       * output) and returns each command's output lines. Fails on the first `%error`.
       */
      const exec = (commands: ReadonlyArray<ReadonlyArray<string>>) =>
        Effect.gen(function* () {
          if (commands.length === 0) return []
          // A blank line on a control client's stdin detaches it: never send one.
          if (commands.some((c) => c.length === 0)) return yield* Effect.die("empty tmux command")
          const connection = yield* connect
          return yield* send(connection, commands)
        }).pipe(Effect.withSpan("TmuxControlClient.exec"))

      const execOne = (command: ReadonlyArray<string>) =>
        Effect.map(exec([command]), (outputs) => outputs[0] ?? [])

      return {
        version,
        exec,
        execOne,
        subscribe: PubSub.subscribe(notifications),
        socket,
        /** The `tmux` argv prefix for a person: `tmux -L NAME` or plain `tmux`. */
        tmuxPrefix: ["tmux", ...tmuxServerArgs(socket)] as ReadonlyArray<string>,
      } as const
    }),
  },
) {}
