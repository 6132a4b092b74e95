import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type RunningServer, serve } from "../../src/serve.js"
import { newestChange } from "../helpers/files.js"
import { waitFor as waitForValue } from "../helpers/server.js"

/** apps/server: the CLI runs from here so that `--import tsx` resolves. */
export const SERVER_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const MAIN = join(SERVER_DIR, "src", "main.ts")
const BUILT = join(SERVER_DIR, "dist", "main.js")
const REPO = join(SERVER_DIR, "..", "..")

/**
 * How a CLI child starts: the built command line when it is newer than everything it is built
 * from (CI builds before it tests), else the sources through tsx. The same program either way;
 * the build starts in 0.25 s, tsx in 0.9-1.3 s, and these files start it a hundred times.
 */
const cliArgv = ((): ReadonlyArray<string> => {
  const fromSources = ["--import", "tsx", "--conditions=geppetto-source", MAIN]
  if (!existsSync(BUILT)) return fromSources
  const built = statSync(BUILT).mtimeMs
  const inputs = [
    join(SERVER_DIR, "src"),
    join(SERVER_DIR, "scripts"),
    join(SERVER_DIR, "package.json"),
    join(REPO, "packages", "runner", "src"),
    join(REPO, "packages", "protocol", "src"),
    join(REPO, "pnpm-lock.yaml"),
  ]
  return inputs.every((input) => newestChange(input) < built) ? [BUILT] : fromSources
})()

let counter = 0

const tmuxSocketPath = (socket: string) =>
  join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket)

/** The shared `waitFor`, with the longer default a CLI child process needs to start. */
export const waitFor = <A>(
  check: () => A | undefined | false | Promise<A | undefined | false>,
  what: string | (() => string),
  ms = 60_000,
): Promise<A> => waitForValue(check, what, ms)

export interface CliServer {
  readonly url: string
  readonly port: number
  readonly dataDir: string
  readonly socket: string
  readonly operator: string
  readonly viewer: string
  /** A home for CLI children, so no default path of the user's is touched. */
  readonly home: string
  /** Stops the server and starts it again on the same port, data dir and tmux server. */
  readonly restart: () => Promise<void>
  /** Closes the server (if running), kills its tmux server, removes its folders. */
  readonly close: () => Promise<void>
}

/**
 * `geppetto serve` in this process on a private tmux server (`-L` unique name) and a temp
 * data dir; tokens are generated into the data dir's tokens.json, as for a real first start.
 */
export const startCliServer = async (): Promise<CliServer> => {
  const root = mkdtempSync(join(tmpdir(), "geppetto-cli-"))
  const dataDir = join(root, "data")
  const home = join(root, "home")
  const socket = `geppetto-cli-${process.pid}-${++counter}-${Date.now().toString(36)}`
  const env = { PATH: process.env.PATH }
  let server: RunningServer | undefined = await serve(
    { host: "127.0.0.1", port: 0, tmuxSocket: socket, dataDir },
    env,
  )
  const port = Number(new URL(server.url).port)
  return {
    url: server.url,
    port,
    dataDir,
    socket,
    operator: server.tokens.tokens.operator,
    viewer: server.tokens.tokens.viewer,
    home,
    restart: async () => {
      await server?.close()
      server = undefined
      server = await serve({ host: "127.0.0.1", port, tmuxSocket: socket, dataDir }, env)
    },
    close: async () => {
      await server?.close()
      server = undefined
      spawnSync("tmux", ["-L", socket, "kill-server"])
      rmSync(tmuxSocketPath(socket), { force: true })
      rmSync(root, { recursive: true, force: true })
    },
  }
}

export interface CliResult {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
  readonly out: string
}

/**
 * The environment of a CLI child: PATH, a private HOME/XDG_STATE_HOME, nothing of the
 * caller's GEPPETTO_* or TMUX, then `extra` (undefined values are left out).
 */
export const cliEnv = (
  home: string,
  extra: Readonly<Record<string, string | undefined>> = {},
): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_STATE_HOME: join(home, "state"),
  }
  if (process.env.TMUX_TMPDIR !== undefined) env.TMUX_TMPDIR = process.env.TMUX_TMPDIR
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) env[key] = value
  }
  return env
}

/** Starts `geppetto ARGS` as a real child process (see `cliArgv`). */
export const spawnCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): ChildProcess =>
  spawn(process.execPath, [...cliArgv, ...args], {
    cwd: SERVER_DIR,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  })

/** Runs `geppetto ARGS` to its end. */
export const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawnCli(args, env)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      const stdout = Buffer.concat(out)
      resolve({ code, stdout, out: stdout.toString("utf8"), stderr: Buffer.concat(err).toString() })
    })
  })

/** A CLI child that keeps running (`logs -f`): its output so far, and its end. */
export interface LiveCli {
  readonly child: ChildProcess
  readonly stdout: () => Buffer
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

export const startCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): LiveCli => {
  const child = spawnCli(args, env)
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout?.on("data", (chunk: Buffer) => out.push(chunk))
  child.stderr?.on("data", (chunk: Buffer) => err.push(chunk))
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
  return {
    child,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err).toString(),
    exited,
  }
}

/** Counts the occurrences of `needle` in `text`. */
export const count = (text: string, needle: string): number => text.split(needle).length - 1
