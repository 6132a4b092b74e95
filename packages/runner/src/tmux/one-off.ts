import { spawn } from "node:child_process"
import { Effect } from "effect"
import { TmuxSessionError } from "../domain/errors.js"
import { runnerEnvironment } from "../domain/runner-environment.js"

export interface OneOffResult {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | null
}

/** The tmux argv prefix that selects our server: `-L NAME` or the user's default. */
export const tmuxServerArgs = (socket: string | undefined): ReadonlyArray<string> =>
  socket === undefined ? [] : ["-L", socket]

/** The locale variable that decides, in that order, whether a C program's text is UTF-8. */
const localeOf = (env: NodeJS.ProcessEnv): string =>
  [env.LC_ALL, env.LC_CTYPE, env.LANG].find((v) => v !== undefined && v !== "") ?? ""

/**
 * The environment for a tmux client that may start the server: a runner's (`runnerEnvironment`), and
 * with a UTF-8 `LC_CTYPE` when none is set. Without one (systemd units and `env -i` have no
 * LANG) tmux 3.3a writes control-mode replies as ASCII and turns our `\x1f` field separator
 * into `_`, so not one runner could start.
 */
export const tmuxEnvironment = (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => {
  // What a runner gets (no tokens, no package manager's variables or PATH entries): a tmux
  // server we start keeps this as its global environment, which the user's own windows get.
  const kept: NodeJS.ProcessEnv = runnerEnvironment(env)
  return /utf-?8/i.test(localeOf(env)) ? kept : { ...kept, LC_ALL: "", LC_CTYPE: "C.UTF-8" }
}

/**
 * Runs one `tmux` process with an argv array (never a shell). Only for what must work
 * before the control client exists: `-V`, creating the control session. Its argv never
 * carries user data: tmux joins argv words ending in `;` into command separators.
 */
export const runTmuxOnce = (
  socket: string | undefined,
  args: ReadonlyArray<string>,
  what: string,
): Effect.Effect<OneOffResult, TmuxSessionError> =>
  Effect.async<OneOffResult, TmuxSessionError>((resume) => {
    const child = spawn("tmux", [...tmuxServerArgs(socket), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: tmuxEnvironment(),
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    child.on("error", (cause) =>
      resume(
        Effect.fail(
          new TmuxSessionError({
            sessionName: what,
            message: `could not run tmux for ${what}: ${cause.message} (is tmux >= 3.2 installed?)`,
            cause: cause.message,
          }),
        ),
      ),
    )
    child.on("close", (code) =>
      resume(
        Effect.succeed({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          code,
        }),
      ),
    )
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
