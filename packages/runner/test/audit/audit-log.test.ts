import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Logger, LogLevel, Stream, TestClock } from "effect"
import {
  AUDIT_DETAIL_MAX,
  AUDIT_USER_MAX,
  type AuditAction,
  type AuditInput,
  cutText,
  decodeAuditLine,
  inputBurst,
} from "../../src/audit/index.js"
import { auditDir, segmentNames, tempDir, trailBytes, withAudit } from "./support.js"

const hasControl = (text: string) =>
  Array.from(text).some((c) => {
    const code = c.codePointAt(0) ?? 0
    return code < 0x20 || (code >= 0x7f && code <= 0x9f)
  })

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

const entry = (user: string, action: AuditAction, runnerId?: string, detail?: string) =>
  ({
    user,
    action,
    ...(runnerId === undefined ? {} : { runnerId }),
    ...(detail === undefined ? {} : { detail }),
  }) satisfies AuditInput

/** Lines of the whole trail, each decoded; fails the test on any bad line. */
const decodedLines = (dataDir: string) => {
  const bytes = trailBytes(dataDir)
  expect(bytes.at(-1)).toBe(0x0a)
  const lines = bytes.subarray(0, -1).toString("latin1").split("\n")
  return lines.map((line) => {
    const decoded = decodeAuditLine(Buffer.from(line, "latin1"))
    if (Either.isLeft(decoded)) throw new Error(`bad line: ${decoded.left}`)
    return decoded.right
  })
}

describe("AuditLog record and query", () => {
  it.live("returns entries newest first, filtered and limited", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const inputs = [
        entry("alice", "login"),
        entry("alice", "runner.start", "r1", "claude in ~/src/app"),
        entry("bob", "runner.pause", "r1"),
        inputBurst({ user: "alice", runnerId: "r2", bytes: 12 }),
        entry("bob", "workspace.merge", "r2", "geppetto/r2 into main"),
        entry("carol", "login.failed"),
        entry("alice", "runner.terminate", "r1"),
      ]
      const result = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          for (const input of inputs) yield* audit.record(input)
          const all = yield* audit.query({})
          const byUser = yield* audit.query({ user: "alice" })
          const byRunner = yield* audit.query({ runnerId: "r1" })
          const byAction = yield* audit.query({ action: "login.failed" })
          const both = yield* audit.query({ user: "alice", runnerId: "r1" })
          const limited = yield* audit.query({ limit: 2 })
          const since = yield* audit.query({ since: all.entries[2]?.at ?? 0 })
          const none = yield* audit.query({ user: "mallory" })
          return { all, byUser, byRunner, byAction, both, limited, since, none }
        }),
      )
      const actions = (r: { entries: ReadonlyArray<{ action: string }> }) =>
        r.entries.map((e) => e.action)
      expect(actions(result.all)).toEqual(inputs.map((i) => i.action).reverse())
      expect(result.all.skipped).toBe(0)
      const times = result.all.entries.map((e) => e.at)
      expect(times).toEqual([...times].sort((a, b) => b - a))
      expect(result.all.entries[3]).toEqual({
        at: expect.any(Number),
        user: "alice",
        action: "runner.input",
        runnerId: "r2",
        detail: "12 bytes",
      })
      expect(actions(result.byUser)).toEqual([
        "runner.terminate",
        "runner.input",
        "runner.start",
        "login",
      ])
      expect(actions(result.byRunner)).toEqual(["runner.terminate", "runner.pause", "runner.start"])
      expect(result.byAction.entries.map((e) => e.user)).toEqual(["carol"])
      expect(actions(result.both)).toEqual(["runner.terminate", "runner.start"])
      expect(actions(result.limited)).toEqual(["runner.terminate", "login.failed"])
      // Every entry at or after the third newest's time; ties in the same ms may add some.
      expect(result.since.entries.length).toBeGreaterThanOrEqual(3)
      expect(result.since.entries.every((e) => e.at >= (result.all.entries[2]?.at ?? 0))).toBe(true)
      expect(result.none.entries).toEqual([])
    }),
  )

  it.live("finds users and runners whose names JSON must escape", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const names = ['o"brien', "back\\slash", "ünï ✓", "tab\there"]
      const found = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          for (const name of names) yield* audit.record(entry(name, "runner.start", name))
          yield* audit.record(entry("other", "runner.start", "other"))
          return yield* Effect.forEach(names, (name) =>
            Effect.map(
              audit.query({ user: cutText(name, AUDIT_USER_MAX), runnerId: cutText(name, 200) }),
              (r) => r.entries.length,
            ),
          )
        }),
      )
      expect(found).toEqual([1, 1, 1, 1])
    }),
  )

  it.live("limit defaults to 100 and is capped at 1000", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const counts = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          for (let i = 0; i < 1200; i++)
            yield* audit.record(inputBurst({ user: "u", runnerId: "r", bytes: i }))
          const byDefault = yield* audit.query()
          const capped = yield* audit.query({ limit: 5000 })
          const zero = yield* audit.query({ limit: 0 })
          return [byDefault.entries.length, capped.entries.length, zero.entries.length]
        }),
      )
      expect(counts).toEqual([100, 1000, 1])
    }),
  )

  it.live("is durable across restarts and keeps private modes", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      yield* withAudit(dataDir, (audit) =>
        audit.record(entry("alice", "user.add", undefined, "bob as operator")),
      )
      yield* withAudit(dataDir, (audit) =>
        audit.record(entry("alice", "user.remove", undefined, "bob")),
      )
      const result = yield* withAudit(dataDir, (audit) => audit.query({}))
      expect(result.entries.map((e) => e.action)).toEqual(["user.remove", "user.add"])
      expect(segmentNames(dataDir)).toEqual(["audit-000001.log"])
      expect(statSync(auditDir(dataDir)).mode & 0o777).toBe(0o700)
      expect(statSync(join(auditDir(dataDir), "audit-000001.log")).mode & 0o777).toBe(0o600)
    }),
  )

  it.live("follow streams new entries that match its filter", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const seen = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          yield* audit.record(entry("alice", "login")) // before following: not seen
          const fiber = yield* audit
            .follow({ runnerId: "r1" })
            .pipe(Stream.take(2), Stream.runCollect, Effect.fork)
          yield* Effect.sleep("50 millis")
          yield* audit.record(entry("alice", "runner.start", "r1"))
          yield* audit.record(entry("bob", "runner.start", "r2"))
          yield* audit.record(entry("bob", "runner.reply", "r1", "Yes"))
          return Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        }),
      )
      expect(seen.map((e) => [e.user, e.action])).toEqual([
        ["alice", "runner.start"],
        ["bob", "runner.reply"],
      ])
    }),
  )
})

describe("AuditLog entries are bounded and safe", () => {
  it.live("cuts detail to its bound and keeps runner.input to a byte count", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const result = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          yield* audit.record(entry("alice", "workspace.commit", "r1", "x".repeat(2000)))
          yield* audit.record(entry("alice", "runner.input", "r1", "rm -rf / --no-preserve-root"))
          yield* audit.record(inputBurst({ user: "alice", runnerId: "r1", bytes: 27.9 }))
          // An emoji across the cut stays whole (no lone surrogate).
          yield* audit.record(
            entry("alice", "schedule.add", "r1", `${"y".repeat(AUDIT_DETAIL_MAX - 2)}😀😀`),
          )
          return yield* audit.query({})
        }),
      )
      const [emoji, burst, typed, commit] = result.entries
      expect(commit?.detail).toHaveLength(AUDIT_DETAIL_MAX)
      expect(commit?.detail?.endsWith("x…")).toBe(true)
      expect(typed).not.toHaveProperty("detail")
      expect(burst?.detail).toBe("27 bytes")
      expect(emoji?.detail).toBe(`${"y".repeat(AUDIT_DETAIL_MAX - 2)}…`)
      expect(readFileSync(join(auditDir(dataDir), "audit-000001.log"), "utf8")).not.toContain(
        "rm -rf",
      )
    }),
  )

  it.live("hostile user and detail (newlines, NUL, ESC, 10 KB) cannot break the framing", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const hostile = [
        "eve\n0badc0de 2 {}\n",
        "nul\u0000byte",
        "\u001b]0;pwned\u0007\u001b[2J",
        "\r\n\u2028\u2029",
        "z".repeat(10 * 1024),
        "\ud800 lone surrogate",
        '"}\n{"at":0,"user":"admin","action":"user.add"}',
      ]
      const result = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          for (const text of hostile) {
            yield* audit.record({ user: text, action: "login.failed", detail: text, address: text })
          }
          return yield* audit.query({ limit: 1000 })
        }),
      )
      expect(result.skipped).toBe(0)
      expect(result.entries).toHaveLength(hostile.length)
      const lines = decodedLines(dataDir)
      expect(lines).toHaveLength(hostile.length)
      for (const e of result.entries) {
        expect(e.action).toBe("login.failed")
        expect(e.user.length).toBeLessThanOrEqual(AUDIT_USER_MAX)
        expect(e.detail?.length ?? 0).toBeLessThanOrEqual(AUDIT_DETAIL_MAX)
        // Control characters are replaced: nothing live reaches a terminal printing the trail.
        expect(hasControl(`${e.user}${e.detail}${e.address}`)).toBe(false)
      }
      expect(result.entries.map((e) => e.user).reverse()[0]).toBe("eve\ufffd0badc0de 2 {}\ufffd")
      expect(result.entries.some((e) => e.user === "admin")).toBe(false)
    }),
  )
})

describe("AuditLog rotation", () => {
  it.live("rolls segments at segmentBytes and deletes the oldest past totalBytes", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const options = { segmentBytes: 1000, totalBytes: 3000 }
      const record = (from: number, to: number) =>
        withAudit(
          dataDir,
          (audit) =>
            Effect.gen(function* () {
              for (let i = from; i < to; i++)
                yield* audit.record(inputBurst({ user: "u", runnerId: "r", bytes: i }))
            }),
          options,
        )
      yield* record(0, 100)
      const first = segmentNames(dataDir)
      yield* record(100, 200) // a restart continues the numbering
      const names = segmentNames(dataDir)
      const numbers = names.map((n) => Number(n.slice(6, 12)))
      expect(numbers.length).toBeLessThanOrEqual(3)
      expect(numbers).toEqual(numbers.map((_, i) => (numbers[0] ?? 0) + i))
      expect(Math.max(...numbers)).toBeGreaterThan(
        Math.max(...first.map((n) => Number(n.slice(6, 12)))),
      )
      const sizes = names.map((n) => statSync(join(auditDir(dataDir), n)).size)
      for (const size of sizes) expect(size).toBeLessThanOrEqual(1000)
      expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3000)
      for (const n of names) expect(statSync(join(auditDir(dataDir), n)).mode & 0o777).toBe(0o600)

      const result = yield* withAudit(dataDir, (audit) => audit.query({ limit: 1000 }), options)
      const counts = result.entries.map((e) => Number(e.detail?.split(" ")[0]))
      expect(result.skipped).toBe(0)
      expect(counts[0]).toBe(199)
      // The survivors are the newest entries, contiguous, newest first.
      expect(counts).toEqual(counts.map((_, i) => 199 - i))
      expect(counts.length).toBe(decodedLines(dataDir).length)
      expect(counts.length).toBeLessThan(200)
    }),
  )
})

describe("AuditLog damaged trail and write errors", () => {
  it.live("a torn tail is skipped and counted; the next entry starts on a fresh line", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          yield* audit.record(entry("alice", "runner.start", "r1"))
          yield* audit.record(entry("alice", "runner.pause", "r1"))
        }),
      )
      const path = join(auditDir(dataDir), "audit-000001.log")
      const whole = readFileSync(path)
      // A torn write: half of a third line, no newline.
      appendFileSync(path, whole.subarray(0, 30))
      const before = yield* withAudit(dataDir, (audit) => audit.query({}))
      expect(before.entries.map((e) => e.action)).toEqual(["runner.pause", "runner.start"])
      expect(before.skipped).toBe(1)
      const after = yield* withAudit(dataDir, (audit) =>
        Effect.zipRight(audit.record(entry("bob", "runner.resume", "r1")), audit.query({})),
      )
      expect(after.entries.map((e) => e.action)).toEqual([
        "runner.resume",
        "runner.pause",
        "runner.start",
      ])
      expect(after.skipped).toBe(1)
    }),
  )

  it.live("a flipped byte and a garbage line are skipped and counted, never fatal", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          for (let i = 0; i < 5; i++)
            yield* audit.record(inputBurst({ user: "u", runnerId: "r", bytes: i }))
        }),
      )
      const path = join(auditDir(dataDir), "audit-000001.log")
      const bytes = readFileSync(path)
      const secondLine = bytes.indexOf(0x0a) + 1
      bytes[secondLine + 40] = (bytes[secondLine + 40] ?? 0) ^ 0x01
      writeFileSync(path, Buffer.concat([bytes, Buffer.from("not a record\n\n")]))
      const result = yield* withAudit(dataDir, (audit) => audit.query({}))
      expect(result.entries.map((e) => e.detail)).toEqual([
        "4 bytes",
        "3 bytes",
        "2 bytes",
        "0 bytes",
      ])
      expect(result.skipped).toBe(2)
    }),
  )

  it.live("a write error never fails record: it is counted and logged, and writing resumes", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      // A file where the folder should be: every write fails.
      writeFileSync(auditDir(dataDir), "")
      const stats = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          yield* audit.record(entry("alice", "login"))
          yield* audit.record(entry("bob", "login"))
          const failing = yield* audit.stats
          rmSync(auditDir(dataDir))
          yield* audit.record(entry("carol", "login"))
          return { failing, after: yield* audit.stats, found: yield* audit.query({}) }
        }),
      ).pipe(quiet)
      expect(stats.failing).toEqual({ recorded: 0, failed: 2 })
      expect(stats.after).toEqual({ recorded: 1, failed: 2 })
      expect(stats.found.entries.map((e) => e.user)).toEqual(["carol"])
    }),
  )

  it.live("a query of an unreadable trail fails with AuditLogError", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      writeFileSync(auditDir(dataDir), "")
      const error = yield* withAudit(dataDir, (audit) => Effect.flip(audit.query({})))
      expect(error._tag).toBe("AuditLogError")
      expect(error.message).toContain(auditDir(dataDir))
    }),
  )

  it.live("a missing trail is empty", () =>
    Effect.gen(function* () {
      const result = yield* withAudit(tempDir(), (audit) => audit.query({}))
      expect(result).toEqual({ entries: [], skipped: 0 })
    }),
  )
})

describe("AuditLog background flush (TestClock)", () => {
  /** The wake-ups the TestClock holds (every pending sleep of every fiber), once `ready`. */
  const pendingSleeps = (ready: (n: number) => boolean) =>
    Effect.gen(function* () {
      for (let i = 0; i < 200; i++) {
        const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
        if (ready(sleeps.length)) return sleeps
        yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
      }
      return Chunk.toReadonlyArray(yield* TestClock.sleeps())
    })

  it.scoped(
    "sets no timer while nothing is written, and one flush syncIntervalMs after a write",
    () =>
      withAudit(tempDir(), (audit) =>
        Effect.gen(function* () {
          // Idle: nothing pending (it was a flush every 100 ms, written to or not).
          expect(yield* pendingSleeps(() => false)).toEqual([])
          yield* audit.record(entry("alice", "login"))
          const now = yield* TestClock.currentTimeMillis
          expect(yield* pendingSleeps((n) => n > 0)).toEqual([now + 100])
          // More writes before it fires share that flush.
          yield* audit.record(entry("bob", "login"))
          expect(yield* pendingSleeps(() => false)).toEqual([now + 100])
          yield* TestClock.adjust(100)
          expect(yield* pendingSleeps((n) => n === 0)).toEqual([])
          // And the next write starts the wait again.
          yield* audit.record(entry("carol", "login"))
          expect(yield* pendingSleeps((n) => n > 0)).toEqual([now + 200])
        }),
      ),
  )
})
