import { execFile } from "node:child_process"
import { lstat } from "node:fs/promises"
import { Effect } from "effect"
import { tmuxEnvironment, tmuxServerArgs } from "./one-off.js"
import { tmuxSocketPath } from "./socket-path.js"
import { parseTmuxVersion, type TmuxVersion } from "./version.js"

/** How long one probe may take: a wedged tmux server must not hang `geppetto doctor`. */
const PROBE_TIMEOUT_MS = 5000

interface ProbeResult {
  readonly ok: boolean
  readonly stdout: string
  readonly stderr: string
  /** `tmux` is not on the environment's PATH. */
  readonly missing: boolean
}

const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/** One `tmux` process (argv, no shell) as `env`'s PATH finds it; never fails. */
const probe = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  Effect.async<ProbeResult>((resume) => {
    const child = execFile(
      "tmux",
      [...args],
      { env: tmuxEnvironment(env), timeout: PROBE_TIMEOUT_MS },
      (error, stdout, stderr) =>
        resume(
          Effect.succeed({
            ok: error === null,
            stdout,
            stderr: stderr.trim() || (error === null ? "" : error.message),
            missing: errnoOf(error) === "ENOENT",
          }),
        ),
    )
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })

/** What `tmux -V` says, for a check before any server is started. */
export type TmuxBinaryProbe =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Unparsed"; readonly output: string }
  | { readonly _tag: "Found"; readonly version: TmuxVersion }

/** Runs `tmux -V` with `env` (its PATH decides which tmux); starts no server. */
export const probeTmuxBinary = (
  env: NodeJS.ProcessEnv = process.env,
): Effect.Effect<TmuxBinaryProbe> =>
  Effect.map(probe(["-V"], env), (result): TmuxBinaryProbe => {
    if (result.missing) return { _tag: "Missing" }
    const version = parseTmuxVersion(result.stdout)
    return version === undefined
      ? { _tag: "Unparsed", output: result.stdout.trim() }
      : { _tag: "Found", version }
  })

/** Whether the tmux server `-L socket` (`undefined`: the default one) answers. */
export type TmuxServerProbe =
  /** No socket file: nothing runs; the first tmux command starts the server. */
  | { readonly _tag: "NotRunning"; readonly socketPath: string }
  /** A socket file with no server behind it (left by a killed server); tmux replaces it. */
  | { readonly _tag: "StaleSocket"; readonly socketPath: string }
  | { readonly _tag: "Reachable"; readonly socketPath: string; readonly sessions: number }
  /** The socket is there but tmux cannot use it (permissions, another user's folder, ...). */
  | { readonly _tag: "Unreachable"; readonly socketPath: string; readonly reason: string }

/**
 * Looks at the tmux server `socket` without starting one: its socket file, then
 * `list-sessions`, which (unlike most commands) never starts a server.
 */
export const probeTmuxServer = (
  socket: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Effect.Effect<TmuxServerProbe> =>
  Effect.gen(function* () {
    const socketPath = tmuxSocketPath(socket, env)
    const exists = yield* Effect.promise(() =>
      lstat(socketPath).then(
        () => true,
        () => false,
      ),
    )
    if (!exists) return { _tag: "NotRunning", socketPath } as const
    const sessions = yield* probe([...tmuxServerArgs(socket), "list-sessions", "-F", "x"], env)
    if (sessions.ok) {
      const count = sessions.stdout.split("\n").filter((l) => l !== "").length
      return { _tag: "Reachable", socketPath, sessions: count } as const
    }
    if (/no server running|no sessions/.test(sessions.stderr)) {
      return { _tag: "StaleSocket", socketPath } as const
    }
    return { _tag: "Unreachable", socketPath, reason: sessions.stderr } as const
  })
