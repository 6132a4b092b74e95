import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import {
  crc32,
  decodeJournal,
  decodeLine,
  encodeRecord,
  foldRecords,
  type JournalRecord,
} from "../../src/journal/records.js"

const runner = (seq: number, runnerId: string, data: Record<string, unknown>): JournalRecord => ({
  seq,
  at: 1_700_000_000_000 + seq,
  type: "runner",
  runnerId,
  data,
})
const removed = (seq: number, runnerId: string): JournalRecord => ({
  seq,
  at: 1_700_000_000_000 + seq,
  type: "removed",
  runnerId,
})

/** A line with a valid header and checksum around arbitrary JSON text. */
const framed = (json: string) => {
  const bytes = Buffer.from(json, "utf8")
  return `${crc32(bytes).toString(16).padStart(8, "0")} ${bytes.length} ${json}\n`
}

describe("journal records", () => {
  it("crc32 matches the IEEE check value", () => {
    expect(crc32(Buffer.from("123456789")).toString(16)).toBe("cbf43926")
  })

  it("round-trips runner and removed records, unicode and newlines in data included", () => {
    const records = [
      runner(0, "a", { status: "exited", exitCode: 0, prompt: "line1\nline2 ✓ 日本" }),
      removed(1, "a"),
      runner(2, "b", { nested: { list: [1, null, "x"] } }),
    ]
    const bytes = Buffer.concat(records.map(encodeRecord))
    // One line per record: newlines inside data are escaped by JSON.
    expect(bytes.toString("utf8").split("\n")).toHaveLength(4)
    const decoded = decodeJournal(bytes)
    expect(decoded.skipped).toEqual([])
    expect(decoded.tornTail).toBe(false)
    expect(decoded.records).toEqual(records)
  })

  it("skips a torn last line, a corrupt middle line and bad JSON or shapes, with reasons", () => {
    const good = [runner(0, "a", { n: 0 }), runner(1, "b", { n: 1 }), runner(2, "c", { n: 2 })]
    const lines = good.map((r) => encodeRecord(r).toString("utf8"))
    const corrupt = (lines[1] ?? "").replace('"n":1', '"n":7') // same length, wrong checksum
    const text = [
      lines[0],
      corrupt,
      framed("{not json"),
      framed(JSON.stringify({ seq: 3, at: 1, type: "started", runnerId: "d" })),
      framed(JSON.stringify({ seq: 4, at: 1, type: "runner", runnerId: "e" })), // no data
      "garbage without header\n",
      "0000000a 999 {}\n",
      "\n", // separator after a torn tail: not a record
      lines[2],
      (lines[2] ?? "").slice(0, 20), // torn: cut mid-write
    ].join("")
    const decoded = decodeJournal(Buffer.from(text, "utf8"))
    expect(decoded.records).toEqual([good[0], good[2]])
    expect(decoded.tornTail).toBe(true)
    expect(decoded.skipped.map((s) => s.line)).toEqual([2, 3, 4, 5, 6, 7, 10])
    const reasons = decoded.skipped.map((s) => s.reason)
    expect(reasons[0]).toBe("checksum mismatch")
    expect(reasons[1]).toMatch(/^bad JSON/)
    expect(reasons[2]).toMatch(/^bad shape/)
    expect(reasons[3]).toMatch(/^bad shape/)
    expect(reasons[4]).toBe("malformed header")
    expect(reasons[5]).toMatch(/^length mismatch/)
    expect(reasons[6]).toBe("torn last line (no newline)")
  })

  it("never throws on random bytes", () => {
    let seed = 42
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed
    }
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: next() % 300 }, () => next() % 256))
      const decoded = decodeJournal(bytes)
      expect(decoded.records.length + decoded.skipped.length).toBeGreaterThanOrEqual(0)
    }
    expect(Either.isLeft(decodeLine(Buffer.from("")))).toBe(true)
  })

  it("folds in file order: latest runner record wins, removed deletes", () => {
    const state = foldRecords([
      runner(0, "a", { v: 1 }),
      runner(1, "b", { v: 1 }),
      runner(2, "a", { v: 2 }),
      removed(3, "b"),
      runner(4, "c", { v: 1 }),
      removed(5, "missing"),
    ])
    expect([...state.keys()]).toEqual(["a", "c"])
    expect(state.get("a")?.data).toEqual({ v: 2 })
  })
})
