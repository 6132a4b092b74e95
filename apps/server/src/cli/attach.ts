import { spawn } from "node:child_process"
import { constants } from "node:os"
import { type RunnerSession, SessionName, TmuxSocketName } from "@geppetto/protocol"
import { tmuxAttachArgs } from "@geppetto/runner"
import { connect } from "./client.js"
import { type CliContext, CONNECTION_USAGE, parseCommandArgs, positionals } from "./command.js"
import { CliError, ExitCode } from "./errors.js"

export const usage = `usage: geppetto attach [connection flags] RUNNER

Attaches this terminal to the runner's tmux session (detach with the tmux prefix, then d).
RUNNER is a runner id or name. The tmux server must be on this machine.

${CONNECTION_USAGE}`

/**
 * The argv (after `tmux`) that attaches to `session`: `[-L SOCKET] attach -t =NAME`, built from
 * the session's `name` and `socket` fields, never from its display command. Both are checked
 * again here (the response schema already did): nothing the server says reaches a shell, and
 * a name that fails the checks is refused, not quoted.
 */
export const attachArgv = (
  session: Pick<RunnerSession, "name" | "socket">,
): ReadonlyArray<string> => {
  const name = SessionName.safeParse(session.name)
  const socket = session.socket === null ? undefined : TmuxSocketName.safeParse(session.socket)
  if (!name.success || (socket !== undefined && !socket.success)) {
    throw new CliError(
      `cannot attach to session ${JSON.stringify(session.name)}${
        session.socket === null ? "" : ` on tmux server ${JSON.stringify(session.socket)}`
      } safely`,
      ExitCode.failure,
    )
  }
  return tmuxAttachArgs(socket?.data, name.data)
}

/**
 * Runs `tmux attach` on this terminal (stdio inherited) and returns its exit code. Node cannot
 * `exec`, so we wait for it; the terminal's Ctrl-C goes to tmux, not to us.
 */
export const attachTo = (session: RunnerSession, env: NodeJS.ProcessEnv): Promise<number> => {
  const argv = attachArgv(session)
  return new Promise((resolve, reject) => {
    const child = spawn("tmux", [...argv], { stdio: "inherit", env })
    const ignore = () => undefined
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal)
    const onTerm = forward("SIGTERM")
    const onHup = forward("SIGHUP")
    process.on("SIGINT", ignore)
    process.on("SIGTERM", onTerm)
    process.on("SIGHUP", onHup)
    const done = () => {
      process.off("SIGINT", ignore)
      process.off("SIGTERM", onTerm)
      process.off("SIGHUP", onHup)
    }
    child.on("error", (error: NodeJS.ErrnoException) => {
      done()
      reject(
        error.code === "ENOENT"
          ? new CliError("tmux is not installed (not found on PATH)", ExitCode.failure)
          : error,
      )
    })
    child.on("exit", (code, signal) => {
      done()
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)))
    })
  })
}

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {})
  const [ref = ""] = positionals(given, ["RUNNER"])
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)
  const detail = await client.runner(runner.id)
  return attachTo(detail.session, ctx.env)
}
