import { appendFileSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import type { LogStoreError } from "../src/domain/errors.js"
import type { LogChunk } from "../src/logs/log-cursor.js"
import { followLogChunks } from "../src/logs/log-feed.js"
import { segmentPrefix } from "../src/logs/segments.js"
import { eventually } from "./harness.js"

/** A log folder written by hand the way `split -b SIZE -d -a 6` writes it. */
const handLog = (segmentBytes: number) =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-feed-"))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    const prefix = segmentPrefix(0, segmentBytes)
    const nameOf = (index: number) => `${prefix}${String(index).padStart(6, "0")}`
    let written = 0
    writeFileSync(join(dir, nameOf(0)), "")
    /** Appends `text`, starting new segments as `split` does when one is full. */
    const write = (text: string) => {
      let rest = Buffer.from(text)
      while (rest.length > 0) {
        const index = Math.floor(written / segmentBytes)
        const room = segmentBytes - (written % segmentBytes)
        const piece = rest.subarray(0, room)
        appendFileSync(join(dir, nameOf(index)), piece)
        written += piece.length
        rest = rest.subarray(piece.length)
      }
    }
    const remove = (index: number) => unlinkSync(join(dir, nameOf(index)))
    return { dir, write, remove, nameOf }
  })

/** A follower that records what it is given. */
const recorder = () => {
  const chunks: LogChunk[] = []
  const errors: LogStoreError[] = []
  return {
    chunks,
    errors,
    text: () => Buffer.concat(chunks.map((c) => Buffer.from(c.bytes))).toString(),
    follower: {
      onChunk: (chunk: LogChunk) => {
        chunks.push(chunk)
      },
      onError: (error: LogStoreError) => {
        errors.push(error)
      },
    },
  }
}

const until = (check: () => boolean, what: string) =>
  eventually(() => (check() ? true : undefined), what, 3_000)

/** Offsets of consecutive chunks follow each other: no gap, no overlap. */
const contiguous = (chunks: ReadonlyArray<LogChunk>, from: number) => {
  let at = from
  for (const c of chunks) {
    if (c.offset !== at) return false
    at += c.bytes.length
  }
  return true
}

describe("shared log tail", () => {
  it.scopedLive("reads each write once for every follower at the head", () =>
    Effect.gen(function* () {
      const log = yield* handLog(1024 * 1024)
      log.write("before\n")
      const a = recorder()
      const b = recorder()
      yield* followLogChunks(log.dir, 7, a.follower)
      yield* followLogChunks(log.dir, 7, b.follower)
      // One write at a time, each delivered before the next: twenty separate wake-ups.
      let expected = ""
      for (let i = 0; i < 20; i++) {
        log.write(`line ${i}\n`)
        expected += `line ${i}\n`
        const sofar = expected
        yield* until(() => a.text() === sofar && b.text() === sofar, `line ${i} to both`)
      }
      expect(contiguous(a.chunks, 7)).toBe(true)
      // The same chunk objects: read from disk once, handed to both.
      expect(a.chunks.length).toBe(b.chunks.length)
      expect(a.chunks.every((c, i) => c === b.chunks[i])).toBe(true)
    }),
  )

  it.scopedLive("a viewer gets each chunk before the followers that joined ahead of it", () =>
    Effect.gen(function* () {
      const log = yield* handLog(1024 * 1024)
      const order: string[] = []
      const named = (name: string, viewer: boolean) => ({
        onChunk: (chunk: LogChunk) => {
          order.push(`${name}@${chunk.offset}`)
        },
        ...(viewer ? { viewer: true } : {}),
      })
      yield* followLogChunks(log.dir, 0, named("counter", false))
      yield* followLogChunks(log.dir, 0, named("detector", false))
      yield* followLogChunks(log.dir, 0, named("viewer", true))
      log.write("echo")
      yield* until(() => order.length === 3, "the chunk to all three")
      expect(order).toEqual(["viewer@0", "counter@0", "detector@0"])
    }),
  )

  it.scopedLive("a follower from an old offset reads the backlog from disk, then goes live", () =>
    Effect.gen(function* () {
      const log = yield* handLog(4096)
      const head = recorder()
      yield* followLogChunks(log.dir, 0, head.follower)
      const early = "x".repeat(10_000)
      log.write(early)
      yield* until(() => head.text() === early, "the head follower")
      const late = recorder()
      yield* followLogChunks(log.dir, 100, late.follower)
      log.write("and more\n")
      yield* until(() => late.text() === `${early.slice(100)}and more\n`, "the late follower")
      expect(contiguous(late.chunks, 100)).toBe(true)
      expect(head.text()).toBe(`${early}and more\n`)
    }),
  )

  it.scopedLive("across many segments the bytes stay contiguous, also in one burst", () =>
    Effect.gen(function* () {
      const log = yield* handLog(1000)
      const r = recorder()
      yield* followLogChunks(log.dir, 0, r.follower)
      let expected = ""
      for (let i = 0; i < 300; i++) {
        const line = `${i}:${"abcdefghij".repeat(i % 7)}\n`
        expected += line
        log.write(line)
      }
      yield* until(() => r.text().length === expected.length, "every byte")
      expect(r.text()).toBe(expected)
      expect(contiguous(r.chunks, 0)).toBe(true)
    }),
  )

  it.scopedLive("pause holds delivery; resume sends the missed bytes, in order, once", () =>
    Effect.gen(function* () {
      const log = yield* handLog(4096)
      const r = recorder()
      const other = recorder()
      const sub = yield* followLogChunks(log.dir, 0, r.follower)
      yield* followLogChunks(log.dir, 0, other.follower)
      log.write("one\n")
      yield* until(() => r.text() === "one\n", "the first line")
      sub.pause()
      expect(sub.paused()).toBe(true)
      log.write("two\n".repeat(2000))
      yield* until(() => other.text().length === 4 + 8000, "the other follower")
      expect(r.text()).toBe("one\n")
      sub.resume()
      log.write("three\n")
      yield* until(() => r.text().endsWith("three\n"), "the missed bytes and more")
      expect(r.text()).toBe(`one\n${"two\n".repeat(2000)}three\n`)
      expect(contiguous(r.chunks, 0)).toBe(true)
    }),
  )

  it.scopedLive("end() is the log's end also while its only follower is paused", () =>
    Effect.gen(function* () {
      const log = yield* handLog(4096)
      const r = recorder()
      const sub = yield* followLogChunks(log.dir, 0, r.follower)
      log.write("one\n")
      yield* until(() => r.text() === "one\n", "the first line")
      sub.pause()
      log.write("x".repeat(10_000))
      // Nobody reads at the head now; the end still counts every byte (a slow viewer of a
      // pane nothing else follows is measured against it to be skipped forward).
      expect(sub.end()).toBe(10_004)
      // Once a live follower has been handed those bytes, the paused one still has none.
      const live = recorder()
      yield* followLogChunks(log.dir, 0, live.follower)
      yield* until(() => live.text().length === 10_004, "a live follower")
      expect(r.text()).toBe("one\n")
      sub.resume()
      yield* until(() => r.text().length === 10_004, "the rest after resume")
      expect(contiguous(r.chunks, 0)).toBe(true)
    }),
  )

  it.scopedLive("catchUp delivers what is written (up to 4 MiB) before it returns", () =>
    Effect.gen(function* () {
      const log = yield* handLog(4096)
      const r = recorder()
      const sub = yield* followLogChunks(log.dir, 0, r.follower)
      log.write("at once\n")
      sub.catchUp()
      expect(r.text()).toBe("at once\n")
      expect(sub.position()).toBe(8)
    }),
  )

  it.scopedLive("a paused follower whose bytes retention deleted resumes at the oldest kept", () =>
    Effect.gen(function* () {
      const log = yield* handLog(1000)
      const r = recorder()
      const keeper = recorder()
      const sub = yield* followLogChunks(log.dir, 0, r.follower)
      yield* followLogChunks(log.dir, 0, keeper.follower)
      sub.pause()
      log.write("a".repeat(3500))
      yield* until(() => keeper.text().length === 3500, "the keeper")
      log.remove(0)
      log.remove(1)
      sub.resume()
      yield* until(() => r.text().length === 1500, "the kept bytes")
      expect(r.chunks[0]?.offset).toBe(2000)
      expect(contiguous(r.chunks, 2000)).toBe(true)
    }),
  )

  it.scopedLive("a follower that throws is dropped with an error; the others go on", () =>
    Effect.gen(function* () {
      const log = yield* handLog(4096)
      const errors: LogStoreError[] = []
      yield* followLogChunks(log.dir, 0, {
        onChunk: () => {
          throw new Error("broken viewer")
        },
        onError: (e) => {
          errors.push(e)
        },
      })
      const r = recorder()
      yield* followLogChunks(log.dir, 0, r.follower)
      log.write("one\n")
      yield* until(() => errors.length === 1 && r.text() === "one\n", "the error and the bytes")
      log.write("two\n")
      yield* until(() => r.text() === "one\ntwo\n", "the next write")
      expect(errors).toHaveLength(1)
      expect(errors[0]?.message).toContain("a log follower failed")
    }),
  )

  it.scopedLive("closing the last follower stops the tail; a new one starts at the end", () =>
    Effect.gen(function* () {
      const log = yield* handLog(4096)
      const scope = yield* Scope.make()
      const r = recorder()
      yield* followLogChunks(log.dir, 0, r.follower).pipe(Scope.extend(scope))
      log.write("one\n")
      yield* until(() => r.text() === "one\n", "the first write")
      yield* Scope.close(scope, Exit.void)
      log.write("two\n")
      const again = recorder()
      const sub = yield* followLogChunks(log.dir, 8, again.follower)
      expect(sub.end()).toBe(statSync(join(log.dir, log.nameOf(0))).size)
      log.write("three\n")
      yield* until(() => again.text() === "three\n", "the new follower")
      // Both writes came after the old follower left; the new one has had them delivered.
      expect(r.text()).toBe("one\n")
    }),
  )
})
