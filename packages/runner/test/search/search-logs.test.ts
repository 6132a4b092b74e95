import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream, TestClock } from "effect"
import { afterEach, beforeEach } from "vitest"
import { segmentPrefix } from "../../src/logs/segments.js"
import { type LogSearchEvent, searchLogs } from "../../src/search/search-logs.js"

let dataDir = ""
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "geppetto-search-"))
  mkdirSync(join(dataDir, "runners"))
})
afterEach(() => rmSync(dataDir, { recursive: true, force: true }))

/** Writes `log` as `split -b size` would from offset `base`; returns the folder. */
const writeLog = (id: string, log: Buffer, size: number, base = 0) => {
  const dir = join(dataDir, "runners", id)
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i * size < log.length; i++) {
    const name = `${segmentPrefix(base, size)}${String(i).padStart(6, "0")}`
    writeFileSync(join(dir, name), log.subarray(i * size, (i + 1) * size))
  }
  return dir
}

const collect = (stream: Stream.Stream<LogSearchEvent>) =>
  Effect.map(Stream.runCollect(stream), (c) => Chunk.toReadonlyArray(c))

const options = { limit: 100, timeBudgetMs: 2000 }

describe("searchLogs", () => {
  it.effect("finds hits across segment boundaries, in every runner, with exact offsets", () =>
    Effect.gen(function* () {
      const one = Buffer.from("boot\nall \x1b[32mtes\x1b[0mts passed\nbye\n")
      const two = Buffer.from("nothing here\nTESTS PASSED again\n")
      // Segments of 7 bytes: "tests passed" spans three of them; a second generation at 700.
      const a = writeLog("a", one, 7)
      const b = writeLog("b", two, 5, 700)
      const events = yield* collect(
        searchLogs(
          [
            { runnerId: "a", name: "alpha", logDir: a },
            { runnerId: "b", name: "beta", logDir: b },
          ],
          { ...options, query: "Tests passed" },
        ),
      )
      expect(events).toEqual([
        {
          _tag: "Hit",
          runnerId: "a",
          name: "alpha",
          offset: one.indexOf("tes"),
          line: "all tests passed",
        },
        {
          _tag: "Hit",
          runnerId: "b",
          name: "beta",
          offset: 700 + two.indexOf("TESTS"),
          line: "TESTS PASSED again",
        },
        {
          _tag: "End",
          truncated: false,
          timedOut: false,
          scannedBytes: one.length + two.length,
        },
      ])
    }),
  )

  it.effect("stops at the limit with truncated", () =>
    Effect.gen(function* () {
      const dir = writeLog("a", Buffer.from("hit\n".repeat(50)), 16)
      const events = yield* collect(
        searchLogs([{ runnerId: "a", name: "a", logDir: dir }], {
          ...options,
          query: "hit",
          limit: 3,
        }),
      )
      expect(
        events.filter((e) => e._tag === "Hit").map((e) => e._tag === "Hit" && e.offset),
      ).toEqual([0, 4, 8])
      expect(events.at(-1)).toMatchObject({ _tag: "End", truncated: true, timedOut: false })
    }),
  )

  it.effect("stops when the time budget runs out (TestClock), with what it found", () =>
    Effect.gen(function* () {
      const dir = writeLog("a", Buffer.from("needle\n".repeat(10)), 1024)
      // One line per read, so one hit per step; each hit moves the clock a second on.
      const events = yield* collect(
        searchLogs([{ runnerId: "a", name: "a", logDir: dir }], {
          ...options,
          query: "needle",
          timeBudgetMs: 2500,
          readBytes: 7,
        }).pipe(Stream.tap(() => TestClock.adjust("1 second"))),
      )
      expect(events.filter((e) => e._tag === "Hit")).toHaveLength(3)
      expect(events.at(-1)).toMatchObject({ _tag: "End", truncated: false, timedOut: true })
    }),
  )

  it.effect("never follows a symlink: a linked log folder or segment is not read", () =>
    Effect.gen(function* () {
      const outside = mkdtempSync(join(tmpdir(), "geppetto-outside-"))
      try {
        const secret = writeLog("real", Buffer.from("secret token\n"), 64)
        const linkedDir = join(dataDir, "runners", "linked")
        symlinkSync(secret, linkedDir)
        const withLink = join(dataDir, "runners", "segment-link")
        mkdirSync(withLink)
        writeFileSync(join(outside, "x"), "secret token\n")
        symlinkSync(join(outside, "x"), join(withLink, `${segmentPrefix(0, 64)}000000`))
        const events = yield* collect(
          searchLogs(
            [
              { runnerId: "linked", name: "l", logDir: linkedDir },
              { runnerId: "segment-link", name: "s", logDir: withLink },
            ],
            { ...options, query: "secret" },
          ),
        )
        expect(events).toEqual([
          { _tag: "End", truncated: false, timedOut: false, scannedBytes: 0 },
        ])
      } finally {
        rmSync(outside, { recursive: true, force: true })
      }
    }),
  )
})

describe("searchLogs reads", () => {
  it.effect("finds a match split across segments and reads, at every read size", () =>
    Effect.gen(function* () {
      const log = Buffer.from(`${"pad ".repeat(20)}seg\x1b[1mment boundary\nSEGMENT BOUNDARY\n`)
      const dir = writeLog("a", log, 13, 130)
      for (const readBytes of [1, 3, 13, 64, 1 << 20]) {
        const events = yield* collect(
          searchLogs([{ runnerId: "a", name: "a", logDir: dir }], {
            ...options,
            query: "segment boundary",
            readBytes,
          }),
        )
        expect(
          events.flatMap((e) => (e._tag === "Hit" ? [e.offset] : [])),
          `reads of ${readBytes}`,
        ).toEqual([130 + log.indexOf("seg"), 130 + log.indexOf("SEGMENT")])
        expect(events.at(-1)).toMatchObject({ scannedBytes: log.length })
      }
    }),
  )

  it.effect("treats a segment deleted by retention as a gap: no match across it", () =>
    Effect.gen(function* () {
      const log = Buffer.from("xxxxxxneXXXXedle\nneedle\n")
      const dir = writeLog("a", log, 4)
      rmSync(join(dir, `${segmentPrefix(0, 4)}000002`)) // "xxxxxxne" | gap | "edle"
      const events = yield* collect(
        searchLogs([{ runnerId: "a", name: "a", logDir: dir }], { ...options, query: "needle" }),
      )
      expect(events.flatMap((e) => (e._tag === "Hit" ? [e.offset] : []))).toEqual([
        log.lastIndexOf("needle"),
      ])
      expect(events.at(-1)).toMatchObject({ scannedBytes: log.length - 4 })
    }),
  )
})
