import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { waitFor } from "../helpers/server.js"

const serverDir = join(import.meta.dirname, "..", "..")

export const operatorToken = "hardening-operator-token-0123456789abcdef"
export const viewerToken = "hardening-viewer-token-0123456789abcdef"

let counter = 0

/** The bytes `fixtures/paced-lines.sh COUNT` prints. */
export const pacedLines = (count: number): Buffer => {
  const lines: string[] = []
  for (let n = 0; n < count; n++)
    lines.push(`line ${String(n).padStart(6, "0")} abcdefghijklmnopqrstuvwxyz0123456789\n`)
  return Buffer.from(lines.join(""), "ascii")
}

export const pacedLinesScript = join(import.meta.dirname, "fixtures", "paced-lines.sh")

export interface ServerProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly pid: number
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/**
 * A world for real `geppetto serve` processes: one tmux `-L` socket and one data dir shared
 * by every process started in it (restarts), stdout+stderr captured to a file.
 */
export const processWorld = () => {
  const root = mkdtempSync(join(tmpdir(), "geppetto-hard-"))
  const dataDir = join(root, "data")
  const socket = `geppetto-hard-${process.pid}-${++counter}-${Date.now().toString(36)}`
  const children = new Set<ChildProcess>()
  const env = {
    PATH: process.env.PATH,
    HOME: root,
    GEPPETTO_TOKEN: operatorToken,
    GEPPETTO_VIEWER_TOKEN: viewerToken,
  }

  /** Starts `geppetto serve` from the sources; resolves once it listens, or with its output if it exits first. */
  const start = async (
    extraArgs: ReadonlyArray<string> = [],
    nodeArgs: ReadonlyArray<string> = [],
  ): Promise<ServerProcess | { readonly failed: string; readonly code: number | null }> => {
    const logFile = join(root, `server-${++counter}.log`)
    const fd = openSync(logFile, "w")
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        "--import",
        "tsx",
        "--conditions=geppetto-source",
        "src/main.ts",
        "serve",
        "--port",
        "0",
        "--tmux-socket",
        socket,
        "--data-dir",
        dataDir,
        ...extraArgs,
      ],
      { cwd: serverDir, env, stdio: ["ignore", fd, fd] },
    )
    closeSync(fd)
    children.add(child)
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        children.delete(child)
        resolve(code)
      }),
    )
    let exitCode: number | null | "running" = "running"
    void exited.then((code) => {
      exitCode = code
    })
    const output = () => readFileSync(logFile, "utf8")
    const url = await waitFor(
      () => {
        const match = /listening on (http\S+)/.exec(output())
        if (match?.[1] !== undefined) return match[1]
        return exitCode !== "running" ? "exited" : undefined
      },
      () => `the server to listen: ${output()}`,
      60_000,
    )
    if (url === "exited")
      return { failed: output(), code: exitCode === "running" ? null : exitCode }
    if (child.pid === undefined) throw new Error("no pid")
    return { child, url, pid: child.pid, output, exited }
  }

  const fetchJson = async (
    server: ServerProcess,
    path: string,
    init: {
      readonly method?: string
      readonly body?: string
      readonly role?: "operator" | "viewer"
    } = {},
  ): Promise<{
    readonly status: number
    readonly headers: Record<string, string>
    readonly body: Buffer
  }> => {
    const token = init.role === "viewer" ? viewerToken : operatorToken
    const response = await fetch(`${server.url}${path}`, {
      method: init.method ?? "GET",
      ...(init.body !== undefined ? { body: init.body } : {}),
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
    })
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: Buffer.from(await response.arrayBuffer()),
    }
  }

  return {
    root,
    dataDir,
    socket,
    env,
    start,
    fetchJson,
    tmux: (args: ReadonlyArray<string>) =>
      spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" }),
    /** SIGKILLs every server process still running, kills tmux, removes the files. */
    close: async () => {
      const ended = [...children].map(
        (child) => new Promise<void>((resolve) => child.once("exit", () => resolve())),
      )
      for (const child of children) child.kill("SIGKILL")
      await Promise.all(ended)
      spawnSync("tmux", ["-L", socket, "kill-server"])
      // A server killed while it was starting tmux leaves that tmux client running, which
      // then starts a server nobody kills (seen: tmux servers with only the control session,
      // their socket file already deleted). Every process of this socket goes, by its argv.
      spawnSync("pkill", ["-KILL", "-f", "--", `tmux -L ${socket} `])
      rmSync(join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), {
        force: true,
      })
      rmSync(root, { recursive: true, force: true })
    },
  }
}

export const isStarted = (
  result: ServerProcess | { readonly failed: string },
): result is ServerProcess => !("failed" in result)
