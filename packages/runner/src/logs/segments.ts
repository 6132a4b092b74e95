/**
 * Segment files of a rolling log. A writer generation starts at byte `base` and writes
 * fixed-size pieces named `out-BASE-SIZE-NNNNNN` (what `split -b SIZE -d -a 6` makes from
 * the prefix `out-BASE-SIZE-`), so every file's absolute offset follows from its name:
 * `base + index * size`. A restarted writer starts a new generation at the old end, so
 * offsets stay stable across rotations, retention and writer restarts.
 */
export interface Segment {
  readonly name: string
  readonly base: number
  readonly size: number
  readonly index: number
  /** Absolute offset of the segment's first byte. */
  readonly start: number
}

const SEGMENT_NAME = /^out-(\d{15})-(\d{1,12})-(\d{6})$/

export const segmentPrefix = (base: number, size: number): string =>
  `out-${String(base).padStart(15, "0")}-${size}-`

export const parseSegmentName = (name: string): Segment | undefined => {
  const match = SEGMENT_NAME.exec(name)
  if (match === null) return undefined
  const base = Number(match[1])
  const size = Number(match[2])
  const index = Number(match[3])
  if (size <= 0) return undefined
  return { name, base, size, index, start: base + index * size }
}

/** Segments in offset order; files that are not segments are ignored. */
export const sortSegments = (names: ReadonlyArray<string>): ReadonlyArray<Segment> =>
  names
    .map(parseSegmentName)
    .filter((s): s is Segment => s !== undefined)
    .sort((a, b) => a.start - b.start || a.base - b.base)

/** The segment holding `offset`, given each segment's current length. */
export const findSegment = (
  segments: ReadonlyArray<Segment>,
  lengths: ReadonlyMap<string, number>,
  offset: number,
): Segment | undefined => {
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]
    if (segment === undefined) continue
    if (segment.start <= offset) {
      const length = lengths.get(segment.name) ?? 0
      return offset < segment.start + Math.max(length, 1) || i === segments.length - 1
        ? segment
        : segments[i + 1]
    }
  }
  return segments[0]
}

/** Names of the oldest segments to delete so that at most `retainBytes` stay (never the newest). */
export const segmentsToPrune = (
  segments: ReadonlyArray<Segment>,
  lengths: ReadonlyMap<string, number>,
  retainBytes: number,
): ReadonlyArray<string> => {
  let total = 0
  for (const s of segments) total += lengths.get(s.name) ?? 0
  const doomed: string[] = []
  for (const s of segments.slice(0, -1)) {
    if (total <= retainBytes) break
    total -= lengths.get(s.name) ?? 0
    doomed.push(s.name)
  }
  return doomed
}
