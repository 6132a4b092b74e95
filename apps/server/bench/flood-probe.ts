// Temporary probe (not committed): CPU of each process during one 100 MB flood to one viewer.
import { execSync } from "node:child_process"
import { readFileSync } from "node:fs"
import {
  api,
  openEvents,
  openTerminal,
  sleep,
  startRunner,
  startServer,
  stopServerAndRunners,
} from "./harness.js"

const ticks = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10
  } catch {
    return 0
  }
}
const pidsOf = (pattern: string) =>
  execSync(`pgrep -f '${pattern}' || true`)
    .toString()
    .trim()
    .split("\n")
    .filter(Boolean)
    .map(Number)

const server = await startServer("probe")
const mb = Number(process.argv[2] ?? 100)
const runner = await startRunner(
  server,
  [
    "sh",
    "-c",
    `stty -echo; read go; yes ${"x".repeat(99)} | head -n ${mb * 10_000}; ${process.argv[3] === "noview" ? "exit 0" : "sleep 30"}`,
  ],
  "probe",
)
if (runner === undefined) throw new Error("no runner")
let first: number | undefined
let last = 0
let done: () => void = () => {}
const finished = new Promise<void>((r) => (done = r))
const viewer = process.argv[3] !== "noview"
let ws: { close: () => void } = { close: () => {} }
let t0 = 0
if (viewer)
  ws = await openTerminal(
    server,
    runner.id,
    (end) => {
      first ??= performance.now()
      if (end >= mb * 1e6) {
        last = performance.now()
        done()
      }
    },
    (offset) => {
      if (offset >= mb * 1e6) {
        last = performance.now()
        done()
      }
    },
  )
else
  ws = await openEvents(server, (m) => {
    if (
      m.type === "event" &&
      (m as { runnerId?: string }).runnerId === runner.id &&
      JSON.stringify(m).includes('"exit"')
    ) {
      last = performance.now()
      done()
    }
  })
const tmuxPid = Number(execSync(`tmux -L ${server.socket} display -p '#{pid}'`).toString())
const splitPids = pidsOf(`split -b .*${runner.id}`)
const c0 = {
  server: ticks(server.child.pid ?? 0),
  tmux: ticks(tmuxPid),
  split: splitPids.map(ticks).reduce((a, b) => a + b, 0),
  self: process.cpuUsage(),
}
await sleep(200)
t0 = performance.now()
await api(server, "POST", `/api/runners/${runner.id}/input`, { data: "\r" })
await finished
const self = process.cpuUsage(c0.self)
console.log(
  JSON.stringify({
    ms: Math.round(last - (first ?? t0)),
    server: ticks(server.child.pid ?? 0) - c0.server,
    tmux: ticks(tmuxPid) - c0.tmux,
    split: splitPids.map(ticks).reduce((a, b) => a + b, 0) - c0.split,
    benchClient: Math.round((self.user + self.system) / 1000),
  }),
)
ws.close()
await stopServerAndRunners(server)
