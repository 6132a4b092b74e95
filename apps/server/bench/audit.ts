/**
 * audit: what recording the audit trail costs a busy server. 100 runners print a line a
 * second; a probe runner (`cat`) echoes a byte typed over its terminal socket every 100 ms, and
 * the time to see it come back is the server's responsiveness. Two windows of the same length,
 * interleaved A B A B: A sends 100 requests a second of `GET /api/me` (authenticated, never
 * audited), B the same number of `POST /api/runners/:id/input` with no bytes (each one entry
 * appended to the trail before the 204). B - A is an upper bound of the trail's cost: it also
 * holds the input route's own work. First, in a process of its own, the store alone
 * (`packages/runner/bench/audit.ts`): an append's cost against a bare O_APPEND write of the same
 * bytes, and queries of a trail of 1,000,000 entries.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
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
  /** Entries appended, and the trail queried, by the store bench. */
  readonly storeEntries: number
  readonly storeTrail: number
  readonly runners: number
  readonly windowS: number
  /** Windows of each kind (A and B alternate). */
  readonly rounds: number
  readonly requestsPerS: number
}

export const auditDefaults: AuditLoadOptions = {
  storeEntries: 100_000,
  storeTrail: 1_000_000,
  runners: 100,
  windowS: 10,
  rounds: 2,
  requestsPerS: 100,
}
export const auditQuick: AuditLoadOptions = {
  storeEntries: 10_000,
  storeTrail: 100_000,
  runners: 20,
  windowS: 4,
  rounds: 1,
  requestsPerS: 50,
}

interface StoreAppend {
  readonly label: string
  readonly perEntryUs: number
  readonly cpuPerEntryUs: number
  readonly p99Us: number
}
interface StoreQuery {
  readonly label: string
  readonly found: number
  readonly medianMs: number
  readonly heapGrowthMb: number
}
interface StoreFigures {
  readonly trailEntries: number
  readonly append: ReadonlyArray<StoreAppend>
  readonly query: ReadonlyArray<StoreQuery>
}

const RUNNER_DIR = join(import.meta.dirname, "..", "..", "..", "packages", "runner")

/** The store bench in its own process (its figures are its own, not the server's). */
const storeBench = async (options: AuditLoadOptions): Promise<StoreFigures> => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-bench-audit-store-"))
  const out = join(dir, "audit.json")
  try {
    const tsx = join(RUNNER_DIR, "node_modules", ".bin", "tsx")
    const args = [
      "--conditions=geppetto-source",
      "bench/audit.ts",
      "--entries",
      String(options.storeEntries),
      "--trail",
      String(options.storeTrail),
      "--json",
      out,
    ]
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(tsx, args, { cwd: RUNNER_DIR, stdio: "inherit" })
      child.on("error", reject)
      child.on("exit", resolve)
    })
    if (code !== 0) throw new Error(`the audit store bench exited with ${code}`)
    return JSON.parse(readFileSync(out, "utf8")) as StoreFigures
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

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
  log(
    `  audit: the store alone (${options.storeEntries} appends, a trail of ${options.storeTrail}) ...`,
  )
  const store = await storeBench(options)
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
  const append = (label: string) => store.append.find((a) => a.label.startsWith(label))
  const bare = store.append[0]
  const flushed = append("AuditLog.record, flush every 100 ms")
  const query = (label: string) => store.query.find((q) => q.label.startsWith(label))
  const newest = query("newest 100")
  const rare = query("user=rare (full scan")
  const reply = query("action=runner.reply")
  return {
    scenario: "audit",
    title: `audit trail: the store (a trail of ${store.trailEntries.toLocaleString("en-US")}), and under load: ${options.runners} runners, ${options.requestsPerS} audited actions/s against as many unaudited requests`,
    setup: `${options.runners} runners printing a line a second; windows of ${options.windowS} s, ${options.rounds} of each, interleaved: A = ${options.requestsPerS} GET /api/me a second, B = ${options.requestsPerS} POST /api/runners/:id/input (no bytes; one audit entry each) a second; a probe runner echoes a byte typed every 100 ms`,
    figures: [
      {
        name: "store: AuditLog.record per entry (flush every 100 ms)",
        value: flushed?.perEntryUs ?? Number.NaN,
        unit: "µs",
        baseline: {
          label: "the same bytes, bare O_APPEND write",
          value: bare?.perEntryUs ?? Number.NaN,
        },
        digits: 1,
      },
      {
        name: `store: query the newest 100 of ${store.trailEntries.toLocaleString("en-US")}`,
        value: newest?.medianMs ?? Number.NaN,
        unit: "ms",
        digits: 1,
      },
      {
        name: `store: query a rare user's entries (a full scan of ${store.trailEntries.toLocaleString("en-US")})`,
        value: rare?.medianMs ?? Number.NaN,
        unit: "ms",
        digits: 0,
      },
      {
        name: "store: query the newest 1,000 of one action",
        value: reply?.medianMs ?? Number.NaN,
        unit: "ms",
        digits: 1,
      },
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
      store: {
        append: store.append.map((a) => ({ ...a })),
        query: store.query.map((q) => ({ ...q })),
      },
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
