import { spawn } from "node:child_process"
import { Context, Duration, Effect, Layer } from "effect"
import { GitOperationError } from "../domain/git-errors.js"
import { runnerEnvironment } from "../domain/runner-environment.js"

/** Options of one git call. */
export interface GitRunOptions {
  /** Text written to git's stdin (a commit message for `-F -`); stdin is empty otherwise. */
  readonly input?: string
  /** Bound on stdout in bytes (default `DEFAULT_MAX_STDOUT`). */
  readonly maxBytes?: number
  /**
   * Past `maxBytes`: `"fail"` (default) kills git and fails; `"truncate"` keeps the first
   * `maxBytes` and stops git (no point letting it make megabytes nobody reads): the result is
   * `truncated`, with `exitCode` -1.
   */
  readonly overflow?: "fail" | "truncate"
  /** Exit codes that are not failures (default `[0]`): `1` of `diff --quiet`, of `merge-tree`. */
  readonly okExitCodes?: ReadonlyArray<number>
  /** Variables added to git's environment (`GIT_INDEX_FILE` of a temporary index). */
  readonly env?: Readonly<Record<string, string>>
  /** How long git may take before it is killed (default `DEFAULT_TIMEOUT`). */
  readonly timeout?: Duration.Duration
}

/**
 * A hook that blocks, `commit.gpgSign` waiting on a pinentry, an NFS stall: git must never
 * hold a request, or a runner's end, for ever. Generous: a diff of a big repository on a
 * loaded machine takes seconds, not minutes.
 */
export const DEFAULT_TIMEOUT = Duration.minutes(2)

/** What one git call printed and how it ended. */
export interface GitOutput {
  readonly stdout: string
  /** git's exit code; -1 when git was stopped after a `truncated` stdout. */
  readonly exitCode: number
  /** The start of what git printed on stderr (at most 4 KB). */
  readonly stderr: string
  /** stdout went past `maxBytes` and was cut there (`overflow: "truncate"`). */
  readonly truncated: boolean
}

/** Every git call of the workspaces domain goes through this. */
export interface GitCommandRunner {
  /** Runs `git -C cwd ...args`; fails with the command and stderr on an exit not in `okExitCodes`. */
  readonly exec: (
    cwd: string,
    args: ReadonlyArray<string>,
    options?: GitRunOptions,
  ) => Effect.Effect<GitOutput, GitOperationError>
  /** `exec`'s stdout. */
  readonly run: (
    cwd: string,
    args: ReadonlyArray<string>,
    options?: GitRunOptions,
  ) => Effect.Effect<string, GitOperationError>
}

/**
 * The git port: system `git` through an argv array, never a shell. A fake can stand in for it
 * (a port with a test double, hence a `Context.Tag`).
 */
export class GitCommandRunnerPort extends Context.Tag("geppetto/GitCommandRunnerPort")<
  GitCommandRunnerPort,
  GitCommandRunner
>() {}

export const DEFAULT_MAX_STDOUT = 16 * 1024 * 1024
const MAX_STDERR = 4 * 1024
const MAX_COMMAND_TEXT = 1024

/**
 * Variables that would point git at another repository, index or pathspec syntax than the
 * `-C` folder's, or run an external diff; a server started from a git hook has some of them.
 */
const DROPPED_ENV = new Set([
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
  "GIT_QUARANTINE_PATH",
  "GIT_CONFIG_PARAMETERS",
  "GIT_LITERAL_PATHSPECS",
  "GIT_GLOB_PATHSPECS",
  "GIT_NOGLOB_PATHSPECS",
  "GIT_ICASE_PATHSPECS",
  "GIT_EXTERNAL_DIFF",
  "GIT_DIFF_OPTS",
])

/**
 * git's environment: ours without the variables above or our own secrets (hooks run with it),
 * never prompting, never paging, C locale (stderr we can read). `GIT_OPTIONAL_LOCKS=0` on every
 * call: it only drops the locks git takes by choice (`status` refreshing the index), so a read
 * never writes a user's index; required locks of writes are untouched.
 */
export const gitEnvironment = (
  base: NodeJS.ProcessEnv,
  extra: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(
    Object.entries(base).filter(([key]) => !DROPPED_ENV.has(key) && !key.startsWith("GEPPETTO_")),
  ),
  GIT_TERMINAL_PROMPT: "0",
  GCM_INTERACTIVE: "never",
  GIT_OPTIONAL_LOCKS: "0",
  GIT_PAGER: "cat",
  PAGER: "cat",
  GIT_EDITOR: "true",
  LC_ALL: "C",
  ...extra,
})

/** The argv as text for errors and logs, words with blanks or quotes JSON-quoted, bounded. */
export const commandText = (argv: ReadonlyArray<string>): string => {
  const text = argv.map((a) => (/^[\w@%+=:,./^{}-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")
  return text.length > MAX_COMMAND_TEXT ? `${text.slice(0, MAX_COMMAND_TEXT)}…` : text
}

/** The subcommand of an argv that may start with `-c KEY=VALUE` pairs and other options. */
const subcommandOf = (args: ReadonlyArray<string>): string => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (arg === "-c") i++
    else if (!arg.startsWith("-")) return arg
  }
  return ""
}

const firstLine = (text: string): string =>
  text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "") ?? ""

const exec = (
  cwd: string,
  args: ReadonlyArray<string>,
  options: GitRunOptions = {},
): Effect.Effect<GitOutput, GitOperationError> =>
  Effect.async<GitOutput, GitOperationError>((resume) => {
    const argv = ["--no-pager", "-C", cwd, ...args]
    const command = commandText(["git", ...argv])
    const what = `git ${subcommandOf(args)}`
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_STDOUT
    const okCodes = options.okExitCodes ?? [0]
    // `error` and `close` may both come (a git that could not start): answer once.
    let answered = false
    const answer = (effect: Effect.Effect<GitOutput, GitOperationError>) => {
      if (answered) return
      answered = true
      resume(effect)
    }
    const fail = (message: string, stderr: string, exitCode?: number) =>
      answer(
        Effect.fail(
          new GitOperationError({
            command,
            stderr,
            message,
            ...(exitCode === undefined ? {} : { exitCode }),
          }),
        ),
      )
    const child = spawn("git", argv, {
      stdio: ["pipe", "pipe", "pipe"],
      // What a runner gets (no package manager's PATH or variables, no tokens): hooks that
      // run tools find the repository's own, not Geppetto's.
      env: gitEnvironment(runnerEnvironment(process.env), options.env),
    })
    const out: Buffer[] = []
    let outBytes = 0
    let truncated = false
    let overflowed = false
    let errText = ""
    child.stdout.on("data", (chunk: Buffer) => {
      if (truncated || overflowed) return
      const room = maxBytes - outBytes
      if (chunk.length <= room) {
        out.push(chunk)
        outBytes += chunk.length
        return
      }
      if (options.overflow === "truncate") {
        out.push(chunk.subarray(0, room))
        outBytes = maxBytes
        truncated = true
      } else {
        overflowed = true
      }
      child.kill("SIGKILL")
    })
    child.stderr.on("data", (chunk: Buffer) => {
      if (errText.length < MAX_STDERR)
        errText = (errText + chunk.toString("utf8")).slice(0, MAX_STDERR)
    })
    // git may exit before reading all of stdin (a refused commit): no EPIPE crash for that.
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
    child.on("error", (cause) =>
      fail(`could not run git in ${cwd}: ${cause.message} (is git installed?)`, errText),
    )
    child.on("close", (code, signal) => {
      if (overflowed) {
        return fail(`${what} in ${cwd} printed more than ${maxBytes} bytes`, errText)
      }
      if (truncated) {
        return answer(
          Effect.succeed({
            stdout: Buffer.concat(out).toString("utf8"),
            exitCode: -1,
            stderr: errText,
            truncated,
          }),
        )
      }
      if (code === null) {
        return fail(`${what} in ${cwd} was killed by ${signal ?? "a signal"}`, errText)
      }
      if (!okCodes.includes(code)) {
        const why = firstLine(errText)
        return fail(
          `${what} failed in ${cwd} (exit ${code})${why === "" ? "" : `: ${why}`}`,
          errText,
          code,
        )
      }
      answer(
        Effect.succeed({
          stdout: Buffer.concat(out).toString("utf8"),
          exitCode: code,
          stderr: errText,
          truncated: false,
        }),
      )
    })
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  }).pipe(
    // Interrupting the call kills git (the canceller above).
    Effect.timeoutFail({
      duration: options.timeout ?? DEFAULT_TIMEOUT,
      onTimeout: () =>
        new GitOperationError({
          command: commandText(["git", ...args]),
          stderr: "",
          message: `git ${subcommandOf(args)} in ${cwd} took longer than ${Duration.format(options.timeout ?? DEFAULT_TIMEOUT)} and was stopped`,
        }),
    }),
  )

/** A `GitCommandRunner` from its `exec`; `run` keeps stdout only. */
export const makeGitCommandRunner = (
  execute: GitCommandRunner["exec"] = exec,
): GitCommandRunner => ({
  exec: execute,
  run: (cwd, args, options) => execute(cwd, args, options).pipe(Effect.map((o) => o.stdout)),
})

/** The port over the system's `git`. */
export const GitCommandRunnerLive = Layer.succeed(GitCommandRunnerPort, makeGitCommandRunner())
