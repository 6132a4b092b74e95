/**
 * search: a full scan of 1 GB of logs across 100 runners, and a transcript of 100,000
 * entries to its first page.
 *
 *   logs        100 runners' log folders written as the log store leaves them (segment files
 *               `out-BASE-SIZE-NNNNNN` of 4 MiB, see packages/runner/src/logs/segments.ts):
 *               generated lines of a build and an agent's tools, a colour code in about one
 *               word of seven, a progress line redrawn with CR, box drawing and other UTF-8.
 *   scan        the runner package's `searchLogs` itself (what `GET /api/search` streams), in
 *               a process of its own, over every runner: a query that occurs nowhere (every
 *               byte read) and one on 1 % of the lines, each with no hit limit and no time
 *               budget to speak of. The server is not used for this: it adopts runners, not
 *               log folders, and its route has a fixed 2 s budget. Peak RSS above that
 *               process's idle RSS (VmHWM after clear_refs, and VmRSS sampled every 10 ms).
 *   baselines   `LC_ALL=C grep -cF` and `grep -ciF` over the same files (the no-Node ceiling,
 *               without escape stripping), and the scanner before this round's commits
 *               (packages/runner/test/search/reference-scanner.ts) over the first runners.
 *   transcript  a generated Claude Code session file of 100,000 entries: the runner package's
 *               TranscriptIndex alone, cold, to its first page (time, peak RSS), in the scan
 *               process; then a real server, a fake `claude` on its PATH putting the file where
 *               the real one would (CLAUDE_CONFIG_DIR, named by `--session-id`). Time from
 *               `GET /api/runners/:id/transcript` to the first page answered: once the file
 *               is written (the server follows the live agent's file meanwhile), then the
 *               first request to a server started after the agent ended (which indexes every
 *               agent runner's file from its start), then again (indexed). `tail -n 100` and a
 *               whole-file `JSON.parse` of every line as baselines.
 *
 * The generated files live under one temp folder, removed at the end (a gigabyte).
 */
import { spawn, spawnSync } from "node:child_process"
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { median } from "../../../packages/runner/bench/stats.js"
import {
  api,
  getJson,
  log,
  sleep,
  spawnServer,
  stopServerAndRunners,
  stopServerProcess,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface SearchOptions {
  readonly runners: number
  /** Log bytes in all, split evenly over the runners. */
  readonly totalBytes: number
  readonly segmentBytes: number
  /** Bytes the scanner before this round's commits reads (it runs at about 11 MB/s). */
  readonly referenceBytes: number
  readonly transcriptEntries: number
  /** Rounds of the warm transcript request. */
  readonly repeats: number
}

export const searchDefaults: SearchOptions = {
  runners: 100,
  totalBytes: 1_000_000_000,
  segmentBytes: 4 * 1024 * 1024,
  referenceBytes: 50_000_000,
  transcriptEntries: 100_000,
  repeats: 5,
}
export const searchQuick: SearchOptions = {
  runners: 20,
  totalBytes: 100_000_000,
  segmentBytes: 4 * 1024 * 1024,
  referenceBytes: 10_000_000,
  transcriptEntries: 10_000,
  repeats: 3,
}

/** Nowhere in the generated logs, but every one of its characters is on most lines. */
const ABSENT = "segfault at 0xdeadbeef"
/** On 1 % of the lines, whole (never cut by a colour code), at most once a line. */
const OFTEN = "connection reset by peer"

// ---- generated logs --------------------------------------------------------------------

/** mulberry32: the same logs on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const WORDS = (
  "the a to of and in for is on with build test tests passed failed running compiled module " +
  "src/index.ts packages/runner/src/logs/log-store.ts warning error info debug request GET " +
  "POST /api/runners 200 404 ms token cache hit miss fetched resolved dependency lockfile " +
  "pnpm vitest tsc eslint biome format check commit branch main feature origin push pull " +
  "0x7ffd5a2c 0x00400000 buffer bytes offset line column expected received deep equal " +
  "function return value undefined null object array string number boolean async await"
).split(" ")
const COLOURS = ["\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[2m", "\x1b[38;5;208m"]
const RESET = "\x1b[0m"

/** About `bytes` of log lines. */
const makeBlock = (next: () => number, bytes: number) => {
  const lines: string[] = []
  let size = 0
  const word = () => WORDS[Math.floor(next() * WORDS.length)] ?? "x"
  while (size < bytes) {
    const r = next()
    let line: string
    if (r < 0.01) {
      line = `\x1b[31merror\x1b[0m fetch https://registry.example/${word()}: ${OFTEN}\n`
    } else if (r < 0.06) {
      line = `\r\x1b[2K${word()} ${Math.floor(next() * 100)}% |${"█".repeat(Math.floor(next() * 30))}|`
    } else if (r < 0.1) {
      line = `\x1b[2m│\x1b[0m ${word()} ${word()} ─── ✓ ${Math.floor(next() * 900)} ms\n`
    } else {
      const count = 4 + Math.floor(next() * 14)
      const at = new Date(1_760_000_000_000 + size).toISOString()
      line = `${at} `
      for (let i = 0; i < count; i++) {
        const w = word()
        line +=
          next() < 0.14 ? `${COLOURS[Math.floor(next() * COLOURS.length)]}${w}${RESET} ` : `${w} `
      }
      line += "\n"
    }
    lines.push(line)
    size += Buffer.byteLength(line)
  }
  return Buffer.from(lines.join(""))
}

interface Written {
  readonly dataDir: string
  readonly logDirs: ReadonlyArray<string>
  readonly bytes: number
}

/** The runners' log folders under `dataDir/runners/`, as segment files of `segmentBytes`. */
const writeLogs = (dataDir: string, options: SearchOptions): Written => {
  const next = random(20261207)
  const blocks = Array.from({ length: 16 }, () => makeBlock(next, 1024 * 1024))
  const perRunner = Math.floor(options.totalBytes / options.runners)
  const logDirs: string[] = []
  let bytes = 0
  for (let r = 0; r < options.runners; r++) {
    const dir = join(dataDir, "runners", `bench-${String(r).padStart(3, "0")}`)
    mkdirSync(dir, { recursive: true })
    logDirs.push(dir)
    const base = r * 1_000_000 // each runner's own generation start, as after a writer restart
    let written = 0
    let segment = -1
    let fd: number | undefined
    for (let b = r; written < perRunner; b++) {
      const block = blocks[b % blocks.length]
      if (block === undefined) break
      let from = 0
      while (from < block.length && written < perRunner) {
        const index = Math.floor(written / options.segmentBytes)
        if (index !== segment) {
          if (fd !== undefined) closeSync(fd)
          const name = `out-${String(base).padStart(15, "0")}-${options.segmentBytes}-${String(index).padStart(6, "0")}`
          fd = openSync(join(dir, name), "w")
          segment = index
        }
        const room = Math.min(
          (index + 1) * options.segmentBytes - written,
          block.length - from,
          perRunner - written,
        )
        writeSync(fd ?? 0, block, from, room)
        from += room
        written += room
      }
    }
    if (fd !== undefined) closeSync(fd)
    bytes += written
  }
  return { dataDir, logDirs, bytes }
}

// ---- the scan, in a process of its own -------------------------------------------------

interface WorkerInput {
  readonly transcript: string
  readonly logDirs: ReadonlyArray<string>
  readonly queries: ReadonlyArray<string>
  readonly referenceBytes: number
  readonly out: string
}
interface ScanResult {
  readonly query: string
  readonly hits: number
  readonly scannedBytes: number
  readonly ms: number
  readonly peakMb: number
}
interface WorkerOutput {
  /** The runner package's TranscriptIndex alone, cold: a new one's first page. */
  readonly index: { readonly ms: number; readonly total: number; readonly peakMb: number }
  readonly idleMb: number
  readonly scans: ReadonlyArray<ScanResult>
  readonly reference: { readonly bytes: number; readonly ms: number; readonly hits: number }
}

const status = (field: "VmRSS" | "VmHWM"): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(
    readFileSync("/proc/self/status", "utf8"),
  )
  return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024
}

/** Runs in the child: `bench/search.ts --scan-worker INPUT.json`. */
const scanWorker = async (inputFile: string) => {
  const input = JSON.parse(readFileSync(inputFile, "utf8")) as WorkerInput
  const { Effect, Stream } = await import("effect")
  const { defaultPrices, parseClaudeLine, searchLogs, TranscriptIndex } = await import(
    "@geppetto/runner"
  )
  const { ReferenceScanner } = await import(
    "../../../packages/runner/test/search/reference-scanner.js"
  )
  const targets = input.logDirs.map((logDir, i) => ({
    runnerId: `r${i}`,
    name: `r${i}`,
    logDir,
  }))
  await sleep(300)
  const idleMb = status("VmRSS")
  /** Peak RSS while `run` runs: VmHWM reset first, and VmRSS sampled every 10 ms. */
  const peakOf = async <T>(run: () => Promise<T>) => {
    try {
      writeFileSync("/proc/self/clear_refs", "5") // VmHWM back to VmRSS
    } catch {
      // an older kernel: the sampled VmRSS stands alone
    }
    let sampled = status("VmRSS")
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, status("VmRSS"))
    }, 10)
    const result = await run()
    clearInterval(sampler)
    return { result, peakMb: Math.max(sampled, status("VmHWM")) }
  }
  const scans: ScanResult[] = []
  for (const query of input.queries) {
    const t0 = performance.now()
    const { result, peakMb } = await peakOf(() =>
      Effect.runPromise(
        Stream.runFold(
          searchLogs(targets, {
            query,
            limit: Number.MAX_SAFE_INTEGER,
            timeBudgetMs: 3_600_000,
          }),
          { hits: 0, scannedBytes: 0 },
          (acc, e) =>
            e._tag === "Hit"
              ? { hits: acc.hits + 1, scannedBytes: acc.scannedBytes }
              : { hits: acc.hits, scannedBytes: e.scannedBytes },
        ),
      ),
    )
    scans.push({ query, ...result, ms: performance.now() - t0, peakMb })
  }
  const t1 = performance.now()
  const indexed = await peakOf(() =>
    Effect.runPromise(
      new TranscriptIndex(input.transcript, parseClaudeLine, defaultPrices).page({}),
    ),
  )
  const index = { ms: performance.now() - t1, total: indexed.result.total, peakMb: indexed.peakMb }
  // The scanner before: 256 KiB reads (the log cursor's), every window decoded.
  const buffer = Buffer.allocUnsafe(256 * 1024)
  const query = input.queries[0] ?? ""
  let bytes = 0
  let hits = 0
  const t0 = performance.now()
  for (const dir of input.logDirs) {
    if (bytes >= input.referenceBytes) break
    const scanner = new ReferenceScanner(query)
    for (const name of readdirSync(dir).sort()) {
      const fd = openSync(join(dir, name), "r")
      try {
        for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
          hits += scanner.push(bytes, buffer.subarray(0, n)).length
          bytes += n
        }
      } finally {
        closeSync(fd)
      }
    }
    hits += scanner.finish().length
  }
  const reference = { bytes, ms: performance.now() - t0, hits }
  writeFileSync(
    input.out,
    JSON.stringify({ index, idleMb, scans, reference } satisfies WorkerOutput),
  )
}

const SERVER_DIR = join(import.meta.dirname, "..")

const runWorker = async (input: WorkerInput): Promise<WorkerOutput> => {
  const inputFile = `${input.out}.in.json`
  writeFileSync(inputFile, JSON.stringify(input))
  const tsx = join(SERVER_DIR, "node_modules", ".bin", "tsx")
  const args = ["--conditions=geppetto-source", "bench/search.ts", "--scan-worker", inputFile]
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(tsx, args, { cwd: SERVER_DIR, stdio: "inherit" })
    child.on("error", reject)
    child.on("exit", resolve)
  })
  if (code !== 0) throw new Error(`the scan worker exited with ${code}`)
  return JSON.parse(readFileSync(input.out, "utf8")) as WorkerOutput
}

/** `argv` run to completion: wall ms and stdout (grep's count lines). */
const timedRun = (argv: ReadonlyArray<string>) => {
  const t0 = performance.now()
  const r = spawnSync(argv[0] ?? "", argv.slice(1), {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
    maxBuffer: 64 * 1024 * 1024,
  })
  return { ms: performance.now() - t0, stdout: r.stdout, status: r.status }
}

/** Lines holding `query` in all `dirs`' files, by `grep -c` (flags such as `-i`). */
const grepCount = (flags: ReadonlyArray<string>, query: string, dirs: ReadonlyArray<string>) => {
  const r = timedRun(["grep", "-r", "-c", "-F", ...flags, "--", query, ...dirs])
  let lines = 0
  for (const row of r.stdout.split("\n")) lines += Number(row.slice(row.lastIndexOf(":") + 1)) || 0
  return { ms: r.ms, lines }
}

// ---- the transcript --------------------------------------------------------------------

/** A Claude Code session of `entries` lines: turns of a prompt, text, tool calls and results. */
const writeTranscript = (file: string, entries: number) => {
  const next = random(100_000)
  const fd = openSync(file, "w")
  const word = () => WORDS[Math.floor(next() * WORDS.length)] ?? "x"
  const words = (n: number) => Array.from({ length: n }, word).join(" ")
  let pending: string[] = []
  const flush = () => {
    writeSync(fd, pending.join(""))
    pending = []
  }
  const at = (i: number) => new Date(1_760_000_000_000 + i * 1000).toISOString()
  const usage =
    '"usage":{"input_tokens":1200,"output_tokens":310,"cache_read_input_tokens":45000,"cache_creation_input_tokens":800}'
  for (let i = 0; i < entries; i++) {
    const kind = i % 4
    const msg = `msg_${Math.floor(i / 4)}`
    let line: string
    if (kind === 0) {
      line = JSON.stringify({
        type: "user",
        timestamp: at(i),
        uuid: `u${i}`,
        message: { role: "user", content: words(12 + Math.floor(next() * 30)) },
      })
    } else if (kind === 1) {
      line = `{"type":"assistant","timestamp":"${at(i)}","uuid":"a${i}","message":{"id":"${msg}","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":${JSON.stringify(`**${word()}** ${words(20 + Math.floor(next() * 60))}`)}}],${usage}}}`
    } else if (kind === 2) {
      line = `{"type":"assistant","timestamp":"${at(i)}","uuid":"a${i}","message":{"id":"${msg}","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"t${i}","name":"Bash","input":{"command":${JSON.stringify(`pnpm ${word()} ${word()}`)}}}],${usage}}}`
    } else {
      line = JSON.stringify({
        type: "user",
        timestamp: at(i),
        uuid: `u${i}`,
        message: {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: `t${i - 1}`,
              content: words(30 + Math.floor(next() * 120)),
              is_error: next() < 0.05,
            },
          ],
        },
      })
    }
    pending.push(`${line}\n`)
    if (pending.length >= 1000) flush()
  }
  flush()
  closeSync(fd)
}

/** A fake `claude`: puts the prepared session file where Claude Code would, and ends. */
const FAKE_CLAUDE = `#!/bin/sh
sid=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--session-id" ]; then sid="$2"; shift; fi
  shift
done
[ -n "$sid" ] || { echo "no --session-id"; exit 2; }
slug=$(pwd | sed 's/[^A-Za-z0-9]/-/g')
dir="$CLAUDE_CONFIG_DIR/projects/$slug"
mkdir -p "$dir"
cp "$GEPPETTO_BENCH_TRANSCRIPT" "$dir/.$sid.tmp" && mv "$dir/.$sid.tmp" "$dir/$sid.jsonl"
echo "bench agent: session written"
`

interface TranscriptFigures {
  readonly entries: number
  readonly fileMb: number
  /** The first request after the agent wrote its file (the server follows it meanwhile). */
  readonly liveMs: number
  /**
   * The first request to a server started after the agent ended: its Transcripts service
   * indexes every agent runner's file from its start, so this waits for that at most.
   */
  readonly restartedMs: number
  readonly againMs: number
  readonly total: number
  readonly tailMs: number
  readonly parseMs: number
}

/** The session file, and what reading it costs without Geppetto. */
const makeTranscript = (dir: string, options: SearchOptions) => {
  const file = join(dir, "session.jsonl")
  log(`  search: a Claude session of ${options.transcriptEntries} entries ...`)
  writeTranscript(file, options.transcriptEntries)
  const fileMb = statSync(file).size / 1e6
  const tail = timedRun(["tail", "-n", "100", file])
  const t0 = performance.now()
  const parsed = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown).length
  const parseMs = performance.now() - t0
  if (parsed !== options.transcriptEntries) throw new Error(`wrote ${parsed} entries`)
  return { file, fileMb, tailMs: tail.ms, parseMs }
}

const transcriptBench = async (
  dir: string,
  made: ReturnType<typeof makeTranscript>,
  options: SearchOptions,
): Promise<TranscriptFigures> => {
  const { file, fileMb, tailMs, parseMs } = made
  const bin = join(dir, "bin")
  const home = join(dir, "claude-home")
  const cwd = join(dir, "project")
  for (const d of [bin, home, cwd]) mkdirSync(d, { recursive: true })
  writeFileSync(join(bin, "claude"), FAKE_CLAUDE)
  chmodSync(join(bin, "claude"), 0o755)
  const env = {
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    CLAUDE_CONFIG_DIR: home,
    GEPPETTO_BENCH_TRANSCRIPT: file,
  }
  let server = await spawnServer({ label: "search", env })
  try {
    const started = (await api(server, "POST", "/api/runners", {
      provider: "claude",
      cwd,
      name: "transcript-100k",
      cols: 120,
      rows: 32,
    })) as { id?: string } | undefined
    const id = started?.id
    if (id === undefined) throw new Error("the claude runner did not start")
    const sessions = join(home, "projects", cwd.replace(/[^A-Za-z0-9]/g, "-"))
    const deadline = Date.now() + 60_000
    const written = () =>
      existsSync(sessions) && readdirSync(sessions).some((f) => f.endsWith(".jsonl"))
    while (!written()) {
      if (Date.now() > deadline) throw new Error(`no session file in ${sessions} after 60 s`)
      await sleep(20)
    }
    const page = async () => {
      const t = performance.now()
      const body = await getJson<{ total: number; entries: ReadonlyArray<unknown> }>(
        server,
        `/api/runners/${id}/transcript`,
      )
      return { ms: performance.now() - t, total: body.total, entries: body.entries.length }
    }
    const live = await page()
    // The agent has ended: a server started now follows nothing, and has indexed nothing.
    while ((await getJson<{ status: string }>(server, `/api/runners/${id}`)).status === "running") {
      if (Date.now() > deadline) throw new Error(`runner ${id} still running after 60 s`)
      await sleep(50)
    }
    await stopServerProcess(server)
    server = await spawnServer({ label: "search", dir: server.dir, socket: server.socket, env })
    const restarted = await page()
    const again: number[] = []
    for (let i = 0; i < options.repeats; i++) again.push((await page()).ms)
    return {
      entries: options.transcriptEntries,
      fileMb,
      liveMs: live.ms,
      restartedMs: restarted.ms,
      againMs: median(again),
      total: restarted.total,
      tailMs,
      parseMs,
    }
  } finally {
    await stopServerAndRunners(server)
  }
}

// ---- the scenario ----------------------------------------------------------------------

export const searchScenario = async (options: SearchOptions): Promise<ScenarioReport> => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-bench-search-"))
  try {
    log(
      `  search: writing ${Math.round(options.totalBytes / 1e6)} MB of logs for ${options.runners} runners ...`,
    )
    const t0 = performance.now()
    const written = writeLogs(join(dir, "data"), options)
    log(`  search: written in ${Math.round(performance.now() - t0)} ms; grep baselines ...`)
    // grep first: the files are in the page cache for every reader alike.
    const grepAbsent = grepCount([], ABSENT, written.logDirs)
    const grepAbsentI = grepCount(["-i"], ABSENT, written.logDirs)
    const grepOften = grepCount(["-i"], OFTEN, written.logDirs)
    log("  search: the scans (searchLogs, in its own process) ...")
    const made = makeTranscript(dir, options)
    const worker = await runWorker({
      transcript: made.file,
      logDirs: written.logDirs,
      queries: [ABSENT, OFTEN],
      referenceBytes: options.referenceBytes,
      out: join(dir, "scan.json"),
    })
    const transcript = await transcriptBench(dir, made, options)

    const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000)
    const absent = worker.scans[0]
    const often = worker.scans[1]
    if (absent === undefined || often === undefined) throw new Error("the worker scanned nothing")
    const grepMbps = mbps(written.bytes, grepAbsent.ms)
    const grepIMbps = mbps(written.bytes, grepAbsentI.ms)
    return {
      scenario: "search",
      title: "search 1 GB of logs across 100 runners; a 100k-entry transcript's first page",
      setup:
        `${options.runners} runners' logs, ${Math.round(written.bytes / 1e6)} MB in ${options.segmentBytes / 1024 / 1024} MiB segments (page cache warm), ` +
        `scanned by the runner package's searchLogs in a process of its own (queries "${ABSENT}", absent, and "${OFTEN}", on ${grepOften.lines} lines); ` +
        `a real server answering GET /api/runners/:id/transcript on a Claude session of ${transcript.entries} entries (${transcript.fileMb.toFixed(1)} MB).`,
      figures: [
        {
          name: "full scan, query absent",
          value: mbps(absent.scannedBytes, absent.ms),
          unit: "MB/s",
          target: { op: ">=", limit: 500 },
          baseline: { label: "LC_ALL=C grep -ciF", value: grepIMbps },
          digits: 0,
        },
        {
          name: "full scan, query on 1 % of lines",
          value: mbps(often.scannedBytes, often.ms),
          unit: "MB/s",
          baseline: { label: "LC_ALL=C grep -ciF", value: mbps(written.bytes, grepOften.ms) },
          digits: 0,
        },
        {
          name: "scanner before (reference), query absent",
          value: mbps(worker.reference.bytes, worker.reference.ms),
          unit: "MB/s",
          baseline: { label: "LC_ALL=C grep -cF", value: grepMbps },
          digits: 0,
        },
        {
          name: "peak RSS above idle, query absent",
          value: absent.peakMb - worker.idleMb,
          unit: "MB",
          target: { op: "<", limit: 100 },
          digits: 1,
        },
        {
          name: "peak RSS above idle, query often",
          value: often.peakMb - worker.idleMb,
          unit: "MB",
          target: { op: "<", limit: 100 },
          digits: 1,
        },
        {
          name: `transcript of ${transcript.entries} entries: first page, nothing indexed`,
          value: worker.index.ms,
          unit: "ms",
          baseline: { label: "JSON.parse of every line", value: transcript.parseMs },
          digits: 0,
        },
        {
          name: "transcript: its peak RSS above idle",
          value: worker.index.peakMb - worker.idleMb,
          unit: "MB",
          baseline: { label: "the file", value: transcript.fileMb },
          digits: 1,
        },
        {
          name: "transcript: GET, the agent just done",
          value: transcript.liveMs,
          unit: "ms",
          digits: 0,
        },
        {
          name: "transcript: GET, first to a restarted server",
          value: transcript.restartedMs,
          unit: "ms",
          digits: 0,
        },
        {
          name: "transcript: a page again (indexed)",
          value: transcript.againMs,
          unit: "ms",
          baseline: { label: "tail -n 100", value: transcript.tailMs },
          digits: 1,
        },
      ],
      details: {
        bytes: written.bytes,
        idleMb: worker.idleMb,
        scans: worker.scans.map((s) => ({ ...s })),
        reference: { ...worker.reference },
        grep: {
          absentMs: grepAbsent.ms,
          absentIMs: grepAbsentI.ms,
          oftenIMs: grepOften.ms,
          oftenLines: grepOften.lines,
        },
        transcript: { ...transcript },
      },
      notes: [
        `hits: ${absent.hits} for the absent query; ${often.hits} for the other, where grep -ci counts ${grepOften.lines} lines (it is never split by a colour code, and once a line at most).`,
        `scanned ${Math.round(absent.scannedBytes / 1e6)} MB in ${Math.round(absent.ms)} ms and ${Math.round(often.ms)} ms; grep -cF ${Math.round(grepAbsent.ms)} ms, -ciF ${Math.round(grepAbsentI.ms)} ms (grep strips no escapes: a hit split by a colour code is not its).`,
        `the scanner before read ${Math.round(worker.reference.bytes / 1e6)} MB (the first runners) in ${Math.round(worker.reference.ms)} ms.`,
        `transcript: total ${transcript.total} (index alone: ${worker.index.total}). "Nothing indexed" is the runner package's TranscriptIndex alone, a new one's first page, in the scan process (after the scans). The GETs go to a real server: "the agent just done" is the first request once the file is written, while the server's follower of the live agent may be indexing it too; a restarted server's Transcripts service indexes every agent runner's file from its start, so its first GET waits at most for that.`,
      ],
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === "--scan-worker" && process.argv[3] !== undefined) {
  await scanWorker(process.argv[3])
}
