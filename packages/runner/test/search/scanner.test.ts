import { describe, expect, it } from "vitest"
import { foldCase, LAST_CASED, LogScanner, type ScanHit } from "../../src/search/scanner.js"
import { ReferenceScanner } from "./reference-scanner.js"

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

/** The same with the scanner before (the reference). */
const scanReference = (query: string, log: Buffer, size: number): ScanHit[] => {
  const scanner = new ReferenceScanner(query)
  const hits: ScanHit[] = []
  for (let at = 0; at < log.length; at += size)
    hits.push(...scanner.push(at, log.subarray(at, at + size)))
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

/** A small deterministic generator (mulberry32): the same logs on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Text pieces a log holds, and what a terminal puts between them (valid UTF-8 only). */
const WORDS = ["build", "Failed", "PASS", "wörd", "ÄBC", "日本語", "😀ok", "oK", "İstanbul", "ΟΔΟΣ"]
const NOISE = [
  "\x1b[31m",
  "\x1b[0;1m",
  "\x1b[38;5;208m",
  "\x1b[2K",
  "\x1b(B",
  "\x1b=",
  "\x1b",
  "\x1b]0;title Failed\x07",
  "\x1b]8;;http://x\x1b\\",
  "\x1b]0;open",
  "\x1bPq#0;2\n-\x1b\\",
  "\x00",
  "\x08",
  "\x7f",
  "\t",
  "\r",
  "\n",
  "\r\n",
  " ",
]

const makeLog = (next: () => number, pieces: number): Buffer => {
  const pick = <T>(list: ReadonlyArray<T>): T => list[Math.floor(next() * list.length)] as T
  let out = ""
  for (let i = 0; i < pieces; i++) {
    const word = pick(WORDS)
    if (next() < 0.3) {
      // A sequence inside the word, between two of its characters.
      const chars = [...word]
      const cut = 1 + Math.floor(next() * (chars.length - 1))
      out += chars.slice(0, cut).join("") + pick(NOISE) + chars.slice(cut).join("")
    } else out += word
    out += pick(NOISE)
  }
  return bytes(out)
}

/** Feeds `log` in pieces of random sizes up to `most`; the same pieces to both scanners. */
const both = (query: string, log: Buffer, next: () => number, most: number) => {
  const fast = new LogScanner(query)
  const reference = new ReferenceScanner(query)
  const got: ScanHit[] = []
  const want: ScanHit[] = []
  for (let at = 0; at < log.length; ) {
    const size = 1 + Math.floor(next() * most)
    got.push(...fast.push(at, log.subarray(at, at + size)))
    want.push(...reference.push(at, log.subarray(at, at + size)))
    at += size
  }
  got.push(...fast.finish())
  want.push(...reference.finish())
  return { got, want }
}

describe("LogScanner against the reference (the whole window decoded, stripped and folded)", () => {
  it("finds the same hits at the same offsets with the same lines, over generated logs", () => {
    const next = random(18)
    const queries = [
      "failed",
      "ld fa",
      "wörd",
      "äbc",
      "日本",
      "😀o",
      "ok",
      "istanbul",
      "οδος",
      "x1",
    ]
    let compared = 0
    // The last rounds' logs are long: a query's characters are in a window so often that it
    // is matched whole (not from the places of a rare one).
    for (let round = 0; round < 66; round++) {
      const long = round >= 60
      const log = makeLog(next, long ? 6000 : 40 + Math.floor(next() * 200))
      for (const query of queries) {
        const most = long ? 30_000 : round % 3 === 0 ? 7 : 4096
        const { got, want } = both(query, log, next, most)
        expect(got, `round ${round}, ${JSON.stringify(query)}`).toEqual(want)
        compared += want.length
      }
    }
    expect(compared).toBeGreaterThan(1000)
  })

  it("finds the same hits in windows of lines pushed in 256 KiB chunks (the search's reads)", () => {
    const next = random(7)
    const lines: string[] = []
    for (let size = 0; size < 600_000; ) {
      const line = `${"x".repeat(Math.floor(next() * 90))} \x1b[32mbui\x1b[1mld\x1b[0m Fai${next() < 0.5 ? "\x1b[31m" : ""}led ✓\r\n`
      lines.push(line)
      size += Buffer.byteLength(line)
    }
    const log = bytes(lines.join(""))
    const chunk = 256 * 1024
    for (const query of ["build failed", "FAILED ✓"]) {
      const fast = new LogScanner(query)
      const reference = new ReferenceScanner(query)
      const got: ScanHit[] = []
      const want: ScanHit[] = []
      for (let at = 0; at < log.length; at += chunk) {
        got.push(...fast.push(at, log.subarray(at, at + chunk)))
        want.push(...reference.push(at, log.subarray(at, at + chunk)))
      }
      got.push(...fast.finish())
      want.push(...reference.finish())
      expect(want.length).toBe(lines.length)
      expect(got).toEqual(want)
    }
  })
})

describe("LogScanner edges", () => {
  it("finds a match that a 32 KiB window's edge cuts, on a line longer than a window", () => {
    const edge = 32 * 1024
    for (const before of [edge - 3, edge - 9, edge + 1]) {
      // "nee" then a colour code then "dle": the window's edge falls inside it or just after.
      const log = bytes(`short\n${"y".repeat(before - 6)}nee\x1b[1mdle ${"z".repeat(9000)}\nend\n`)
      const want = scanReference("needle", log, log.length)
      expect(want.map((h) => h.offset)).toEqual([log.indexOf("nee")])
      expect(scanInPieces("needle", log, log.length)).toEqual(want)
      expect(scanInPieces("needle", log, 1000)).toEqual(want)
    }
  })

  it("finds a match split by an escape sequence that a chunk boundary also cuts", () => {
    const log = bytes("say fai\x1b[38;5;208mled now\n")
    const esc = log.indexOf(0x1b)
    for (let cut = esc; cut <= esc + 11; cut++) {
      const scanner = new LogScanner("FAILED")
      const hits = [
        ...scanner.push(0, log.subarray(0, cut)),
        ...scanner.push(cut, log.subarray(cut)),
        ...scanner.finish(),
      ]
      expect(hits, `cut at ${cut}`).toEqual([{ offset: 4, line: "say failed now" }])
    }
  })

  it("finds a UTF-8 query whose characters a chunk boundary cuts, at its first byte", () => {
    const log = bytes("ab 日本語 ok 日本\x1b[1m語\n")
    for (let size = 1; size <= 8; size++) {
      expect(scanInPieces("日本語", log, size).map((h) => h.offset)).toEqual([
        3,
        log.lastIndexOf("日本"),
      ])
    }
  })

  it("folds non-ASCII case both ways, and KELVIN SIGN to k", () => {
    const log = bytes("äbc ÄBC\nok o\u212a OK\n")
    expect(scanInPieces("ÄbC", log, 5).map((h) => h.offset)).toEqual([0, log.indexOf("ÄBC")])
    expect(scanInPieces("ok", log, 5).map((h) => h.offset)).toEqual([
      log.indexOf("ok"),
      log.indexOf("o\u212a"),
      log.indexOf("OK"),
    ])
  })

  it("does not find text inside a sequence: a title, or a colour's parameters", () => {
    const log = bytes("\x1b]0;needle\x07\x1b[38;5;208m plain\n")
    expect(scanInPieces("needle", log, 4)).toEqual([])
    expect(scanInPieces("5;208", log, 4)).toEqual([])
    expect(scanInPieces("plain", log, 4).map((h) => h.offset)).toEqual([log.indexOf("plain")])
  })

  it("finds a match across lines that a string (OSC) joins, as the whole window would", () => {
    const log = bytes("one\nfo\x1b]0;a\nb\nc\x07o bar\nfoo\n")
    expect(scanInPieces("foo bar", log, log.length)).toEqual([{ offset: 4, line: "foo bar" }])
  })

  it("finds a match whose rare character is on a later line than its start, a DCS joining them", () => {
    // The candidate pattern starts at the query's rarest character (z), on the DCS's last line.
    const log = bytes("one\nfo\x1bPq;\n-\x1b\\xz done\n")
    // In one window: a string left open at a window's end ends there (then no hit).
    const want = scanReference("FOXZ", log, log.length)
    expect(want).toEqual([{ offset: 4, line: "foxz done" }])
    expect(scanInPieces("FOXZ", log, log.length)).toEqual(want)
  })

  it("gives exact offsets after bytes that are not UTF-8, on the line and after it", () => {
    const invalid = [
      [0xff],
      [0xc3],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
    ]
    for (const bad of invalid) {
      const log = Buffer.concat([
        bytes("bad "),
        Buffer.from(bad),
        bytes(" needle x\nthe "),
        Buffer.from(bad),
        bytes("needle\n"),
      ])
      const at = log.indexOf("needle")
      expect(
        scanInPieces("needle", log, log.length).map((h) => h.offset),
        JSON.stringify(bad),
      ).toEqual([at, log.indexOf("needle", at + 1)])
    }
  })

  it("ends on a newline-free flood of bytes that are not UTF-8 (no endless cut-back)", () => {
    const scanner = new LogScanner("needle", { maxLineBytes: 4096, overlapBytes: 256 })
    const binary = Buffer.alloc(50_000, 0x80)
    let held = 0
    const hits: ScanHit[] = []
    for (let i = 0; i < 4; i++) {
      hits.push(...scanner.push(i * binary.length, binary))
      held = Math.max(held, scanner.heldBytes)
    }
    hits.push(...scanner.push(4 * binary.length, bytes("needle\n")))
    expect(held).toBeLessThanOrEqual(4096 + 32 * 1024)
    expect(hits.map((h) => h.offset)).toEqual([4 * binary.length])
  })

  it("knows every case mapping: no character at or above LAST_CASED has a lower case", () => {
    const changed: number[] = []
    for (let cp = LAST_CASED; cp <= 0x10ffff; cp++) {
      const ch = String.fromCodePoint(cp)
      if (ch.toLowerCase() !== ch) changed.push(cp)
    }
    expect(changed).toEqual([])
    // The scanner folds ASCII without its table: only KELVIN SIGN folds into ASCII.
    const intoAscii: number[] = []
    for (let cp = 0x80; cp < LAST_CASED; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue
      const ch = String.fromCodePoint(cp)
      if (foldCase(ch).charCodeAt(0) < 0x80) intoAscii.push(cp)
    }
    expect(intoAscii).toEqual([0x212a])
  })
})
