/**
 * Benchmark of the audit trail's store (run by the server suite's `audit` scenario):
 *
 *   tsx --conditions=geppetto-source bench/audit.ts [--entries 100000] [--trail 1000000] [--json FILE]
 *
 *   append  `AuditLog.record` of N entries one after another: wall µs per entry (p50/p99 of
 *           each call) and this process's CPU µs per entry, with the background flush every
 *           100 ms (the default) and without any flush, against a baseline in the same process:
 *           the same pre-encoded lines written with `FileHandle.write` on an O_APPEND fd.
 *   query   a trail of M entries written straight to 16 MB segments with the store's framing:
 *           the newest 100; a rare user's (10 of M: a full backward scan, pre-filtered); the
 *           same with `since` set before the trail (no pre-filter: every line checked and
 *           parsed); the newest 1000 of one action.
 */
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs"
import { open } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import {
  AuditLog,
  AuditLogOptions,
  type AuditQuery,
  encodeAuditLine,
  inputBurst,
  normalizeEntry,
  segmentFileName,
} from "../src/audit/index.js"
import { defaultRunnerConfig, RunnerConfig } from "../src/config.js"
import { machineFacts } from "./env.js"
import { median, summarize, table } from "./stats.js"

const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const entries = Number(argValue("--entries") ?? 100_000)
const trailEntries = Number(argValue("--trail") ?? 1_000_000)
/** Where to write the figures as JSON (the server's bench suite reads them). */
const jsonOut = argValue("--json")
for (const [flag, n] of [
  ["--entries", entries],
  ["--trail", trailEntries],
] as const) {
  if (!Number.isInteger(n) || n < 100) {
    console.error(`${flag} takes an integer >= 100`)
    process.exit(2)
  }
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-")
const cpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

interface AppendReport {
  readonly label: string
  readonly totalMs: number
  readonly perEntryUs: number
  readonly cpuPerEntryUs: number
  readonly p50Us: number
  readonly p99Us: number
}

const report = (
  label: string,
  started: number,
  cpuStarted: number,
  samplesMs: ReadonlyArray<number>,
): AppendReport => {
  const totalMs = performance.now() - started
  const s = summarize(samplesMs)
  return {
    label,
    totalMs,
    perEntryUs: (totalMs * 1000) / samplesMs.length,
    cpuPerEntryUs: (cpuUs() - cpuStarted) / samplesMs.length,
    p50Us: s.p50 * 1000,
    p99Us: s.p99 * 1000,
  }
}

const burst = (i: number) =>
  inputBurst({ user: `user-${i % 20}`, runnerId: `r${i % 100}`, bytes: i })

/** Baseline: the same lines, pre-encoded, one `write` each on an O_APPEND fd. */
const baseline = async (dir: string, n: number): Promise<AppendReport> => {
  const lines = Array.from({ length: n }, (_, i) =>
    encodeAuditLine(normalizeEntry(burst(i), Date.now())),
  )
  const fh = await open(join(dir, "baseline.log"), "a", 0o600)
  const samples: Array<number> = []
  const started = performance.now()
  const cpuStarted = cpuUs()
  for (const line of lines) {
    const t0 = performance.now()
    await fh.write(line)
    samples.push(performance.now() - t0)
  }
  const result = report("baseline: FileHandle.write of encoded lines", started, cpuStarted, samples)
  await fh.close()
  return result
}

/** Second baseline: the same lines with `fs.writeSync` (no thread-pool hop, blocks the loop). */
const baselineSync = (dir: string, n: number): AppendReport => {
  const lines = Array.from({ length: n }, (_, i) =>
    encodeAuditLine(normalizeEntry(burst(i), Date.now())),
  )
  const fd = openSync(join(dir, "baseline-sync.log"), "a", 0o600)
  const samples: Array<number> = []
  const started = performance.now()
  const cpuStarted = cpuUs()
  for (const line of lines) {
    const t0 = performance.now()
    writeSync(fd, line)
    samples.push(performance.now() - t0)
  }
  const result = report("baseline: fs.writeSync of encoded lines", started, cpuStarted, samples)
  closeSync(fd)
  return result
}

const withAudit = <A, E>(
  dataDir: string,
  syncIntervalMs: number,
  f: (audit: AuditLog) => Effect.Effect<A, E>,
) =>
  Effect.flatMap(AuditLog, f).pipe(
    Effect.provide(AuditLog.Default),
    Effect.provideService(RunnerConfig, defaultRunnerConfig(dataDir)),
    Effect.provideService(AuditLogOptions, {
      segmentBytes: 16 * 1024 * 1024,
      totalBytes: 256 * 1024 * 1024,
      syncIntervalMs,
      followCapacity: 1024,
    }),
  )

const appendRun = (dataDir: string, n: number, syncIntervalMs: number, label: string) =>
  withAudit(dataDir, syncIntervalMs, (audit) =>
    Effect.gen(function* () {
      const samples: Array<number> = []
      const started = performance.now()
      const cpuStarted = cpuUs()
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        yield* audit.record(burst(i))
        samples.push(performance.now() - t0)
      }
      const stats = yield* audit.stats
      if (stats.recorded !== n || stats.failed !== 0) {
        return yield* Effect.die(new Error(`recorded ${stats.recorded}, failed ${stats.failed}`))
      }
      return report(label, started, cpuStarted, samples)
    }),
  )

/** M entries in 16 MB segments, one user in 100,000 "rare"; returns the number of segments. */
const writeTrail = (dataDir: string, n: number): number => {
  const dir = join(dataDir, "audit")
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const actions = ["runner.input", "runner.input", "runner.reply", "runner.start"] as const
  let segment = 1
  let parts: Array<Buffer> = []
  let size = 0
  for (let i = 0; i < n; i++) {
    const line = encodeAuditLine({
      at: 1_700_000_000_000 + i,
      user: i % 100_000 === 0 ? "rare" : `user-${i % 50}`,
      action: actions[i % actions.length] ?? "runner.input",
      runnerId: `r${i % 100}`,
      detail: `${i} bytes`,
    })
    if (size + line.length > 16 * 1024 * 1024) {
      writeFileSync(join(dir, segmentFileName(segment++)), Buffer.concat(parts), { mode: 0o600 })
      parts = []
      size = 0
    }
    parts.push(line)
    size += line.length
  }
  writeFileSync(join(dir, segmentFileName(segment)), Buffer.concat(parts), { mode: 0o600 })
  return segment
}

const queryRuns = (dataDir: string) =>
  withAudit(dataDir, 0, (audit) =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, AuditQuery, number]> = [
        ["newest 100", {}, 5],
        ["user=rare (full scan, pre-filtered)", { user: "rare" }, 3],
        ["user=rare, since before the trail (full parse)", { user: "rare", since: 0 }, 1],
        ["action=runner.reply, limit 1000", { action: "runner.reply", limit: 1000 }, 5],
      ]
      const rows: Array<Array<string>> = []
      for (const [label, query, repeats] of cases) {
        const times: Array<number> = []
        let found = 0
        let heapGrowthMb = 0
        for (let r = 0; r < repeats; r++) {
          const heapBefore = process.memoryUsage().heapUsed
          const t0 = performance.now()
          const result = yield* audit.query(query)
          times.push(performance.now() - t0)
          found = result.entries.length
          heapGrowthMb = Math.max(heapGrowthMb, (process.memoryUsage().heapUsed - heapBefore) / 1e6)
        }
        rows.push([
          label,
          String(found),
          fmt(median(times), 1),
          times.map((t) => fmt(t, 0)).join(" / "),
          fmt(heapGrowthMb, 1),
        ])
      }
      return rows
    }),
  )

const main = Effect.gen(function* () {
  const root = mkdtempSync(join(tmpdir(), "geppetto-bench-audit-"))
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => rmSync(root, { recursive: true, force: true })),
  )
  const facts = machineFacts()
  console.log(
    `audit bench: ${facts.cpus} × ${facts.cpuModel}, node ${facts.node}, ${facts.kernel}, load ${facts.loadAvg.join(" ")}`,
  )

  const dir = (name: string) => {
    const path = join(root, name)
    mkdirSync(path)
    return path
  }
  // Warm-up (JIT, thread pool, page cache) so that the first measured path is not penalised.
  yield* Effect.promise(() => baseline(dir("warm-up"), Math.min(entries, 10_000)))
  yield* appendRun(dir("warm-up-audit"), Math.min(entries, 10_000), 0, "warm-up")
  const base = yield* Effect.promise(() => baseline(dir("baseline"), entries))
  const baseSync = baselineSync(dir("baseline-sync"), entries)
  const unflushed = yield* appendRun(
    dir("no-flush"),
    entries,
    0,
    "AuditLog.record, no background flush",
  )
  const flushed = yield* appendRun(
    dir("flush-100ms"),
    entries,
    100,
    "AuditLog.record, flush every 100 ms",
  )
  console.log(`\nappend: ${entries.toLocaleString("en-US")} entries, one after another`)
  console.log(
    table(
      ["path", "total ms", "µs/entry", "cpu µs/entry", "p50 µs", "p99 µs", "× baseline"],
      [base, baseSync, unflushed, flushed].map((r) => [
        r.label,
        fmt(r.totalMs, 0),
        fmt(r.perEntryUs),
        fmt(r.cpuPerEntryUs),
        fmt(r.p50Us),
        fmt(r.p99Us),
        fmt(r.perEntryUs / base.perEntryUs, 2),
      ]),
    ),
  )

  const trailDir = dir("trail")
  const t0 = performance.now()
  const segments = writeTrail(trailDir, trailEntries)
  console.log(
    `\nquery: ${trailEntries.toLocaleString("en-US")} entries in ${segments} segments (written in ${fmt(performance.now() - t0, 0)} ms)`,
  )
  const rows = yield* queryRuns(trailDir)
  console.log(table(["query", "found", "median ms", "runs ms", "heap +MB (max)"], rows))
  if (jsonOut !== undefined) {
    writeFileSync(
      jsonOut,
      `${JSON.stringify(
        {
          entries,
          trailEntries,
          segments,
          append: [base, baseSync, unflushed, flushed],
          query: rows.map(([label, found, medianMs, runs, heapMb]) => ({
            label,
            found: Number(found),
            medianMs: Number(medianMs),
            runs,
            heapGrowthMb: Number(heapMb),
          })),
        },
        null,
        2,
      )}\n`,
    )
  }
})

Effect.runPromise(Effect.scoped(main)).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
