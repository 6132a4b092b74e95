/**
 * quiet: runners that print nothing (`sleep 3600`) must cost the server nothing: no
 * per-runner polling timers. Server CPU over a window with the runners, beside the same
 * server with no runner at all; the tmux server's and the log writers' CPU, and the server
 * main thread's context switches (a timer that fires shows up there first).
 */
import { readFileSync } from "node:fs"
import {
  closeAll,
  cpuMsOf,
  log,
  openEvents,
  pidsMentioning,
  rssMb,
  serverCpu,
  sleep,
  spawnServer,
  startRunners,
  stopServerAndRunners,
  type TimedServer,
  tmuxPid,
} from "./harness.js"
import { monotonicUs } from "./profile.js"
import type { ScenarioReport } from "./report.js"

export interface QuietOptions {
  readonly runners: number
  readonly windowS: number
  readonly baselineS: number
  readonly settleS: number
  readonly nodeArgs?: ReadonlyArray<string>
}

export const quietDefaults: QuietOptions = { runners: 100, windowS: 30, baselineS: 10, settleS: 6 }
export const quietQuick: QuietOptions = { runners: 20, windowS: 8, baselineS: 4, settleS: 4 }

/** Voluntary + involuntary context switches of a process's main thread. */
const contextSwitches = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const v = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]
    const n = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]
    return Number(v) + Number(n)
  } catch {
    return Number.NaN
  }
}

interface Window {
  readonly seconds: number
  /** The window on the profile clock (see `monotonicUs`). */
  readonly windowUs: { readonly fromUs: number; readonly toUs: number }
  readonly serverCpuPct: number
  readonly tmuxCpuPct: number
  readonly writersCpuPct: number
  readonly wakeupsPerS: number
  readonly eventsReceived: number
  readonly rssMb: number
}

const measureWindow = async (
  server: TimedServer,
  seconds: number,
  events: { count: number },
): Promise<Window> => {
  const tmux = tmuxPid(server.socket)
  const tmuxPids = tmux === undefined ? [] : [tmux]
  const writers = pidsMentioning(server.dir).filter(
    (pid) => pid !== server.child.pid && pid !== tmux,
  )
  const e0 = events.count
  const cpu0 = serverCpu(server)
  const tmux0 = cpuMsOf(tmuxPids)
  const writers0 = cpuMsOf(writers)
  const switches0 = contextSwitches(server.child.pid)
  const t0 = performance.now()
  const fromUs = monotonicUs()
  await sleep(seconds * 1000)
  const ms = performance.now() - t0
  const windowUs = { fromUs, toUs: monotonicUs() }
  const pct = (cpuMs: number) => (cpuMs / ms) * 100
  return {
    seconds: ms / 1000,
    windowUs,
    serverCpuPct: pct(serverCpu(server) - cpu0),
    tmuxCpuPct: pct(cpuMsOf(tmuxPids) - tmux0),
    writersCpuPct: pct(cpuMsOf(writers) - writers0),
    wakeupsPerS: (contextSwitches(server.child.pid) - switches0) / (ms / 1000),
    eventsReceived: events.count - e0,
    rssMb: rssMb(server.child.pid),
  }
}

export const quietScenario = async (options: QuietOptions): Promise<ScenarioReport> => {
  const server = await spawnServer({
    label: "quiet",
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  })
  const events = { count: 0 }
  const watcher = await openEvents(server, () => {
    events.count++
  })
  try {
    log(`  quiet: no runners, ${options.baselineS} s window ...`)
    await sleep(2_000)
    const base = await measureWindow(server, options.baselineS, events)
    log(`  quiet: starting ${options.runners} silent runners ...`)
    const started = await startRunners(
      server,
      options.runners,
      () => ["sleep", "3600"],
      (i) => `quiet-${i}`,
    )
    if (started.error !== undefined) throw new Error(started.error)
    // Past the idle threshold (2 s) and the first attention look (1.5 s debounce).
    await sleep(options.settleS * 1000)
    log(`  quiet: ${options.runners} silent runners, first ${options.windowS} s window ...`)
    // V8 tidies the heap the start-up grew with one full collection some 20 s after the
    // allocations stop (measured: 140 ms of GC, nothing else): in this window, not after.
    const first = await measureWindow(server, options.windowS, events)
    log(`  quiet: ${options.runners} silent runners, steady ${options.windowS} s window ...`)
    const full = await measureWindow(server, options.windowS, events)
    const b = "no runners"
    return {
      scenario: "quiet",
      title: `${options.runners} runners with no output`,
      setup: `one server, one /api/events watcher; ${options.baselineS} s window with no runners, then ${options.runners} x \`sleep 3600\`, ${options.settleS} s settle, a first ${options.windowS} s window (start-up's garbage collection falls in it), then the steady ${options.windowS} s window the figures are from`,
      figures: [
        {
          name: "server CPU (% of one core)",
          value: full.serverCpuPct,
          unit: "%",
          target: { op: "<", limit: 1 },
          baseline: { label: b, value: base.serverCpuPct },
          digits: 2,
        },
        {
          name: "server CPU in the first window (% of one core)",
          value: first.serverCpuPct,
          unit: "%",
          baseline: { label: b, value: base.serverCpuPct },
          digits: 2,
        },
        {
          name: "tmux server CPU (% of one core)",
          value: full.tmuxCpuPct,
          unit: "%",
          baseline: { label: b, value: base.tmuxCpuPct },
          digits: 2,
        },
        {
          name: "log writers CPU (all, % of one core)",
          value: full.writersCpuPct,
          unit: "%",
          digits: 2,
        },
        {
          name: "server main-thread wakeups",
          value: full.wakeupsPerS,
          unit: "/s",
          baseline: { label: b, value: base.wakeupsPerS },
        },
        {
          name: "server RSS",
          value: full.rssMb,
          unit: "MB",
          baseline: { label: b, value: base.rssMb },
          digits: 0,
        },
        {
          name: "events pushed to the watcher in the window",
          value: full.eventsReceived,
          unit: "",
          baseline: { label: b, value: base.eventsReceived },
          digits: 0,
        },
      ],
      details: {
        baseline: { ...base, windowUs: { ...base.windowUs } },
        first: { ...first, windowUs: { ...first.windowUs } },
        full: { ...full, windowUs: { ...full.windowUs } },
      },
      notes: [],
    }
  } finally {
    await closeAll([watcher])
    await stopServerAndRunners(server)
  }
}
