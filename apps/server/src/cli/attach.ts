import { spawn } from "node:child_process"
import { constants } from "node:os"
import { type RunnerSession, SessionName } from "@geppetto/protocol"
import { connect } from "./client.js"
import { type CliContext, CONNECTION_USAGE, parseCommandArgs, positionals } from "./command.js"
import { CliError, ExitCode } from "./errors.js"

export const usage = `usage: geppetto attach [connection flags] RUNNER

Attaches this terminal to the runner's tmux session (detach with the tmux prefix, then d).
RUNNER is a runner id or name. The tmux server must be on this machine.

${CONNECTION_USAGE}`

/** The `-L NAME` the server's attach command names, checked like the server checks it. */
const TMUX_SOCKET = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/

/**
 * The argv (after `tmux`) that attaches to `session`, built from the session name and the
 * server's tmux socket rather than by splitting the server's command string: nothing the
 * server says reaches a shell, and a name that fails the checks is refused, not quoted.
 */
export const attachArgv = (session: RunnerSession): ReadonlyArray<string> => {
  const name = SessionName.safeParse(session.name)
  const words = session.attachCommand.trim().split(/\s+/)
  const socket = words[1] === "-L" ? words[2] : undefined
  const shapeOk =
    words[0] === "tmux" &&
    (socket === undefined ? words.length === 4 : words.length === 6 && TMUX_SOCKET.test(socket))
  if (!name.success || !shapeOk) {
    throw new CliError(
      `cannot attach to session ${JSON.stringify(session.name)} safely; the server says: ${session.attachCommand}`,
      ExitCode.failure,
    )
  }
  return [...(socket === undefined ? [] : ["-L", socket]), "attach", "-t", `=${name.data}`]
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
