import { writeFileSync } from "node:fs"

/**
 * Per-stage timestamps of the keystroke path (socket in → control client → tmux → log →
 * socket out), for the terminal bench: with `GEPPETTO_STAGE_TRACE=FILE` in the server's
 * environment each stage's moments are kept in memory and written to FILE as JSON lines when
 * the process exits, so the bench can name every millisecond of an echo. Without it `mark` is
 * one branch on a constant: the hot path pays nothing.
 *
 * Times are CLOCK_MONOTONIC microseconds (`process.hrtime`), one clock for every process on
 * the machine, so the bench's own send and receive times line up with the server's.
 */
const file = process.env.GEPPETTO_STAGE_TRACE
export const stageTraceEnabled = file !== undefined && file !== ""

/** Marks kept at most: a flood must not make the trace the server's memory problem. */
const MAX_MARKS = 200_000
const stages: string[] = []
const tags: string[] = []
const times: number[] = []

/** Now, in µs of the monotonic clock shared by every process. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n)

/** Notes that `stage` was reached now, for `tag` (a runner's log folder, a pane). */
export const markStage = (stage: string, tag: string): void => {
  if (!stageTraceEnabled || times.length >= MAX_MARKS) return
  stages.push(stage)
  tags.push(tag)
  times.push(monotonicMicros())
}

if (stageTraceEnabled && file !== undefined) {
  process.on("exit", () => {
    const lines = times.map((t, i) => JSON.stringify({ stage: stages[i], tag: tags[i], t }))
    writeFileSync(file, lines.length === 0 ? "" : `${lines.join("\n")}\n`)
  })
}
