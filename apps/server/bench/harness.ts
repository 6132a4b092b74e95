/**
 * What every bench scenario of the server shares: a real `geppetto serve` (the built
 * `dist/main.js`, as a child process so its CPU and memory are its own) on a private tmux
 * socket and a temp data dir, an authenticated API client, and terminal sockets.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { decodeOutputFrame, type RunnerSummary } from "@geppetto/protocol"
import WebSocket from "ws"
import { processCpuMs } from "../../../packages/runner/bench/env.js"

export const TOKEN = "bench-operator-token-0123456789"
/** The built server; `GEPPETTO_BENCH_SERVER` names another build (an A/B against a commit). */
const SERVER_MAIN =
  process.env.GEPPETTO_BENCH_SERVER ?? join(import.meta.dirname, "..", "dist", "main.js")

export const log = (line: string) => console.log(line)
export const fmt = (n: number | null | undefined, digits = 1) =>
  typeof n === "number" && Number.isFinite(n) ? n.toFixed(digits) : "-"
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `promise`, or a clear failure after `ms`: a stuck step must not hang the bench. */
export const within = <T>(ms: number, what: string, promise: Promise<T>): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms).unref(),
    ),
  ])

export interface Server {
  readonly url: string
  readonly child: ChildProcess
  readonly socket: string
  readonly dir: string
}

/** A fresh server on its own temp data dir and tmux socket (see `spawnServer`). */
export const startServer = (label: string): Promise<Server> => spawnServer({ label })

export const stopServer = async (server: Server) => {
  server.child.kill("SIGTERM")
  await new Promise((r) => server.child.once("exit", r))
  spawnSync("tmux", ["-L", server.socket, "kill-server"])
  rmSync(server.dir, { recursive: true, force: true })
}

export const api = async (server: Server, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return response.status === 204 ? undefined : ((await response.json()) as { id: string })
}

export const startRunner = (server: Server, command: ReadonlyArray<string>, name: string) =>
  api(server, "POST", "/api/runners", { provider: "shell", command, name, cols: 120, rows: 32 })

/**
 * A terminal socket that calls `onBytes` with each output frame's end offset and bytes (not
 * text: decoding copies every byte, and a flood's viewers only want the offsets), and
 * `onSnapshot` with the offset of every snapshot after the first (a skip forward).
 */
export const openTerminal = (
  server: Server,
  id: string,
  onBytes: (end: number, bytes: Uint8Array) => void,
  onSnapshot: (offset: number) => void = () => {},
) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(
      `${server.url.replace("http", "ws")}/api/runners/${id}/terminal?token=${TOKEN}`,
    )
    let acked = 0
    let opened = false
    ws.on("message", (data: Buffer, isBinary) => {
      if (!isBinary) {
        const message = JSON.parse(data.toString()) as { type: string; offset?: number }
        if (message.type !== "snapshot") return
        if (opened) onSnapshot(message.offset ?? 0)
        opened = true
        resolve(ws)
        return
      }
      const frame = decodeOutputFrame(new Uint8Array(data))
      const end = frame.offset + frame.bytes.length
      onBytes(end, frame.bytes)
      // Ack as a browser would after drawing, every 256 KiB.
      if (end - acked >= 256 * 1024) {
        acked = end
        ws.send(JSON.stringify({ type: "ack", offset: end }))
      }
    })
    ws.on("error", reject)
  })

export const serverCpu = (server: Server) => processCpuMs(server.child.pid) ?? Number.NaN

// ---- added for the scenario suite (bench/suite.ts) ---------------------------------------

export interface ServerOptions {
  readonly label: string
  /** An existing bench dir (`Server.dir`) to start on again: same data dir, same runners. */
  readonly dir?: string
  /** The tmux `-L` name to reuse (with `dir`, the runners of a previous server). */
  readonly socket?: string
  /** Extra node flags for the server process, e.g. `--cpu-prof`. */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Extra environment of the server process, e.g. `GEPPETTO_DASHBOARD_DIR`. */
  readonly env?: Readonly<Record<string, string>>
}

/** A server plus when it was spawned and when it printed "listening" (`performance.now()`). */
export interface TimedServer extends Server {
  readonly spawnedAt: number
  readonly listeningAt: number
}

/**
 * `startServer` with more control: a given data dir and tmux socket (a restart), extra node
 * flags, and the spawn and listening times. The child's stdout is drained for good.
 */
export const spawnServer = async (options: ServerOptions): Promise<TimedServer> => {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `geppetto-bench-${options.label}-`))
  const socket = options.socket ?? `geppetto-bench-${options.label}-${process.pid}`
  const spawnedAt = performance.now()
  const child = spawn(
    process.execPath,
    [
      ...(process.env.GEPPETTO_BENCH_NODE_ARGS?.split(" ").filter((a) => a !== "") ?? []),
      ...(options.nodeArgs ?? []),
      SERVER_MAIN,
      "serve",
      "--port",
      "0",
      "--tmux-socket",
      socket,
      "--data-dir",
      join(dir, "data"),
    ],
    {
      env: {
        ...process.env,
        GEPPETTO_TOKEN: TOKEN,
        GEPPETTO_VIEWER_TOKEN: `${TOKEN}-viewer`,
        ...options.env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
  const { url, listeningAt } = await new Promise<{ url: string; listeningAt: number }>(
    (resolve, reject) => {
      let out = ""
      let found = false
      child.stdout?.on("data", (d: Buffer) => {
        if (found) return
        out += d.toString()
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m?.[1] !== undefined) {
          found = true
          resolve({ url: m[1], listeningAt: performance.now() })
        }
      })
      child.on("exit", (code) => reject(new Error(`server exited with ${code}`)))
    },
  )
  return { url, child, socket, dir, spawnedAt, listeningAt }
}

/** SIGTERM the server process and wait for it; tmux, the runners and the data dir stay. */
export const stopServerProcess = async (server: Server) => {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((r) => server.child.once("exit", r))
  server.child.kill("SIGTERM")
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 15_000)
  await exited
  clearTimeout(timer)
}

/** What `stopServer` does after the process is gone: the tmux server and the temp dir. */
export const removeServerLeftovers = (server: Pick<Server, "socket" | "dir">) => {
  spawnSync("tmux", ["-L", server.socket, "kill-server"])
  killTrees(pidsMentioning(server.dir))
  const tmuxDir = join(process.env.TMUX_TMPDIR || "/tmp", `tmux-${process.getuid?.() ?? 0}`)
  rmSync(join(tmuxDir, server.socket), { force: true })
  rmSync(server.dir, { recursive: true, force: true })
}

/** An authenticated GET whose JSON body is `T` (the bench trusts its own server's shapes). */
export const getJson = async <T>(server: Pick<Server, "url">, path: string): Promise<T> => {
  const response = await fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  })
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

/** Resident set size of a live process in MB (`VmRSS` of `/proc/PID/status`). */
export const rssMb = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024
  } catch {
    return Number.NaN
  }
}

/** The pid of the tmux server behind a `-L` socket, if it runs. */
export const tmuxPid = (socket: string): number | undefined => {
  const out = spawnSync("tmux", ["-L", socket, "display-message", "-p", "#{pid}"], {
    encoding: "utf8",
  })
  const pid = Number((out.stdout ?? "").trim())
  return out.status === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined
}

/** Pids of the processes whose command line mentions `needle` (e.g. the log writers of a data dir). */
export const pidsMentioning = (needle: string): number[] => {
  const pids: number[] = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** Summed CPU ms of processes (a gone one counts 0). */
export const cpuMsOf = (pids: ReadonlyArray<number>) =>
  pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0)

/** The 1/5/15-minute load averages, two decimals. */
export const loadAverage = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100)

export type EventsMessage =
  | { readonly type: "runners"; readonly runners: ReadonlyArray<RunnerSummary> }
  | { readonly type: "runner"; readonly runner: RunnerSummary }
  | { readonly type: "removed"; readonly runnerId: string }
  | {
      readonly type: "event"
      readonly runnerId: string
      /** A `ProcessEvent`: `timestamp` is the server's `Date.now()` when it happened. */
      readonly event: {
        readonly type: string
        readonly timestamp?: number
        readonly status?: string
      }
    }

/** A `/api/events` watcher; resolves once the first (`runners`) message arrived. */
export const openEvents = (
  server: Pick<Server, "url">,
  onMessage: (message: EventsMessage, at: number, bytes: number) => void,
) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/events?token=${TOKEN}`)
    let first = true
    ws.on("message", (data: Buffer) => {
      const at = performance.now()
      const message = JSON.parse(data.toString()) as EventsMessage
      onMessage(message, at, data.length)
      if (first) {
        first = false
        resolve(ws)
      }
    })
    ws.on("error", reject)
  })

/** Closes sockets and waits until each is closed (or 2 s passed). */
export const closeAll = async (sockets: ReadonlyArray<WebSocket>) => {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve()
          const timer = setTimeout(() => {
            ws.terminate()
            resolve()
          }, 2_000)
          ws.once("close", () => {
            clearTimeout(timer)
            resolve()
          })
          ws.close()
        }),
    ),
  )
}

/**
 * Starts `count` shell runners, `concurrency` at a time. Returns the ids of those started, in
 * start order, each POST's ms, and the first failure (the others then stop starting).
 */
export const startRunners = async (
  server: Server,
  count: number,
  command: (i: number) => ReadonlyArray<string>,
  name: (i: number) => string,
  concurrency = 4,
) => {
  const started: Array<string | undefined> = new Array<string | undefined>(count)
  const ms: number[] = []
  let next = 0
  let error: string | undefined
  const worker = async () => {
    while (error === undefined) {
      const i = next++
      if (i >= count) return
      const t0 = performance.now()
      try {
        // undici waits 300 s for response headers; a server that stopped answering fails sooner.
        const runner = await within(
          60_000,
          `POST /api/runners (runner ${i + 1} of ${count})`,
          startRunner(server, command(i), name(i)),
        )
        if (runner === undefined) throw new Error("POST /api/runners answered no runner")
        ms.push(performance.now() - t0)
        started[i] = runner.id
      } catch (e) {
        error ??= e instanceof Error ? e.message : String(e)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  const ids = started.filter((id): id is string => id !== undefined)
  return { ids, ms, error }
}

/**
 * Unlabelled samples of the server's `GET /metrics` (prom-client's process metrics, e.g.
 * `nodejs_heap_size_used_bytes`); empty when the server has no such route.
 */
export const metricsSample = async (
  server: Pick<Server, "url">,
): Promise<Record<string, number>> => {
  const response = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  }).catch(() => undefined)
  if (response === undefined || !response.ok) return {}
  const out: Record<string, number> = {}
  for (const line of (await response.text()).split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line)
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = Number(m[2])
  }
  return out
}

/** `pids` and every process under them (by parent pid, from /proc), each SIGKILLed. */
export const killTrees = (pids: ReadonlyArray<number>) => {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  const all = new Set<number>()
  const frontier = [...pids]
  for (let pid = frontier.pop(); pid !== undefined; pid = frontier.pop()) {
    if (all.has(pid) || pid === process.pid) continue
    all.add(pid)
    frontier.push(...(parents.get(pid) ?? []))
  }
  for (const pid of all) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone meanwhile
    }
  }
  return all.size
}

/**
 * `stopServer`, then what `tmux kill-server` leaves: each pane's wrapper shell traps SIGHUP, so
 * a runner's processes outlive the tmux server unless the runner was removed through the API
 * (e2e does that). Everything whose command line names the bench dir (the wrappers, the log
 * writers) is killed with its descendants. Returns how many processes were left.
 */
export const stopServerAndRunners = async (server: Server) => {
  await stopServer(server)
  return killTrees(pidsMentioning(server.dir))
}
