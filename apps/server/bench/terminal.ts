/**
 * Benchmark of the terminal socket (`pnpm bench` at the repo root runs it after the runner
 * bench): a real server (the built `geppetto serve`, as a child process so its CPU is its
 * own) on a private tmux socket and temp data dir, driven over WebSockets.
 *
 *   echo     300 keystrokes into `cat` (tty echo): input frame sent → echoed byte received,
 *            idle (on a fresh server, and again after 2000 keys: warm), and while another
 *            runner floods with a viewer attached (a process of its own, as another browser
 *            would be: fixtures/terminal-viewer.mjs).
 *   flood    24 MB printed by a runner → last byte received by 1 viewer, and by 20 viewers
 *            (server CPU of each), beside (a) raw tmux (same generator, no pipe, no client)
 *            and (b) the one-tmux-client-per-viewer path of ttyd and friends
 *            (`script -qfc "tmux attach -t S" /dev/null` read until an end marker), and (c)
 *            tmux + pipe-pane -> split with no Node (the durable log's own ceiling).
 *   floors   the same keys through a bare Node WebSocket echo server, and through the durable
 *            log's chain driven from one Node process (fixtures/ws-echo.mjs, log-chain-echo.mjs):
 *            the lowest echo a Node server showing that log can have here.
 *
 * Options: `--repeats N` (flood, default 3). Writes bench/results/terminal.json.
 */
import { spawn, spawnSync } from "node:child_process"
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import WebSocket from "ws"
import { machineFacts, processCpuMs } from "../../../packages/runner/bench/env.js"
import {
  type LatencySummary,
  median,
  round,
  summarize,
  table,
} from "../../../packages/runner/bench/stats.js"
import {
  api,
  fmt,
  log,
  openTerminal,
  type Server,
  serverCpu,
  sleep,
  spawnServer,
  startRunner,
  startServer,
  stopServer,
  TOKEN,
  within,
} from "./harness.js"
import { monotonicUs } from "./profile.js"
import { type KeyWindow, type StageRow, stageTable } from "./stage-trace.js"

const repeatsArg = process.argv.indexOf("--repeats")
const REPEATS = repeatsArg === -1 ? 3 : Number(process.argv[repeatsArg + 1])
const LINE = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(2).slice(0, 98)
// 240,000 lines of 98 characters; the pty makes each line 100 bytes: 24,000,000 bytes.
/** A flood of `mb` million bytes: lines of 98 characters, 100 bytes each through the pty. */
interface Flood {
  readonly bytes: number
  readonly generator: string
}
const floodOf = (mb: number): Flood => ({
  bytes: mb * 1e6,
  generator: `yes ${LINE} | head -n ${mb * 10_000}`,
})
const sizesArg = process.argv.indexOf("--sizes")
/** Flood sizes in MB (`--sizes 24,100`). */
const SIZES = (sizesArg === -1 ? "24,100" : (process.argv[sizesArg + 1] ?? ""))
  .split(",")
  .map(Number)
  .filter((mb) => mb > 0)
const VIEWERS = 20

/** A detached 120x32 session on the baseline tmux server, running `command` through its shell. */
const newPane = (socket: string, session: string, command: string) =>
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
    command,
  ])

/** CPU ms of the tmux server behind `socket` (it does the terminal work of every path). */
const tmuxServerPid = (socket: string) => {
  const pid = Number(
    spawnSync("tmux", ["-L", socket, "display-message", "-p", "#{pid}"], {
      encoding: "utf8",
    }).stdout,
  )
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

const tmuxServerCpu = (socket: string) => processCpuMs(tmuxServerPid(socket)) ?? Number.NaN

/**
 * ms tmux's thread has spent runnable but waiting for a CPU (/proc/PID/schedstat): how much
 * the other processes of a path (the writer, the server, the viewers) held tmux back on a
 * machine of 2 cores.
 */
const tmuxRunQueueMs = (socket: string) => {
  const pid = tmuxServerPid(socket)
  try {
    const waited = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1])
    return waited / 1e6
  } catch {
    return Number.NaN
  }
}

// ---- echo ------------------------------------------------------------------------------

/**
 * A viewer of runner `id` in a process of its own (fixtures/terminal-viewer.mjs), reading and
 * acking like a browser; resolves once it has its snapshot.
 */
const viewerProcess = async (server: Server, id: string) => {
  const url = `${server.url.replace("http", "ws")}/api/runners/${id}/terminal?token=${TOKEN}`
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "fixtures", "terminal-viewer.mjs"), url],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
  await within(
    10_000,
    "the flood viewer's snapshot",
    new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve()
      })
      child.once("exit", (code) => reject(new Error(`terminal viewer exited ${code}`)))
    }),
  )
  return child
}

/**
 * Times `keys` keystrokes 10 ms apart, after 20 untimed ones: `type(i)` sends key `i` and
 * resolves on its echo. Each timed key's ms, and its send and echo on the monotonic clock.
 */
const timeKeys = async (keys: number, type: (i: number) => Promise<void>) => {
  const samples: number[] = []
  const windows: KeyWindow[] = []
  for (let i = 0; i < keys + 20; i++) {
    const sent = monotonicUs()
    const t0 = performance.now()
    await type(i)
    if (i >= 20) {
      samples.push(performance.now() - t0)
      windows.push({ sent, received: monotonicUs() })
    }
    await sleep(10)
  }
  return { samples, windows }
}

/** Keys typed back to back before a warm echo: enough for V8 to optimise the keystroke path. */
const WARM_UP_KEYS = 2000

/** What a key is typed into: `cat` (the tty echoes each key in one write) unless given. */
interface EchoProgram {
  readonly argv: ReadonlyArray<string>
  /** What the bench waits for once key `char` is typed: the end of the program's answer. */
  readonly answerTo: (char: string) => string
  /** Printed once the program reads keys (none for `cat`, which reads at once). */
  readonly ready?: string
}

const CAT: EchoProgram = { argv: ["cat"], answerTo: (char) => char }

/**
 * A program that answers each key in two writes 1 ms apart, as a TUI does: the key, then a
 * status line redrawn (its upper case, at the top right). The echo is done at the second.
 */
const TWO_WRITES: EchoProgram = {
  argv: [process.execPath, join(import.meta.dirname, "fixtures", "two-write-echo.mjs")],
  answerTo: (char) => char.toUpperCase(),
  ready: "two-write-echo ready",
}

interface EchoOptions {
  /** Each key's send and echo times on the monotonic clock, for the stage trace. */
  readonly windows?: KeyWindow[]
  /**
   * Keys typed back to back first, untimed. A fresh server runs the keystroke path as
   * unoptimised (baseline) code: V8 optimises a function only after it has run a while, and
   * 320 keys 10 ms apart are not enough. A server that has been typed into is the warm case.
   */
  readonly warmUp?: number
  readonly program?: EchoProgram
}

const echoRun = async (
  server: Server,
  label: string,
  keys: number,
  { windows, warmUp = 0, program = CAT }: EchoOptions = {},
) => {
  const runner = await startRunner(server, [...program.argv], `echo-${label}`)
  if (runner === undefined) throw new Error("no runner")
  let waiting: { char: string; resolve: () => void } | undefined
  let output = ""
  let ready = () => {}
  const isReady = new Promise<void>((resolve) => {
    ready = resolve
  })
  const ws = await openTerminal(server, runner.id, (_end, bytes) => {
    const text = Buffer.from(bytes).toString("latin1")
    if (program.ready !== undefined && output.length < 4096) {
      output += text
      if (output.includes(program.ready)) ready()
    }
    if (waiting !== undefined && text.includes(waiting.char)) {
      const w = waiting
      waiting = undefined
      w.resolve()
    }
  })
  if (program.ready !== undefined) await within(10_000, `${label}: ${program.ready}`, isReady)
  /** Key `i`'s letter into the runner; resolves on its echo. */
  const typeKey = (i: number) => {
    const char = String.fromCharCode(97 + (i % 26))
    const echoed = new Promise<void>((resolve) => {
      waiting = { char: program.answerTo(char), resolve }
    })
    ws.send(JSON.stringify({ type: "input", data: char }))
    return echoed
  }
  for (let i = 0; i < warmUp; i++) {
    await within(10_000, "a warm-up key's echo", typeKey(i))
    // A new line now and then: a canonical-mode line holds at most 4095 characters.
    if (i % 500 === 499) ws.send(JSON.stringify({ type: "input", data: "\r" }))
  }
  if (warmUp > 0) await sleep(100)
  const timed = await timeKeys(keys, typeKey)
  windows?.push(...timed.windows)
  const samples = timed.samples
  ws.close()
  await api(server, "DELETE", `/api/runners/${runner.id}`)
  return { ...summarize(samples), runnerId: runner.id }
}

/**
 * The same keystrokes the ttyd way, as a baseline: one `tmux attach` client in a pty on a
 * `cat` pane of the baseline server, keys written to the client's terminal, the echo read from
 * its output; with `flooding`, another pane of that tmux server prints without pause.
 */
const attachEchoRun = async (
  socket: string,
  label: string,
  keys: number,
  flooding: "no" | "unwatched" | "watched",
) => {
  const session = `attach-echo-${label}`
  newPane(socket, session, "cat")
  // No status line: its redraws (the clock) must not pass for an echo.
  spawnSync("tmux", ["-L", socket, "set-option", "-t", session, "status", "off"])
  if (flooding !== "no")
    spawnSync("tmux", ["-L", socket, "new-session", "-d", "-s", `${session}-flood`, `yes ${LINE}`])
  // The flood's own viewer, as ttyd would have it: a tmux attach client in a pty, its screen
  // read by a process of its own (a second browser), like the socket viewer of the flood.
  const floodViewer =
    flooding === "watched"
      ? spawn(
          "sh",
          [
            "-c",
            `script -qfc "stty cols 120 rows 32; tmux -L ${socket} attach -t ${session}-flood" /dev/null | cat > /dev/null`,
          ],
          { stdio: "ignore", env: { ...process.env, TERM: "xterm-256color" }, detached: true },
        )
      : undefined
  const client = spawn(
    "script",
    ["-qfc", `stty cols 120 rows 32; tmux -L ${socket} attach -t ${session}`, "/dev/null"],
    {
      stdio: ["pipe", "pipe", "ignore"],
      env: { ...process.env, TERM: "xterm-256color" },
    },
  )
  let waiting: { char: string; resolve: () => void } | undefined
  client.stdout.on("data", (d: Buffer) => {
    if (waiting !== undefined && d.toString("latin1").includes(waiting.char)) {
      const w = waiting
      waiting = undefined
      w.resolve()
    }
  })
  await sleep(500)
  let samples: number[]
  try {
    samples = (
      await timeKeys(keys, (i) => {
        // Letters the status line and the redraws do not print on their own.
        const char = String.fromCharCode(0x71 + (i % 8)) // q..x
        const echoed = new Promise<void>((resolve) => {
          waiting = { char, resolve }
        })
        client.stdin.write(char)
        return within(10_000, "attach-client echo", echoed)
      })
    ).samples
  } finally {
    client.kill("SIGKILL")
    if (floodViewer?.pid !== undefined) process.kill(-floodViewer.pid, "SIGKILL")
    spawnSync("tmux", ["-L", socket, "kill-session", "-t", session])
    if (flooding !== "no")
      spawnSync("tmux", ["-L", socket, "kill-session", "-t", `${session}-flood`])
  }
  return summarize(samples)
}

/**
 * The floors of the echo with no Geppetto code, each a process of its own as the server is:
 * a Node-to-Node WebSocket round trip (fixtures/ws-echo.mjs, the same frame, 10 ms apart)
 * and the durable log's chain from one Node process (fixtures/log-chain-echo.mjs: control
 * client → tmux → pipe-pane → split → fs.watch → read). A server in Node that shows the
 * durable log pays both: their sum is the lowest echo this design can have on this machine.
 * The same chain once more with the echo seen in the control client's `%output` (no log hops):
 * if that is no quicker, the log is not what an echo waits for.
 */
const echoFloors = async (keys: number) => {
  const child = spawn(process.execPath, [join(import.meta.dirname, "fixtures", "ws-echo.mjs")], {
    stdio: ["ignore", "pipe", "inherit"],
  })
  let ws: WebSocket | undefined
  try {
    const port = await within(
      10_000,
      "the ws echo server's port",
      new Promise<number>((resolve) =>
        child.stdout.once("data", (d: Buffer) => resolve(Number(String(d)))),
      ),
    )
    const socket = new WebSocket(`ws://127.0.0.1:${port}`)
    ws = socket
    await within(
      10_000,
      "the ws echo socket",
      new Promise((resolve) => socket.once("open", resolve)),
    )
    let answered = () => {}
    socket.on("message", () => answered())
    const { samples } = await timeKeys(keys, () => {
      const back = new Promise<void>((resolve) => {
        answered = resolve
      })
      socket.send(JSON.stringify({ type: "input", data: "a" }))
      return within(10_000, "the ws echo", back)
    })
    const chain = (via: "log" | "output") => {
      const run = spawnSync(
        process.execPath,
        [join(import.meta.dirname, "fixtures", "log-chain-echo.mjs"), String(keys), via],
        { encoding: "utf8", timeout: 60_000 },
      )
      if (run.status !== 0) throw new Error(`log-chain-echo.mjs ${via} failed: ${run.stderr}`)
      return summarize((JSON.parse(run.stdout) as { samples: number[] }).samples)
    }
    return { wsRoundTrip: summarize(samples), logChain: chain("log"), outputChain: chain("output") }
  } finally {
    ws?.close()
    child.kill("SIGTERM")
  }
}

/**
 * The echo again on a server of its own that keeps a stage trace (so the trace's cost is not
 * in the figures above): idle, then while another runner floods to a viewer. Each key's
 * milliseconds by stage (see stage-trace.ts).
 */
const tracedEcho = async (keys: number) => {
  const file = join(mkdtempSync(join(tmpdir(), "geppetto-stage-trace-")), "trace.jsonl")
  const server = await spawnServer({
    label: "term-trace",
    env: { GEPPETTO_STAGE_TRACE: file },
  })
  const idle: KeyWindow[] = []
  const busy: KeyWindow[] = []
  let idleRunner = ""
  let busyRunner = ""
  try {
    idleRunner = (await echoRun(server, "trace-idle", keys, { windows: idle })).runnerId
    const flooder = await startRunner(server, ["sh", "-c", `yes ${LINE}`], "trace-flood")
    if (flooder === undefined) throw new Error("no runner")
    const viewer = await viewerProcess(server, flooder.id)
    busyRunner = (await echoRun(server, "trace-busy", keys, { windows: busy })).runnerId
    viewer.kill("SIGTERM")
    await api(server, "DELETE", `/api/runners/${flooder.id}`)
  } finally {
    await stopServer(server)
  }
  const result = {
    idle: stageTable(file, idleRunner, idle),
    busy: stageTable(file, busyRunner, busy),
  }
  if (process.env.KEEP_TRACE === undefined) rmSync(dirname(file), { recursive: true, force: true })
  else log(`trace kept: ${file}`)
  return result
}

const printStages = (label: string, rows: ReadonlyArray<StageRow>) => {
  log(`\necho by stage, ${label}: ms since the stage before (the first: since the key was sent)`)
  log(
    table(
      ["stage", "what", "p50", "p99", "keys"],
      rows.map((r) => [r.stage, r.what, fmt(r.p50, 3), fmt(r.p99, 3), String(r.keys)]),
    ),
  )
}

// ---- flood -----------------------------------------------------------------------------

/**
 * One runner prints the flood; `viewers` sockets read it; time from the first frame to the
 * moment every viewer shows the last byte: by a frame, or by a snapshot at or past the end
 * when the server skipped a viewer forward (tmux redraws a client that falls behind the
 * same way, so both paths are measured to the final screen, not to every byte).
 */
const floodRun = async (server: Server, flood: Flood, viewers: number, index: number) => {
  const name = `flood-${flood.bytes / 1e6}-${viewers}-${index}`
  // The flood waits for a line on its terminal (not echoed), sent once every viewer is in.
  const runner = await startRunner(
    server,
    ["sh", "-c", `stty -echo; read go; ${flood.generator}; sleep 30`],
    name,
  )
  if (runner === undefined) throw new Error("no runner")
  const done: Array<Promise<number>> = []
  const sockets: WebSocket[] = []
  let firstByteAt: number | undefined
  let framedBytes = 0
  let skips = 0
  for (let v = 0; v < viewers; v++) {
    let resolveDone: (t: number) => void = () => {}
    done.push(new Promise<number>((r) => (resolveDone = r)))
    let last = 0
    sockets.push(
      await openTerminal(
        server,
        runner.id,
        (end) => {
          firstByteAt ??= performance.now()
          framedBytes += end - last
          last = end
          if (end >= flood.bytes) resolveDone(performance.now())
        },
        (offset) => {
          skips++
          last = offset
          if (offset >= flood.bytes) resolveDone(performance.now())
        },
      ),
    )
  }
  // The clock starts at the first frame of any viewer; CPU from when all are connected.
  const cpu0 = serverCpu(server)
  const tmux0 = tmuxServerCpu(server.socket)
  const wait0 = tmuxRunQueueMs(server.socket)
  await sleep(200) // `stty -echo` has run
  await api(server, "POST", `/api/runners/${runner.id}/input`, { data: "\r" })
  const ends = await within(180_000, `flood to ${viewers} viewer(s)`, Promise.all(done))
  const t0 = firstByteAt ?? Number.NaN
  const cpu1 = serverCpu(server)
  const tmux1 = tmuxServerCpu(server.socket)
  const wait1 = tmuxRunQueueMs(server.socket)
  for (const ws of sockets) ws.close()
  await api(server, "DELETE", `/api/runners/${runner.id}`)
  return {
    ms: round(Math.max(...ends) - t0, 1),
    serverCpuMs: round(cpu1 - cpu0, 0),
    tmuxCpuMs: round(tmux1 - tmux0, 0),
    tmuxWaitMs: round(wait1 - wait0, 0),
    // Per viewer: how much of the flood came as frames, and how often it was skipped.
    framedMbPerViewer: round(framedBytes / viewers / 1e6, 1),
    skipsPerViewer: round(skips / viewers, 1),
  }
}

/** Raw tmux: the generator in a plain session, end signalled by `wait-for` from the pane. */
const rawRun = async (socket: string, flood: Flood, index: number) => {
  const channel = `raw-${index}`
  // A server must exist before the waiter connects, or `wait-for` fails at once.
  spawnSync("tmux", ["-L", socket, "new-session", "-d", "-s", `keep-${index}`, "sleep 600"])
  const waiter = spawn("tmux", ["-L", socket, "wait-for", channel])
  await sleep(50)
  const tmux0 = tmuxServerCpu(socket)
  const wait0 = tmuxRunQueueMs(socket)
  const t0 = performance.now()
  newPane(socket, channel, `${flood.generator}; tmux -L ${socket} wait-for -S ${channel}; sleep 5`)
  await within(180_000, "raw tmux flood", new Promise((r) => waiter.once("exit", r)))
  const ms = performance.now() - t0
  const tmuxCpuMs = round(tmuxServerCpu(socket) - tmux0, 0)
  const tmuxWaitMs = round(tmuxRunQueueMs(socket) - wait0, 0)
  spawnSync("tmux", ["-L", socket, "kill-session", "-t", channel])
  return { ms: round(ms, 1), tmuxCpuMs, tmuxWaitMs }
}

/**
 * The durable log with no Node at all: the generator in a plain session with `pipe-pane -o`
 * into `split`, as a runner's pane is wired, timed from the first byte on disk to the last
 * (the segment files' sizes, looked at every millisecond). No path that shows the flood
 * from that log can beat it.
 */
const pipeRun = async (socket: string, flood: Flood, index: number) => {
  const session = `pipe-${flood.bytes / 1e6}-${index}`
  const dir = mkdtempSync(join(tmpdir(), "geppetto-bench-pipe-"))
  newPane(socket, session, `tmux -L ${socket} wait-for ${session}-go; ${flood.generator}; sleep 30`)
  spawnSync("tmux", [
    "-L",
    socket,
    "pipe-pane",
    "-o",
    "-t",
    session,
    `split -b 104857600 -d -a 6 - ${join(dir, "out-")}`,
  ])
  const logged = () => {
    let total = 0
    for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size
    return total
  }
  const tmux0 = tmuxServerCpu(socket)
  const wait0 = tmuxRunQueueMs(socket)
  spawnSync("tmux", ["-L", socket, "wait-for", "-S", `${session}-go`])
  let t0: number | undefined
  const end = await within(
    180_000,
    "tmux + pipe-pane flood",
    new Promise<number>((resolve) => {
      const look = setInterval(() => {
        const size = logged()
        if (t0 === undefined && size > 0) t0 = performance.now()
        if (size >= flood.bytes) {
          clearInterval(look)
          resolve(performance.now())
        }
      }, 1)
    }),
  )
  const tmuxCpuMs = round(tmuxServerCpu(socket) - tmux0, 0)
  const tmuxWaitMs = round(tmuxRunQueueMs(socket) - wait0, 0)
  spawnSync("tmux", ["-L", socket, "kill-session", "-t", session])
  rmSync(dir, { recursive: true, force: true })
  return { ms: round(end - (t0 ?? Number.NaN), 1), tmuxCpuMs, tmuxWaitMs }
}

/**
 * ttyd's way: one `tmux attach` client per viewer, each read through its own pty until the
 * end marker; time from the first client's first flood byte to the last client's marker.
 */
const attachClientRun = async (socket: string, flood: Flood, clients: number, index: number) => {
  const session = `attach-${flood.bytes / 1e6}-${clients}-${index}`
  const marker = `END-OF-FLOOD-${index}-${process.pid}`
  newPane(
    socket,
    session,
    `tmux -L ${socket} wait-for ${session}-go; ${flood.generator}; echo ${marker.slice(0, 6)}""${marker.slice(6)}; sleep 30`,
  )
  let t0: number | undefined
  const children = Array.from({ length: clients }, () =>
    spawn(
      "script",
      ["-qfc", `stty cols 120 rows 32; tmux -L ${socket} attach -t ${session}`, "/dev/null"],
      // tmux refuses a terminal it has no description for (TERM unset or dumb under CI).
      {
        stdio: ["pipe", "pipe", "ignore"],
        env: { ...process.env, TERM: "xterm-256color" },
      },
    ),
  )
  // Each client's first redraw says it is attached; then the flood is let go.
  const attached = children.map(
    (client) => new Promise<void>((resolve) => client.stdout.once("data", () => resolve())),
  )
  const ends = children.map(
    (client) =>
      new Promise<number>((resolve) => {
        client.once("exit", (code) => {
          if (t0 === undefined) console.error(`script/tmux attach exited early (${code})`)
        })
        let tail = ""
        client.stdout.on("data", (d: Buffer) => {
          const text = d.toString("latin1")
          if (t0 === undefined && text.includes("0123456789abc")) t0 = performance.now()
          tail = (tail + text).slice(-4096)
          if (t0 !== undefined && tail.includes(marker)) resolve(performance.now())
        })
      }),
  )
  await within(60_000, `${clients} tmux attach client(s) attached`, Promise.all(attached))
  const tmux0 = tmuxServerCpu(socket)
  const wait0 = tmuxRunQueueMs(socket)
  spawnSync("tmux", ["-L", socket, "wait-for", "-S", `${session}-go`])
  const last = await within(180_000, `${clients} tmux attach client(s) flood`, Promise.all(ends))
  const tmuxCpuMs = round(tmuxServerCpu(socket) - tmux0, 0)
  const tmuxWaitMs = round(tmuxRunQueueMs(socket) - wait0, 0)
  for (const client of children) client.kill("SIGKILL")
  spawnSync("tmux", ["-L", socket, "kill-session", "-t", session])
  return {
    ms: round(Math.max(...last) - (t0 ?? Number.NaN), 1),
    tmuxCpuMs,
    tmuxWaitMs,
  }
}

const mbPerS = (bytes: number, ms: number) => round(bytes / 1e6 / (ms / 1000), 1)

interface PathRun {
  readonly ms: number
  readonly tmuxCpuMs: number
  /** tmux runnable but not running (see `tmuxRunQueueMs`). */
  readonly tmuxWaitMs: number
  readonly serverCpuMs?: number
  readonly framedMbPerViewer?: number
  readonly skipsPerViewer?: number
}

/** Every path once per repeat, interleaved so drift in the machine's load hits all alike. */
const floodScenario = async (server: Server, baselineSocket: string, flood: Flood) => {
  const paths: Record<string, PathRun[]> = {
    raw: [],
    pipe: [],
    attach1: [],
    [`attach${VIEWERS}`]: [],
    socket1: [],
    [`socket${VIEWERS}`]: [],
  }
  const mb = flood.bytes / 1e6
  for (let i = 0; i < REPEATS; i++) {
    log(`flood ${mb} MB, run ${i + 1}/${REPEATS} ...`)
    const step = async (key: string, run: () => Promise<PathRun>) => {
      const result = await run()
      paths[key]?.push(result)
      log(`  ${key.padEnd(9)} ${fmt(result.ms)} ms`)
    }
    await step("raw", () => rawRun(baselineSocket, flood, i))
    await step("pipe", () => pipeRun(baselineSocket, flood, i))
    await step("attach1", () => attachClientRun(baselineSocket, flood, 1, i))
    await step(`attach${VIEWERS}`, () => attachClientRun(baselineSocket, flood, VIEWERS, i))
    await step("socket1", () => floodRun(server, flood, 1, i))
    await step(`socket${VIEWERS}`, () => floodRun(server, flood, VIEWERS, i))
  }
  const med = (runs: ReadonlyArray<PathRun>, pick: (r: PathRun) => number | undefined) =>
    round(median(runs.map((r) => pick(r) ?? Number.NaN)), 1)
  const summary = Object.fromEntries(
    Object.entries(paths).map(([key, runs]) => [
      key,
      {
        ms: med(runs, (r) => r.ms),
        mbPerS: mbPerS(
          flood.bytes,
          med(runs, (r) => r.ms),
        ),
        tmuxCpuMs: med(runs, (r) => r.tmuxCpuMs),
        tmuxWaitMs: med(runs, (r) => r.tmuxWaitMs),
        serverCpuMs: med(runs, (r) => r.serverCpuMs),
        framedMbPerViewer: med(runs, (r) => r.framedMbPerViewer),
        skipsPerViewer: med(runs, (r) => r.skipsPerViewer),
        runs,
      },
    ]),
  )
  const at = (key: string) => summary[key] ?? { ms: Number.NaN, serverCpuMs: Number.NaN }
  const ratios = {
    socketVsRaw: round(at("raw").ms / at("socket1").ms, 2),
    socketVsPipe: round(at("socket1").ms / at("pipe").ms, 2),
    socketVsAttachClient: round(at("attach1").ms / at("socket1").ms, 2),
    socketVsAttachClients20: round(at(`attach${VIEWERS}`).ms / at(`socket${VIEWERS}`).ms, 2),
    twentyVsOneServerCpu: round(at(`socket${VIEWERS}`).serverCpuMs / at("socket1").serverCpuMs, 2),
  }
  return { bytes: flood.bytes, summary, ratios }
}

type FloodReport = Awaited<ReturnType<typeof floodScenario>>

const printFlood = (report: FloodReport) => {
  log(
    `\nflood: ${report.bytes.toLocaleString("en-US")} bytes, median of ${REPEATS}; first byte to the last byte on screen`,
  )
  const label: Record<string, string> = {
    raw: "raw tmux (no pipe, no client)",
    pipe: "tmux + pipe-pane -> split (no Node)",
    attach1: "1 tmux attach client (ttyd way)",
    [`attach${VIEWERS}`]: `${VIEWERS} tmux attach clients`,
    socket1: "terminal socket, 1 viewer",
    [`socket${VIEWERS}`]: `terminal socket, ${VIEWERS} viewers`,
  }
  log(
    table(
      [
        "path",
        "ms",
        "MB/s",
        "tmux cpu ms",
        "tmux waits ms",
        "server cpu ms",
        "framed MB/viewer",
        "skips/viewer",
      ],
      Object.entries(report.summary).map(([key, r]) => [
        label[key] ?? key,
        fmt(r.ms),
        fmt(r.mbPerS),
        fmt(r.tmuxCpuMs, 0),
        fmt(r.tmuxWaitMs, 0),
        fmt(r.serverCpuMs, 0),
        fmt(r.framedMbPerViewer),
        fmt(r.skipsPerViewer),
      ]),
    ),
  )
  const r = report.ratios
  log(
    `ratios: socket time / pipe-pane time ${fmt(r.socketVsPipe, 2)} (goal <= 1.1); ` +
      `raw time / socket time ${fmt(r.socketVsRaw, 2)}; ` +
      `attach-client time / socket time ${fmt(r.socketVsAttachClient, 2)}, ` +
      `with ${VIEWERS} ${fmt(r.socketVsAttachClients20, 2)}; ` +
      `${VIEWERS}-viewer / 1-viewer server CPU ${fmt(r.twentyVsOneServerCpu, 2)} (goal < 2)`,
  )
}

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
    log(
      `echo idle again, after ${WARM_UP_KEYS} keys typed back to back (V8 has optimised the path) ...`,
    )
    const echoWarm = await echoRun(server, "warm", 300, { warmUp: WARM_UP_KEYS })
    log("echo idle, warm, into a program that answers each key in two writes 1 ms apart ...")
    const echoTwoWrites = await echoRun(server, "two-writes", 300, { program: TWO_WRITES })
    log("echo while another runner floods ...")
    const flooder = await startRunner(server, ["sh", "-c", `yes ${LINE}`], "background-flood")
    if (flooder === undefined) throw new Error("no runner")
    const floodViewer = await viewerProcess(server, flooder.id)
    const echoBusy = await echoRun(server, "busy", 300)
    floodViewer.kill("SIGTERM")
    await api(server, "DELETE", `/api/runners/${flooder.id}`)

    log("echo through one tmux attach client (baseline), idle and while another pane floods ...")
    // The baseline server needs a session before `attach`; the raw flood run makes its own.
    spawnSync("tmux", ["-L", baselineSocket, "new-session", "-d", "-s", "keep-echo", "sleep 3600"])
    const attachIdle = await attachEchoRun(baselineSocket, "idle", 300, "no")
    const attachBusy = await attachEchoRun(baselineSocket, "busy", 300, "unwatched")
    const attachWatched = await attachEchoRun(baselineSocket, "watched", 300, "watched")

    log("echo floors: a bare WebSocket round trip, and the durable log's chain with no server ...")
    const floors = await echoFloors(300)

    log("echo with a stage trace, on a server of its own ...")
    const stages = await tracedEcho(200)

    const floods: FloodReport[] = []
    for (const mb of SIZES) floods.push(await floodScenario(server, baselineSocket, floodOf(mb)))

    log(
      `\necho through the terminal socket: ms from input frame sent to echo frame received (300 keys)`,
    )
    const echoRow = (label: string, e: LatencySummary) => [
      label,
      fmt(e.p50, 2),
      fmt(e.p90, 2),
      fmt(e.p99, 2),
      fmt(e.max, 2),
    ]
    log(
      table(
        ["condition", "p50", "p90", "p99", "max"],
        [
          echoRow("terminal socket, idle", echoIdle),
          echoRow(`terminal socket, idle, after ${WARM_UP_KEYS} keys (warm)`, echoWarm),
          echoRow("the same, the answer in two writes 1 ms apart (to the second)", echoTwoWrites),
          echoRow("terminal socket, another runner floods", echoBusy),
          echoRow("tmux attach client, idle (baseline)", attachIdle),
          echoRow("tmux attach client, another pane floods (baseline)", attachBusy),
          echoRow("tmux attach client, another pane floods to its own client", attachWatched),
          echoRow("floor: Node-to-Node WebSocket round trip (no Geppetto)", floors.wsRoundTrip),
          echoRow("floor: control client → tmux → pipe-pane → split → fs.watch", floors.logChain),
          echoRow(
            "the same chain seen in the control client's %output (no log)",
            floors.outputChain,
          ),
        ],
      ),
    )
    log(
      `goals: idle p50 <= ${fmt(attachIdle.p50 + 0.3, 2)} ms (attach + 0.3), p99 <= ${fmt(1.5 * attachIdle.p99 + 1, 2)} ms (1.5x attach + 1); ` +
        `p99 <= ${fmt(2 * attachBusy.p99, 2)} ms while another runner floods (2x attach under the same flood)`,
    )
    log(
      `floor of this design in Node: ${fmt(floors.wsRoundTrip.p50 + floors.logChain.p50, 2)} ms at p50 (the two floors' p50s added), ` +
        `against the goal's ${fmt(attachIdle.p50 + 0.3, 2)}`,
    )
    printStages("idle", stages.idle)
    printStages("another runner floods", stages.busy)
    for (const flood of floods) printFlood(flood)
    const dir = join(import.meta.dirname, "results")
    mkdirSync(dir, { recursive: true })
    const file = join(dir, "terminal.json")
    writeFileSync(
      file,
      `${JSON.stringify({ at: new Date().toISOString(), machine, echo: { idle: echoIdle, warm: echoWarm, twoWrites: echoTwoWrites, busy: echoBusy, attachIdle, attachBusy, attachWatched }, floors, stages, floods }, null, 2)}\n`,
    )
    log(`\nwrote ${file}`)
  } finally {
    await stopServer(server)
    spawnSync("tmux", ["-L", baselineSocket, "kill-server"])
  }
}

await main()
