import { describe, expect, it } from "vitest"
import { foldCase, LogScanner, type ScanHit } from "../../src/search/scanner.js"

const bytes = (s: string) => Buffer.from(s, "utf8")

/** Feeds `log` to a scanner in pieces of `size` bytes; returns every hit. */
const scanInPieces = (query: string, log: Buffer, size: number, base = 0): ScanHit[] => {
  const scanner = new LogScanner(query)
  const hits: ScanHit[] = []
  for (let at = 0; at < log.length; at += size) {
    hits.push(...scanner.push(base + at, log.subarray(at, at + size)))
  }
  hits.push(...scanner.finish())
  return hits
}

describe("LogScanner", () => {
  it("finds a literal case-insensitively, at the offset of its first byte", () => {
    const log = bytes("first line\nThe Needle is here\nno match\nneedle again, NEEDLE\n")
    const hits = scanInPieces("needle", log, log.length, 1000)
    expect(hits.map((h) => h.offset - 1000)).toEqual([
      log.indexOf("Needle"),
      log.indexOf("needle again"),
      log.indexOf("NEEDLE"),
    ])
    expect(hits.map((h) => h.line)).toEqual([
      "The Needle is here",
      "needle again, NEEDLE",
      "needle again, NEEDLE",
    ])
  })

  it("is literal: pattern characters are plain text", () => {
    const log = bytes("a.b a+b (x) [y]\nacb\n")
    expect(scanInPieces("a.b", log, 64).map((h) => h.offset)).toEqual([0])
    expect(scanInPieces("[y]", log, 64).map((h) => h.offset)).toEqual([log.indexOf("[y]")])
  })

  it("finds a word split by colour codes, at the first byte of its text", () => {
    const log = bytes("\x1b[1mbuild \x1b[31mfai\x1b[0;1mled\x1b[0m after 3s\r\n")
    const hits = scanInPieces("failed", log, log.length)
    expect(hits).toEqual([{ offset: log.indexOf("fai"), line: "build failed after 3s" }])
  })

  it("finds a match split by every possible chunk boundary (and a segment's)", () => {
    const log = bytes(`${"x".repeat(50)}\x1b]0;title\x07 colo\x1b[32mured Wörd here\nnext\n`)
    const offset = log.indexOf("colo")
    for (let size = 1; size <= log.length; size++) {
      const hits = scanInPieces("COLOURED wörd", log, size)
      expect(
        hits.map((h) => h.offset),
        `pieces of ${size}`,
      ).toEqual([offset])
    }
  })

  it("cuts an overlong line to a window around the match", () => {
    const log = bytes(`${"a".repeat(1000)} needle ${"b".repeat(1000)}\n`)
    const [hit] = scanInPieces("needle", log, 100)
    expect(hit?.offset).toBe(1001)
    expect(hit?.line.length).toBeLessThanOrEqual(242)
    expect(hit?.line).toContain("needle")
    expect(hit?.line.startsWith("…")).toBe(true)
    expect(hit?.line.endsWith("…")).toBe(true)
  })

  it("holds at most one line of maxLineBytes: a newline-free flood is scanned in windows, each hit once", () => {
    const scanner = new LogScanner("marker", { maxLineBytes: 4096, overlapBytes: 256 })
    const piece = bytes(`${"z".repeat(1000)}\x1b[2Kmar\x1b[1mker`)
    const hits: ScanHit[] = []
    let held = 0
    for (let i = 0; i < 2000; i++) {
      hits.push(...scanner.push(i * piece.length, piece))
      held = Math.max(held, scanner.heldBytes)
    }
    hits.push(...scanner.finish())
    expect(held).toBeLessThanOrEqual(4096 + piece.length)
    expect(hits.length).toBe(2000)
    expect(hits.map((h) => h.offset)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i * piece.length + 1004),
    )
  })

  it("ends the line at a gap (retention deleted bytes): no match across it", () => {
    const scanner = new LogScanner("ab")
    const hits = [
      ...scanner.push(0, bytes("xa")),
      ...scanner.push(10, bytes("b\n")),
      ...scanner.finish(),
    ]
    expect(hits).toEqual([])
  })

  it("folds case index for index", () => {
    expect(foldCase("ÄBC")).toBe("äbc")
    const odd = "xİy"
    expect(foldCase(odd).length).toBe(odd.length)
  })
})
