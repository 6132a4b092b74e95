import { describe, expect, it } from "vitest"
import {
  findSegment,
  parseSegmentName,
  segmentPrefix,
  segmentsToPrune,
  sortSegments,
} from "../src/logs/segments.js"

const name = (base: number, size: number, index: number) =>
  `${segmentPrefix(base, size)}${String(index).padStart(6, "0")}`

describe("segment names", () => {
  it("round-trip and give each file its absolute offset", () => {
    expect(parseSegmentName(name(0, 100, 0))).toMatchObject({ start: 0 })
    expect(parseSegmentName(name(0, 100, 7))).toMatchObject({ start: 700 })
    // A restarted writer's generation starts at the old end.
    expect(parseSegmentName(name(750, 100, 2))).toMatchObject({ start: 950 })
    for (const bad of ["exit", "out-1-2-3", "out-000000000000000-0-000000", "out-x"]) {
      expect(parseSegmentName(bad)).toBeUndefined()
    }
  })

  it("sort by offset across generations and ignore other files", () => {
    const sorted = sortSegments(["exit", name(750, 100, 0), name(0, 100, 7), name(0, 100, 1)])
    expect(sorted.map((s) => s.start)).toEqual([100, 700, 750])
  })
})

describe("findSegment", () => {
  const segments = sortSegments([name(0, 100, 0), name(0, 100, 1), name(250, 100, 0)])
  const lengths = new Map([
    [name(0, 100, 0), 100],
    [name(0, 100, 1), 50], // the first writer stopped at 150 ...
    [name(250, 100, 0), 10], // ... and its successor started at 250 (bytes 150-250 were lost)
  ])
  it("finds the file holding an offset, or the next one after a gap", () => {
    expect(findSegment(segments, lengths, 0)?.start).toBe(0)
    expect(findSegment(segments, lengths, 99)?.start).toBe(0)
    expect(findSegment(segments, lengths, 120)?.start).toBe(100)
    expect(findSegment(segments, lengths, 200)?.start).toBe(250)
    expect(findSegment(segments, lengths, 255)?.start).toBe(250)
    expect(findSegment(segments, lengths, 10_000)?.start).toBe(250)
  })
})

describe("segmentsToPrune", () => {
  const segments = sortSegments([0, 1, 2, 3].map((i) => name(0, 100, i)))
  const lengths = new Map(segments.map((s, i) => [s.name, i === 3 ? 40 : 100]))
  it("deletes the oldest whole segments past the cap and never the newest", () => {
    expect(segmentsToPrune(segments, lengths, 1_000)).toEqual([])
    expect(segmentsToPrune(segments, lengths, 250)).toEqual([name(0, 100, 0)])
    expect(segmentsToPrune(segments, lengths, 140)).toEqual([name(0, 100, 0), name(0, 100, 1)])
    expect(segmentsToPrune(segments, lengths, 0)).toEqual(segments.slice(0, 3).map((s) => s.name))
  })
})
