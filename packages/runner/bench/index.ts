/**
 * Benchmark of the runner's process layer (`pnpm bench` at the repo root). Not a test:
 * it prints a table and writes `bench/results/latest.json`. Each scenario runs on its own
 * tmux server (`-L`) and temp data dir, both removed at the end.
 *
 *   flood  40 MB printed by a pane: spawn → last byte read by `handle.output(0)`, against
 *          raw tmux (same generator, no pipe, no client; end seen with `wait-for`), plus
 *          tmux + pipe-pane → split without the Node tail, to tell the two costs apart.
 *          CPU time of the tmux server, the writer and this process is reported per run.
 *   echo   300 single keystrokes: write → echoed byte read on the tail; through the
 *          persistent control client and, as the rejected baseline, one `tmux` per key.
 *
 * Options: `--only flood|echo`, `--repeats N` (flood, default 3).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit, Fiber } from "effect"
import { type EchoReport, echoScenario } from "./echo.js"
import { machineFacts } from "./env.js"
import { type FloodReport, floodScenario } from "./flood.js"
import { round, table } from "./stats.js"

const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const only = argValue("--only")
const repeats = Number(argValue("--repeats") ?? 3)
if (only !== undefined && only !== "flood" && only !== "echo") {
  console.error(`--only takes flood or echo, not ${only}`)
  process.exit(2)
}
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error("--repeats takes a positive integer")
  process.exit(2)
}

const log = (line: string) => console.log(line)
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-")

const cpuCell = (n: number | null | undefined) => (typeof n === "number" ? fmt(n, 0) : "-")

/** One table row per flood path; a CPU figure the path does not have prints as "-". */
const floodRow = (label: string, path: FloodReport["raw"]) => [
  label,
  fmt(path.medianMs),
  fmt(path.mbPerS),
  path.runs.map((r) => fmt(r.ms, 0)).join(" / "),
  cpuCell(path.medianCpuMs.tmuxServer),
  cpuCell(path.medianCpuMs.writer),
  cpuCell(path.medianCpuMs.node),
]

const printFlood = (f: FloodReport) => {
  log(
    `\nflood: ${f.bytes.toLocaleString("en-US")} bytes (${f.generator.replace(/ \S{98} /, " <98 chars> ")}), pane ${f.paneSize}; median of ${f.repeats}`,
  )
  log(
    table(
      ["path", "median ms", "MB/s", "runs ms", "cpu ms: tmux", "split", "node"],
      [
        floodRow("raw tmux (no pipe, no client; wait-for)", f.raw),
        floodRow("tmux + pipe-pane → split (no tail)", f.pipe),
        floodRow("runner spawn → tail read last byte", f.runner),
      ],
    ),
  )
  log(
    `ratio runner/raw throughput: ${fmt(f.ratio, 2)} (goal >= ${f.goal}: ${f.meetsGoal ? "met" : "NOT met"}); ` +
      `spawn ${fmt(f.runner.medianSpawnMs)} ms, exit event at ${fmt(f.runner.medianExitSeenMs ?? Number.NaN, 0)} ms (medians)` +
      (f.runner.exitLate + f.runner.exitMissed > 0
        ? `; exit event late (> 1 s after the last byte) in ${f.runner.exitLate}/${f.repeats} runs, missing in ${f.runner.exitMissed}: tmux lost the pane's SIGCHLD (bench/repro-tmux-lost-exit.sh)`
        : ""),
  )
  log(
    "cpu ms: user+system time used during the timed span (tmux server, split writer, this Node process)",
  )
}

const printEcho = (e: EchoReport) => {
  log(
    `\necho: ${e.keys} single keystrokes (+${e.warmupKeys} warm-up), ${e.keyGapMs} ms apart; ms from send to echo read on the tail`,
  )
  log(
    table(
      ["path", "p50", "p90", "p99", "max", "mean"],
      e.variants.map((v) => [
        v.name,
        fmt(v.latencyMs.p50, 2),
        fmt(v.latencyMs.p90, 2),
        fmt(v.latencyMs.p99, 2),
        fmt(v.latencyMs.max, 2),
        fmt(v.latencyMs.mean, 2),
      ]),
    ),
  )
  log(
    `one-off tmux per key is ${fmt(e.oneOffSlowdownP50, 1)}x the control client at p50; ` +
      `prototype reference (tty echo, control client): p50 ${e.reference.p50} ms, p99 ${e.reference.p99} ms`,
  )
}

const main = Effect.gen(function* () {
  const machine = machineFacts()
  const startedAt = new Date().toISOString()
  const t0 = performance.now()
  log(
    `geppetto runner bench: ${machine.cpus} cpus (${machine.cpuModel}), node ${machine.node}, ${machine.tmux}, ${machine.platform} ${machine.kernel}, load ${machine.loadAvg.join(" ")}`,
  )
  let flood: FloodReport | undefined
  let echo: EchoReport | undefined
  if (only === undefined || only === "flood") {
    log(`flood (${repeats} runs each, interleaved) ...`)
    flood = yield* floodScenario(repeats, log)
  }
  if (only === undefined || only === "echo") {
    log("echo ...")
    echo = yield* echoScenario(log)
  }
  if (flood !== undefined) printFlood(flood)
  if (echo !== undefined) printEcho(echo)
  const loadAvgAtEnd = loadavg().map((l) => round(l, 2))
  log(
    `\nload average at start ${machine.loadAvg.join(" ")}, at end ${loadAvgAtEnd.join(" ")} (other work on this machine skews every figure)`,
  )
  const report = {
    startedAt,
    loadAvgAtEnd,
    durationMs: round(performance.now() - t0, 0),
    machine,
    units: {
      time: "ms (performance.now())",
      throughput: "MB/s, 1 MB = 1e6 bytes",
    },
    ...(flood === undefined ? {} : { flood }),
    ...(echo === undefined ? {} : { echo }),
  }
  const dir = join(import.meta.dirname, "results")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, "latest.json")
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  log(`\nwrote ${file} (${fmt(report.durationMs / 1000)} s)`)
})

const fiber = Effect.runFork(main)
// Ctrl-C: interrupt, so every scope closes and kills its tmux server and temp dir.
process.once("SIGINT", () => {
  Effect.runFork(Fiber.interrupt(fiber))
})
const exit = await Effect.runPromise(Fiber.await(fiber))
if (Exit.isFailure(exit)) {
  console.error(`bench failed:\n${Cause.pretty(exit.cause)}`)
  process.exitCode = 1
}
