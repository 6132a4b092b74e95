/**
 * The echo's milliseconds by name: the server writes a mark at each stage of a keystroke's
 * path when started with `GEPPETTO_STAGE_TRACE=FILE` (packages/runner/src/trace), the bench
 * notes when it sent each key and when the echo came back, on the same monotonic clock; each
 * key's stages are the first mark of each kind inside its window.
 */
import { readFileSync } from "node:fs"
import { median, round } from "../../../packages/runner/bench/stats.js"

/** The path of one keystroke, in order. */
export const STAGES = [
  { key: "ws.in", what: "server reads the input frame" },
  { key: "write.fiber", what: "the write's fiber runs (the Effect way only)" },
  { key: "cc.write", what: "written to the tmux control client" },
  {
    key: "log.wake",
    what: "the log folder's change seen (tmux → pipe-pane → split → inotify)",
  },
  { key: "log.read", what: "the echo read from the segment file" },
  { key: "ws.out", what: "the output frame handed to the socket" },
] as const

export interface KeyWindow {
  /** µs of the monotonic clock (`monotonicUs` of profile.ts, the same clock as the trace): the input frame sent, the echo received. */
  readonly sent: number
  readonly received: number
}

interface Mark {
  readonly stage: string
  readonly tag: string
  readonly t: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN)

export interface StageRow {
  readonly stage: string
  readonly what: string
  /** ms from the previous stage (the first: from the key sent), p50 and p99 over the keys. */
  readonly p50: number
  readonly p99: number
  readonly keys: number
}

/**
 * Per stage, the time since the stage before it, over every key whose window holds the
 * stage's mark; the last row is the socket out → echo received hop. `runnerId` keeps another
 * runner's marks (a flood) out of this runner's keys.
 */
export const stageTable = (
  file: string,
  runnerId: string,
  keys: ReadonlyArray<KeyWindow>,
): StageRow[] => {
  const marks: Mark[] = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Mark)
    .filter((m) => !m.stage.startsWith("log.") || m.tag.includes(runnerId))
    .filter((m) => !m.stage.startsWith("ws.") || m.tag === runnerId)
    .filter((m) => m.stage !== "write.fiber" || m.tag === runnerId)
    .filter((m) => !m.stage.startsWith("cc.") || m.tag === "send-keys")
    .sort((a, b) => a.t - b.t)
  const deltas = new Map<string, number[]>()
  const push = (stage: string, ms: number) => {
    const list = deltas.get(stage) ?? []
    list.push(ms)
    deltas.set(stage, list)
  }
  let from = 0
  for (const key of keys) {
    while (from < marks.length && (marks[from]?.t ?? 0) < key.sent) from++
    // A stage the key's path skipped (the fiber of the slow way) has no mark: the next one
    // is timed from the last stage that had one.
    let previous = key.sent
    let at = from
    for (const stage of STAGES) {
      let found = at
      while (found < marks.length && (marks[found]?.t ?? 0) <= key.received) {
        if (marks[found]?.stage === stage.key) break
        found++
      }
      const mark = marks[found]
      if (mark === undefined || mark.t > key.received || mark.stage !== stage.key) continue
      push(stage.key, (mark.t - previous) / 1000)
      previous = mark.t
      at = found
    }
    push("client", (key.received - previous) / 1000)
    // tmux's answer to the send-keys, beside the path (the echo does not wait for it).
    const write = marks.find((m, i) => i >= from && m.stage === "cc.write" && m.t <= key.received)
    const reply =
      write === undefined
        ? undefined
        : marks.find((m) => m.stage === "cc.reply" && m.t >= write.t && m.tag === write.tag)
    if (write !== undefined && reply !== undefined && reply.t - write.t < 1e6)
      push("cc.reply", (reply.t - write.t) / 1000)
  }
  const rows = [
    ...STAGES.map((s) => ({ stage: s.key, what: s.what })),
    { stage: "client", what: "the echo frame received by the viewer" },
    { stage: "cc.reply", what: "beside the path: tmux answered the send-keys (since cc.write)" },
  ]
  return rows.map(({ stage, what }) => {
    const list = [...(deltas.get(stage) ?? [])].sort((a, b) => a - b)
    return {
      stage,
      what,
      p50: round(median(list), 3),
      p99: round(percentile(list, 0.99), 3),
      keys: list.length,
    }
  })
}
