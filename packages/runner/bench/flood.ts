import { Effect, Fiber, Stream } from "effect"
import { ProcessId } from "../src/index.js"
import { BenchError, benchRunner, benchSandbox, tmuxAsync, tmuxSync } from "./env.js"
import { median, round } from "./stats.js"

/**
 * The flood: 400,000 lines of 98 printable characters. The pty turns each `\n` into
 * `\r\n` (ONLCR), so the pane prints exactly 100 bytes a line: 40,000,000 bytes in all.
 * `yes | head` is a generator far faster than tmux (~0.1 s for the whole flood here), so
 * the pane's reader is what is measured. 98 columns fit the 120-column pane: the terminal
 * does ordinary work (print, CR, LF, scroll), no wrapping.
 */
export const FLOOD_LINES = 400_000
const LINE = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(2).slice(0, 98)
export const FLOOD_BYTES = FLOOD_LINES * (LINE.length + 2)
const GENERATOR = `yes ${LINE} | head -n ${FLOOD_LINES}`
const COLS = 120
const ROWS = 32
const TAIL_TIMEOUT = "60 seconds"

export interface FloodRun {
  readonly ms: number
  readonly mbPerS: number
}

export interface RunnerFloodRun extends FloodRun {
  /** From just before `spawn` until it returned the handle. */
  readonly spawnMs: number
  /** From just before `spawn` until `awaitExit` resolved (exit hook + log settled). */
  readonly exitSeenMs: number
  readonly tailBytes: number
  readonly logBytes: number
}

export interface FloodReport {
  readonly bytes: number
  readonly generator: string
  readonly paneSize: string
  readonly repeats: number
  readonly raw: { readonly runs: ReadonlyArray<FloodRun>; readonly medianMs: number; readonly mbPerS: number }
  readonly runner: {
    readonly runs: ReadonlyArray<RunnerFloodRun>
    readonly medianMs: number
    readonly mbPerS: number
    readonly medianSpawnMs: number
    readonly medianExitSeenMs: number
  }
  /** raw median time / runner median time: 1 = as fast as tmux alone. */
  readonly ratio: number
  readonly goal: number
  readonly meetsGoal: boolean
}

const mbPerS = (ms: number) => round(FLOOD_BYTES / 1e6 / (ms / 1000), 2)

/**
 * The raw tmux limit: the same generator in a plain detached session (no pipe-pane, no
 * client attached), its end signalled by `tmux wait-for -S` from inside the pane. The
 * waiting `tmux wait-for` client is started first (tmux also remembers a signal that came
 * before its waiter), so its start-up is not timed.
 */
const rawRun = (socket: string, index: number) =>
  Effect.gen(function* () {
    const channel = `flood-done-${index}`
    const waiter = yield* Effect.fork(tmuxAsync(socket, ["wait-for", channel]))
    yield* Effect.sleep("50 millis")
    const t0 = performance.now()
    yield* tmuxAsync(socket, [
      "new-session",
      "-d",
      "-s",
      `raw-${index}`,
      "-x",
      String(COLS),
      "-y",
      String(ROWS),
      "--",
      "sh",
      "-c",
      `${GENERATOR}; tmux -L ${socket} wait-for -S ${channel}`,
    ])
    yield* Fiber.join(waiter).pipe(
      Effect.timeoutFail({
        duration: TAIL_TIMEOUT,
        onTimeout: () => new BenchError({ message: "raw flood: wait-for never returned" }),
      }),
    )
    const ms = performance.now() - t0
    tmuxSync(socket, ["kill-session", "-t", `=raw-${index}`])
    return { ms: round(ms), mbPerS: mbPerS(ms) } satisfies FloodRun
  })

/** The runner path: `ProcessMonitor.spawn`, pipe-pane → split → segment, tailed with `handle.output(0)`. */
const runnerRun = (env: Effect.Effect.Success<ReturnType<typeof benchRunner>>, index: number) =>
  Effect.gen(function* () {
    const processId = ProcessId(`flood-${index}`)
    const result = yield* Effect.scoped(
      Effect.gen(function* () {
        const t0 = performance.now()
        const handle = yield* env.monitor.spawn("sh", ["-c", GENERATOR], {
          processId,
          cols: COLS,
          rows: ROWS,
        })
        const spawnMs = performance.now() - t0
        const tailBytes = yield* handle.output(0).pipe(
          Stream.runFoldWhile(
            0,
            (n) => n < FLOOD_BYTES,
            (n, chunk) => n + chunk.bytes.length,
          ),
          Effect.timeoutFail({
            duration: TAIL_TIMEOUT,
            onTimeout: () =>
              new BenchError({ message: `runner flood ${index}: the tail did not reach the end` }),
          }),
        )
        const ms = performance.now() - t0
        const exit = yield* handle.awaitExit.pipe(
          Effect.timeoutFail({
            duration: "30 seconds",
            onTimeout: () => new BenchError({ message: `runner flood ${index}: no exit event` }),
          }),
        )
        const exitSeenMs = performance.now() - t0
        const bounds = yield* handle.logBounds
        yield* handle.terminate
        if (exit.exitCode !== 0) {
          return yield* new BenchError({
            message: `runner flood ${index}: generator exited with ${exit.exitCode} ${exit.signal}`,
          })
        }
        if (tailBytes !== FLOOD_BYTES || bounds.end !== FLOOD_BYTES) {
          return yield* new BenchError({
            message: `runner flood ${index}: expected ${FLOOD_BYTES} bytes, tail read ${tailBytes}, log holds ${bounds.end}`,
          })
        }
        return {
          ms: round(ms),
          mbPerS: mbPerS(ms),
          spawnMs: round(spawnMs),
          exitSeenMs: round(exitSeenMs),
          tailBytes,
          logBytes: bounds.end,
        } satisfies RunnerFloodRun
      }),
    )
    // 40 MB a run: do not let three runs pile up on disk.
    yield* Effect.ignore(env.logs.remove(env.logs.processDir(processId)))
    return result
  })

export const floodScenario = (repeats: number, log: (line: string) => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const raw = yield* benchSandbox("flood-raw")
      // The raw server's first session starts the server; keep it so runs do not time that.
      const started = tmuxSync(raw.socket, ["new-session", "-d", "-s", "keep", "sleep", "infinity"])
      if (started.code !== 0) {
        return yield* new BenchError({ message: `could not start tmux: ${started.stderr}` })
      }
      const env = yield* benchRunner("flood")
      const rawRuns: FloodRun[] = []
      const runnerRuns: RunnerFloodRun[] = []
      // Interleaved, so that drift in the machine's load hits both sides alike.
      for (let i = 0; i < repeats; i++) {
        const r = yield* rawRun(raw.socket, i)
        rawRuns.push(r)
        log(`  flood ${i + 1}/${repeats} raw tmux   ${r.ms.toFixed(0).padStart(6)} ms  ${r.mbPerS} MB/s`)
        const p = yield* runnerRun(env, i)
        runnerRuns.push(p)
        log(`  flood ${i + 1}/${repeats} runner     ${p.ms.toFixed(0).padStart(6)} ms  ${p.mbPerS} MB/s`)
      }
      const rawMedian = median(rawRuns.map((r) => r.ms))
      const runnerMedian = median(runnerRuns.map((r) => r.ms))
      const ratio = round(rawMedian / runnerMedian)
      return {
        bytes: FLOOD_BYTES,
        generator: GENERATOR,
        paneSize: `${COLS}x${ROWS}`,
        repeats,
        raw: { runs: rawRuns, medianMs: round(rawMedian), mbPerS: mbPerS(rawMedian) },
        runner: {
          runs: runnerRuns,
          medianMs: round(runnerMedian),
          mbPerS: mbPerS(runnerMedian),
          medianSpawnMs: round(median(runnerRuns.map((r) => r.spawnMs))),
          medianExitSeenMs: round(median(runnerRuns.map((r) => r.exitSeenMs))),
        },
        ratio,
        goal: 0.8,
        meetsGoal: ratio >= 0.8,
      } satisfies FloodReport
    }),
  )
