// What output adds to a runner's state (bytes, lines, the last line of text): tallied in place
// per chunk, taken in when the state is next read.
import type { RunnerState } from "./runner-state.js"

const countNewlines = (bytes: Uint8Array): number => {
  let n = 0
  let i = bytes.indexOf(0x0a)
  while (i !== -1) {
    n++
    i = bytes.indexOf(0x0a, i + 1)
  }
  return n
}

// CSI (with private and intermediate bytes), OSC/DCS/APC/PM/SOS strings, and 2-byte escapes.
// Also what log search strips (search/scanner.ts).
export const ESCAPES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are control characters
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x1b[ -/][0-~]/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: what is left of other controls
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g
/** Only the tail of a chunk is read: the last line is short, and a flood costs nothing extra. */
const TAIL_BYTES = 4096
const MAX_LAST_LINE = 200

/**
 * The last non-blank line in `bytes`, as plain text: escape sequences dropped, a carriage
 * return keeps only what follows it (a spinner redrawing its line), at most 200 characters.
 * `undefined` when the chunk holds no visible text (a cursor move, a bare newline).
 */
export const lastLineOf = (bytes: Uint8Array): string | undefined => {
  const tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES))).toString("utf8")
  const lines = tail.replace(ESCAPES, "").split("\n")
  for (let i = lines.length - 1; i >= 0; i--) {
    const segments = (lines[i] ?? "").split("\r")
    for (let j = segments.length - 1; j >= 0; j--) {
      const text = (segments[j] ?? "").replace(CONTROLS, "").trim()
      if (text !== "") return text.slice(0, MAX_LAST_LINE)
    }
  }
  return undefined
}

/**
 * Output seen but not yet taken into a `RunnerState`. A busy runner adds every chunk here
 * (changing four numbers and a string in place), and its state takes the tally in when it is
 * next read: a new state object per chunk lived just long enough to be promoted out of V8's
 * young generation, and 100 runners grew the old one by a megabyte a second.
 */
export interface OutputTally {
  end: number
  lines: number
  lastLine: string | undefined
  /** When the last chunk was seen; `undefined` while the tally is empty. */
  at: number | undefined
}

export const emptyTally = (): OutputTally => ({
  end: 0,
  lines: 0,
  lastLine: undefined,
  at: undefined,
})

/** Adds output `bytes`, logged at `offset` and seen at `at`, to the tally (in place). */
export const tallyOutput = (t: OutputTally, offset: number, bytes: Uint8Array, at: number) => {
  t.end = Math.max(t.end, offset + bytes.length)
  t.lines += countNewlines(bytes)
  t.lastLine = lastLineOf(bytes) ?? t.lastLine
  t.at = at
}

/** The state with the tally taken in; the tally is left empty. */
export const takeTally = (s: RunnerState, t: OutputTally): RunnerState => {
  if (t.at === undefined) return s
  const lastLine = t.lastLine ?? s.lastLine
  const next: RunnerState = {
    ...s,
    ...(lastLine !== undefined ? { lastLine } : {}),
    metrics: {
      ...s.metrics,
      bytesOut: Math.max(s.metrics.bytesOut, t.end),
      lines: s.metrics.lines + t.lines,
      lastActivityAt: t.at,
    },
  }
  t.end = 0
  t.lines = 0
  t.lastLine = undefined
  t.at = undefined
  return next
}

/** Output `bytes` logged at `offset` and seen at `at`. */
export const applyOutput = (
  s: RunnerState,
  offset: number,
  bytes: Uint8Array,
  at: number,
): RunnerState => {
  const tally = emptyTally()
  tallyOutput(tally, offset, bytes, at)
  return takeTally(s, tally)
}
