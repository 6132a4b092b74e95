/**
 * audit: what recording the audit trail costs a busy server. 100 runners print a line a
 * second; a probe runner (`cat`) echoes a byte typed over its terminal socket every 100 ms, and
 * the time to see it come back is the server's responsiveness. Two windows of the same length,
 * interleaved A B A B: A sends 100 requests a second of `GET /api/me` (authenticated, never
 * audited), B the same number of `POST /api/runners/:id/input` with no bytes (each one entry
 * appended to the trail before the 204). B - A is an upper bound of the trail's cost: it also
 * holds the input route's own work. The store's own cost per entry, without HTTP, is in the
 * runner bench (`packages/runner/bench/audit.ts`).
 */
import type WebSocket from "ws"
import { summarize } from "../../../packages/runner/bench/stats.js"
import {
  api,
  closeAll,
  getJson,
  log,
  openTerminal,
  serverCpu,
  sleep,
  spawnServer,
  startRunner,
  startRunners,
  stopServerAndRunners,
  type TimedServer,
  TOKEN,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface AuditLoadOptions {
  readonly runners: number
  readonly windowS: number
  /** Windows of each kind (A and B alternate). */
  readonly rounds: number
  readonly requestsPerS: number
}

export const auditDefaults: AuditLoadOptions = {
  runners: 100,
  windowS: 10,
  rounds: 2,
  requestsPerS: 100,
}
export const auditQuick: AuditLoadOptions = { runners: 20, windowS: 4, rounds: 1, requestsPerS: 50 }

interface WindowResult {
  readonly kind: "A" | "B"
  readonly cpuPct: number
  readonly echoMs: ReadonlyArray<number>
  readonly requests: number
  readonly failed: number
}

/** `perS` requests a second for `seconds`, each made by `request(i)`; counts the failures. */
const pace = async (seconds: number, perS: number, request: (i: number) => Promise<unknown>) => {
  const total = Math.round(seconds * perS)
  const started = performance.now()
  const inflight: Array<Promise<unknown>> = []
  let failed = 0
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perS
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    inflight.push(request(i).catch(() => failed++))
  }
  await Promise.all(inflight)
  return { requests: total, failed }
}

const echoProbe = async (server: TimedServer) => {
  const probe = await startRunner(server, ["cat"], "audit-probe")
  if (probe === undefined) throw new Error("no probe runner")
  let sentAt: number | undefined
  const samples: Array<number> = []
  const ws: WebSocket = await openTerminal(server, probe.id, (_end, bytes) => {
    if (sentAt !== undefined && Buffer.from(bytes).includes("z")) {
      samples.push(performance.now() - sentAt)
      sentAt = undefined
    }
  })
  let timer: NodeJS.Timeout | undefined
  return {
    ws,
    /** Types one byte every 100 ms until stopped; returns the echo times. */
    run: () => {
      samples.length = 0
      timer = setInterval(() => {
        if (sentAt !== undefined) return // the last one is not back yet
        sentAt = performance.now()
        ws.send(JSON.stringify({ type: "input", data: "z" }))
      }, 100)
    },
    stop: () => {
      clearInterval(timer)
      sentAt = undefined
      return [...samples]
    },
  }
}

export const auditScenario = async (options: AuditLoadOptions): Promise<ScenarioReport> => {
  const server = await spawnServer({ label: "audit" })
  const sockets: WebSocket[] = []
  const windows: Array<WindowResult> = []
  let trailEntries = 0
  try {
    log(`  audit: starting ${options.runners} runners that print a line a second ...`)
    const started = await startRunners(
      server,
      options.runners,
      () => ["sh", "-c", "while :; do echo tick; sleep 1; done"],
      (i) => `audit-${i}`,
    )
    if (started.error !== undefined) throw new Error(started.error)
    const probe = await echoProbe(server)
    sockets.push(probe.ws)
    await sleep(3_000)
    const target = started.ids
    for (let round = 0; round < options.rounds; round++) {
      for (const kind of ["A", "B"] as const) {
        const cpu0 = serverCpu(server)
        const t0 = performance.now()
        probe.run()
        const paced = await pace(options.windowS, options.requestsPerS, (i) =>
          kind === "A"
            ? getJson(server, "/api/me")
            : api(server, "POST", `/api/runners/${target[i % target.length]}/input`, {
                data: "",
              }),
        )
        const echoMs = probe.stop()
        const cpuPct = ((serverCpu(server) - cpu0) / (performance.now() - t0)) * 100
        windows.push({ kind, cpuPct, echoMs, ...paced })
        log(
          `  audit: window ${kind}${round + 1}: server CPU ${cpuPct.toFixed(1)} %, echo p99 ${summarize(echoMs).p99.toFixed(1)} ms`,
        )
      }
    }
    const trail = await fetch(`${server.url}/api/audit?action=runner.input&limit=1000`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    trailEntries = ((await trail.json()) as { entries: ReadonlyArray<unknown> }).entries.length
  } finally {
    await closeAll(sockets)
    await stopServerAndRunners(server)
  }
  const of = (kind: "A" | "B") => windows.filter((w) => w.kind === kind)
  const cpu = (kind: "A" | "B") => {
    const ws = of(kind)
    return ws.reduce((sum, w) => sum + w.cpuPct, 0) / Math.max(1, ws.length)
  }
  const echo = (kind: "A" | "B") => summarize(of(kind).flatMap((w) => [...w.echoMs]))
  const appended = of("B").reduce((n, w) => n + w.requests - w.failed, 0)
  const seconds = of("B").length * options.windowS
  const extraCpuPct = cpu("B") - cpu("A")
  return {
    scenario: "audit",
    title: `audit trail under load: ${options.runners} runners, ${options.requestsPerS} audited actions/s against as many unaudited requests`,
    setup: `${options.runners} runners printing a line a second; windows of ${options.windowS} s, ${options.rounds} of each, interleaved: A = ${options.requestsPerS} GET /api/me a second, B = ${options.requestsPerS} POST /api/runners/:id/input (no bytes; one audit entry each) a second; a probe runner echoes a byte typed every 100 ms`,
    figures: [
      {
        name: "server CPU with audited actions (B)",
        value: cpu("B"),
        unit: "%",
        baseline: { label: "the same rate of unaudited requests (A)", value: cpu("A") },
        digits: 1,
      },
      {
        name: "server CPU per audited action, upper bound ((B - A) / rate)",
        value: (extraCpuPct * 10) / options.requestsPerS,
        unit: "ms",
        digits: 3,
      },
      {
        name: "terminal echo p99 with audited actions (B)",
        value: echo("B").p99,
        unit: "ms",
        baseline: { label: "unaudited requests (A)", value: echo("A").p99 },
        digits: 1,
      },
      {
        name: "terminal echo p50 with audited actions (B)",
        value: echo("B").p50,
        unit: "ms",
        baseline: { label: "unaudited requests (A)", value: echo("A").p50 },
        digits: 1,
      },
    ],
    details: {
      windows: windows.map((w) => ({
        kind: w.kind,
        cpuPct: w.cpuPct,
        echo: { ...summarize(w.echoMs) },
        requests: w.requests,
        failed: w.failed,
      })),
      appended,
      appendedPerS: appended / Math.max(1, seconds),
      trailEntriesSeen: trailEntries,
    },
    notes: windows.some((w) => w.failed > 0)
      ? [`${windows.reduce((n, w) => n + w.failed, 0)} request(s) failed`]
      : [],
  }
}
