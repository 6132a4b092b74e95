/**
 * Benchmark of the terminal socket (`pnpm bench` at the repo root runs it after the runner
 * bench): a real server (the built `geppetto serve`, as a child process so its CPU is its
 * own) on a private tmux socket and temp data dir, driven over WebSockets.
 *
 *   echo     300 keystrokes into `cat` (tty echo): input frame sent → echoed byte received,
 *            idle and while another runner floods with a viewer attached.
 *   flood    24 MB printed by a runner → last byte received by 1 viewer, and by 20 viewers
 *            (server CPU of each), beside (a) raw tmux (same generator, no pipe, no client)
 *            and (b) the one-tmux-client-per-viewer path of ttyd and friends
 *            (`script -qfc "tmux attach -t S" /dev/null` read until an end marker).
 *
 * Options: `--repeats N` (flood, default 3). Writes bench/results/terminal.json.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeOutputFrame } from "@geppetto/protocol"
import WebSocket from "ws"
import { machineFacts, processCpuMs } from "../../../packages/runner/bench/env.js"
import { median, round, summarize, table } from "../../../packages/runner/bench/stats.js"

const repeatsArg = process.argv.indexOf("--repeats")
const REPEATS = repeatsArg === -1 ? 3 : Number(process.argv[repeatsArg + 1])
const TOKEN = "bench-operator-token-0123456789"
const LINE = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(2).slice(0, 98)
// 240,000 lines of 98 characters; the pty makes each line 100 bytes: 24,000,000 bytes.
const FLOOD_LINES = 240_000
const FLOOD_BYTES = FLOOD_LINES * 100
const GENERATOR = `yes ${LINE} | head -n ${FLOOD_LINES}`
const SERVER_MAIN = join(import.meta.dirname, "..", "dist", "main.js")

const log = (line: string) => console.log(line)
const fmt = (n: number | null | undefined, digits = 1) =>
  typeof n === "number" && Number.isFinite(n) ? n.toFixed(digits) : "-"
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `promise`, or a clear failure after `ms`: a stuck step must not hang the bench. */
const within = <T>(ms: number, what: string, promise: Promise<T>): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms).unref(),
    ),
  ])

interface Server {
  readonly url: string
  readonly child: ChildProcess
  readonly socket: string
  readonly dir: string
}

const startServer = async (label: string): Promise<Server> => {
  const dir = mkdtempSync(join(tmpdir(), `geppetto-bench-${label}-`))
  const socket = `geppetto-bench-${label}-${process.pid}`
  const child = spawn(
    process.execPath,
    [SERVER_MAIN, "serve", "--port", "0", "--tmux-socket", socket, "--data-dir", join(dir, "data")],
    {
      env: { ...process.env, GEPPETTO_TOKEN: TOKEN, GEPPETTO_VIEWER_TOKEN: `${TOKEN}-viewer` },
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    child.on("exit", (code) => reject(new Error(`server exited with ${code}`)))
  })
  return { url, child, socket, dir }
}

const stopServer = async (server: Server) => {
  server.child.kill("SIGTERM")
  await new Promise((r) => server.child.once("exit", r))
  spawnSync("tmux", ["-L", server.socket, "kill-server"])
  rmSync(server.dir, { recursive: true, force: true })
}

const api = async (server: Server, method: string, path: string, body?: unknown) => {
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

const startRunner = (server: Server, command: ReadonlyArray<string>, name: string) =>
  api(server, "POST", "/api/runners", { provider: "shell", command, name, cols: 120, rows: 32 })

/** A terminal socket that counts bytes and calls `onBytes` with each frame's text. */
const openTerminal = (server: Server, id: string, onBytes: (end: number, text: string) => void) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(
      `${server.url.replace("http", "ws")}/api/runners/${id}/terminal?token=${TOKEN}`,
    )
    let acked = 0
    ws.on("message", (data: Buffer, isBinary) => {
      if (!isBinary) {
        const message = JSON.parse(data.toString()) as { type: string }
        if (message.type === "snapshot") resolve(ws)
        return
      }
      const frame = decodeOutputFrame(new Uint8Array(data))
      const end = frame.offset + frame.bytes.length
      onBytes(end, Buffer.from(frame.bytes).toString("latin1"))
      // Ack as a browser would after drawing, every 256 KiB.
      if (end - acked >= 256 * 1024) {
        acked = end
        ws.send(JSON.stringify({ type: "ack", offset: end }))
      }
    })
    ws.on("error", reject)
  })

const serverCpu = (server: Server) => processCpuMs(server.child.pid) ?? Number.NaN

// ---- echo ------------------------------------------------------------------------------

const echoRun = async (server: Server, label: string, keys: number) => {
  const runner = await startRunner(server, ["cat"], `echo-${label}`)
  if (runner === undefined) throw new Error("no runner")
  let waiting: { char: string; resolve: () => void } | undefined
  const ws = await openTerminal(server, runner.id, (_end, text) => {
    if (waiting !== undefined && text.includes(waiting.char)) {
      const w = waiting
      waiting = undefined
      w.resolve()
    }
  })
  const samples: number[] = []
  for (let i = 0; i < keys + 20; i++) {
    const char = String.fromCharCode(97 + (i % 26))
    const echoed = new Promise<void>((resolve) => {
      waiting = { char, resolve }
    })
    const t0 = performance.now()
    ws.send(JSON.stringify({ type: "input", data: char }))
    await echoed
    if (i >= 20) samples.push(performance.now() - t0)
    await sleep(10)
  }
  ws.close()
  await api(server, "DELETE", `/api/runners/${runner.id}`)
  return summarize(samples)
}

// ---- flood -----------------------------------------------------------------------------

/** One runner prints the flood; `viewers` sockets read it; time from start to every last byte. */
const floodRun = async (server: Server, viewers: number, index: number) => {
  const name = `flood-${viewers}-${index}`
  // The pause lets the sockets connect before the first byte; it is not timed.
  const runner = await startRunner(server, ["sh", "-c", `sleep 1; ${GENERATOR}; sleep 30`], name)
  if (runner === undefined) throw new Error("no runner")
  const done: Array<Promise<number>> = []
  const sockets: WebSocket[] = []
  let firstByteAt: number | undefined
  for (let v = 0; v < viewers; v++) {
    let resolveDone: (t: number) => void = () => {}
    done.push(new Promise<number>((r) => (resolveDone = r)))
    sockets.push(
      await openTerminal(server, runner.id, (end) => {
        firstByteAt ??= performance.now()
        if (end >= FLOOD_BYTES) resolveDone(performance.now())
      }),
    )
  }
  // The clock starts at the first frame of any viewer; CPU from when all are connected.
  const cpu0 = serverCpu(server)
  const ends = await within(120_000, `flood to ${viewers} viewer(s)`, Promise.all(done))
  const t0 = firstByteAt ?? Number.NaN
  const cpu1 = serverCpu(server)
  for (const ws of sockets) ws.close()
  await api(server, "DELETE", `/api/runners/${runner.id}`)
  return { ms: round(Math.max(...ends) - t0, 1), serverCpuMs: round(cpu1 - cpu0, 0) }
}

/** Raw tmux: the generator in a plain session, end signalled by `wait-for` from the pane. */
const rawRun = async (socket: string, index: number) => {
  const channel = `raw-${index}`
  // A server must exist before the waiter connects, or `wait-for` fails at once.
  spawnSync("tmux", ["-L", socket, "new-session", "-d", "-s", `keep-${index}`, "sleep 600"])
  const waiter = spawn("tmux", ["-L", socket, "wait-for", channel])
  await sleep(50)
  const t0 = performance.now()
  spawnSync("tmux", [
    "-L",
    socket,
    "new-session",
    "-d",
    "-x",
    "120",
    "-y",
    "32",
    "-s",
    channel,
    `${GENERATOR}; tmux -L ${socket} wait-for -S ${channel}; sleep 5`,
  ])
  await within(120_000, "raw tmux flood", new Promise((r) => waiter.once("exit", r)))
  const ms = performance.now() - t0
  spawnSync("tmux", ["-L", socket, "kill-session", "-t", channel])
  return round(ms, 1)
}

/** ttyd's way: one `tmux attach` client per viewer, read through a pty until the end marker. */
const attachClientRun = async (socket: string, index: number) => {
  const session = `attach-${index}`
  const marker = `END-OF-FLOOD-${index}-${process.pid}`
  spawnSync("tmux", [
    "-L",
    socket,
    "new-session",
    "-d",
    "-x",
    "120",
    "-y",
    "32",
    "-s",
    session,
    `sleep 1; ${GENERATOR}; echo ${marker.slice(0, 6)}""${marker.slice(6)}; sleep 30`,
  ])
  const client = spawn(
    "script",
    ["-qfc", `stty cols 120 rows 32; tmux -L ${socket} attach -t ${session}`, "/dev/null"],
    // tmux refuses a terminal it has no description for (TERM unset or dumb under CI).
    { stdio: ["pipe", "pipe", "ignore"], env: { ...process.env, TERM: "xterm-256color" } },
  )
  client.once("exit", (code) => {
    if (t0 === undefined) console.error(`script/tmux attach exited early (${code})`)
  })
  let t0: number | undefined
  let tail = ""
  const ms = await within(
    120_000,
    "tmux attach client flood",
    new Promise<number>((resolve) => {
      client.stdout.on("data", (d: Buffer) => {
        const text = d.toString("latin1")
        if (t0 === undefined && text.includes("0123456789abc")) t0 = performance.now()
        tail = (tail + text).slice(-4096)
        if (t0 !== undefined && tail.includes(marker)) resolve(performance.now() - t0)
      })
    }),
  )
  client.kill("SIGKILL")
  spawnSync("tmux", ["-L", socket, "kill-session", "-t", session])
  return round(ms, 1)
}

const mbPerS = (ms: number) => round(FLOOD_BYTES / 1e6 / (ms / 1000), 1)

const main = async () => {
  const machine = machineFacts()
  log(
    `geppetto terminal-socket bench: ${machine.cpus} cpus, node ${machine.node}, ${machine.tmux}, load ${machine.loadAvg.join(" ")}`,
  )
  const server = await startServer("term")
  const baselineSocket = `geppetto-bench-base-${process.pid}`
  try {
    log("echo idle ...")
    const echoIdle = await echoRun(server, "idle", 300)
    log("echo while another runner floods ...")
    const flooder = await startRunner(server, ["sh", "-c", `yes ${LINE}`], "background-flood")
    if (flooder === undefined) throw new Error("no runner")
    const floodViewer = await openTerminal(server, flooder.id, () => {})
    const echoBusy = await echoRun(server, "busy", 300)
    floodViewer.close()
    await api(server, "DELETE", `/api/runners/${flooder.id}`)

    const runs = {
      raw: [] as number[],
      attach: [] as number[],
      one: [] as Array<{ ms: number; serverCpuMs: number }>,
      twenty: [] as Array<{ ms: number; serverCpuMs: number }>,
    }
    for (let i = 0; i < REPEATS; i++) {
      log(`flood run ${i + 1}/${REPEATS} ...`)
      runs.raw.push(await rawRun(baselineSocket, i))
      log(`  raw tmux ${fmt(runs.raw.at(-1))} ms`)
      runs.attach.push(await attachClientRun(baselineSocket, i))
      log(`  tmux attach client ${fmt(runs.attach.at(-1))} ms`)
      runs.one.push(await floodRun(server, 1, i))
      log(`  1 viewer ${fmt(runs.one.at(-1)?.ms)} ms`)
      runs.twenty.push(await floodRun(server, 20, i))
      log(`  20 viewers ${fmt(runs.twenty.at(-1)?.ms)} ms`)
    }
    const med = (xs: ReadonlyArray<number>) => round(median(xs), 1)
    const flood = {
      bytes: FLOOD_BYTES,
      rawMs: med(runs.raw),
      attachClientMs: med(runs.attach),
      oneViewerMs: med(runs.one.map((r) => r.ms)),
      oneViewerServerCpuMs: med(runs.one.map((r) => r.serverCpuMs)),
      twentyViewersMs: med(runs.twenty.map((r) => r.ms)),
      twentyViewersServerCpuMs: med(runs.twenty.map((r) => r.serverCpuMs)),
      runs,
    }
    log(
      `\necho through the terminal socket: ms from input frame sent to echo frame received (300 keys)`,
    )
    log(
      table(
        ["condition", "p50", "p90", "p99", "max"],
        [
          [
            "idle",
            fmt(echoIdle.p50, 2),
            fmt(echoIdle.p90, 2),
            fmt(echoIdle.p99, 2),
            fmt(echoIdle.max, 2),
          ],
          [
            "another runner floods",
            fmt(echoBusy.p50, 2),
            fmt(echoBusy.p90, 2),
            fmt(echoBusy.p99, 2),
            fmt(echoBusy.max, 2),
          ],
        ],
      ),
    )
    log(`goals: idle p50 <= 1.5 ms, p99 <= 5 ms; p99 <= 20 ms while another runner floods`)
    log(
      `\nflood: ${FLOOD_BYTES.toLocaleString("en-US")} bytes, median of ${REPEATS}; time from first to last byte`,
    )
    log(
      table(
        ["path", "median ms", "MB/s", "server cpu ms"],
        [
          ["raw tmux (no pipe, no client)", fmt(flood.rawMs), fmt(mbPerS(flood.rawMs)), "-"],
          [
            "one tmux attach client (ttyd way)",
            fmt(flood.attachClientMs),
            fmt(mbPerS(flood.attachClientMs)),
            "-",
          ],
          [
            "terminal socket, 1 viewer",
            fmt(flood.oneViewerMs),
            fmt(mbPerS(flood.oneViewerMs)),
            fmt(flood.oneViewerServerCpuMs, 0),
          ],
          [
            "terminal socket, 20 viewers",
            fmt(flood.twentyViewersMs),
            fmt(mbPerS(flood.twentyViewersMs)),
            fmt(flood.twentyViewersServerCpuMs, 0),
          ],
        ],
      ),
    )
    const ratios = {
      socketVsRaw: round(flood.rawMs / flood.oneViewerMs, 2),
      socketVsAttachClient: round(flood.attachClientMs / flood.oneViewerMs, 2),
      twentyVsOneCpu: round(flood.twentyViewersServerCpuMs / flood.oneViewerServerCpuMs, 2),
    }
    log(
      `ratios: socket throughput / raw tmux ${fmt(ratios.socketVsRaw, 2)} (goal >= 0.8); ` +
        `attach-client time / socket time ${fmt(ratios.socketVsAttachClient, 2)} (goal >= 2); ` +
        `20-viewer / 1-viewer server CPU ${fmt(ratios.twentyVsOneCpu, 2)} (goal < 2)`,
    )
    const dir = join(import.meta.dirname, "results")
    mkdirSync(dir, { recursive: true })
    const file = join(dir, "terminal.json")
    writeFileSync(
      file,
      `${JSON.stringify({ at: new Date().toISOString(), machine, echo: { idle: echoIdle, busy: echoBusy }, flood, ratios }, null, 2)}\n`,
    )
    log(`\nwrote ${file}`)
  } finally {
    await stopServer(server)
    spawnSync("tmux", ["-L", baselineSocket, "kill-server"])
  }
}

await main()
