import { spawn, spawnSync } from "node:child_process"
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger } from "effect"
import { defaultRunnerConfig, RunnerConfig } from "../../src/config.js"
import {
  type JournalDurability,
  JournalError,
  JournalOptions,
  JournalStore,
} from "../../src/journal/journal-store.js"
import { decodeJournal, encodeRecord, type JournalRecord } from "../../src/journal/records.js"

const writerScript = fileURLToPath(new URL("./fixtures/journal-writer.mjs", import.meta.url))

const tempDirs: Array<string> = []
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-journal-"))
  tempDirs.push(dir)
  return dir
}
const journalPath = (dataDir: string) => join(dataDir, "journal", "journal.log")

/** Runs `f` against a fresh store instance: each call is a server (re)start. */
const withStore = <A, E>(
  dataDir: string,
  f: (store: JournalStore) => Effect.Effect<A, E>,
  durability: JournalDurability = "process",
) =>
  Effect.flatMap(JournalStore, f).pipe(
    Effect.provide(JournalStore.Default),
    Effect.provideService(RunnerConfig, defaultRunnerConfig(dataDir)),
    Effect.provideService(JournalOptions, { durability }),
  )

const summary = (id: string, status: string) => ({
  id,
  name: id,
  status,
  exitCode: 0,
  metrics: { bytesOut: 12 },
})

describe("JournalStore", () => {
  it.live("round-trips across a restart with private modes", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      yield* withStore(dataDir, (s) =>
        Effect.gen(function* () {
          const a = yield* s.append({ type: "runner", runnerId: "a", data: summary("a", "exited") })
          const b = yield* s.append({ type: "runner", runnerId: "b", data: summary("b", "failed") })
          expect([a.seq, b.seq]).toEqual([0, 1])
        }),
      )
      const state = yield* withStore(dataDir, (s) => s.load)
      expect(state.skipped).toEqual([])
      expect(state.records).toBe(2)
      expect([...state.runners]).toEqual([
        ["a", summary("a", "exited")],
        ["b", summary("b", "failed")],
      ])
      expect(statSync(join(dataDir, "journal")).mode & 0o777).toBe(0o700)
      expect(statSync(journalPath(dataDir)).mode & 0o777).toBe(0o600)
      // A restarted store continues the sequence.
      const c = yield* withStore(dataDir, (s) =>
        s.append({ type: "runner", runnerId: "c", data: {} }),
      )
      expect(c.seq).toBe(2)
    }),
  )

  it.live("latest record wins and removed deletes; an empty data dir loads empty", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const empty = yield* withStore(dataDir, (s) => s.load)
      expect(empty).toEqual({ runners: new Map(), skipped: [], records: 0, lastSeq: -1 })
      yield* withStore(dataDir, (s) =>
        Effect.gen(function* () {
          yield* s.append({ type: "runner", runnerId: "a", data: summary("a", "running") })
          yield* s.append({ type: "runner", runnerId: "b", data: summary("b", "running") })
          yield* s.append({ type: "runner", runnerId: "a", data: summary("a", "exited") })
          yield* s.append({ type: "removed", runnerId: "b" })
        }),
      )
      const state = yield* withStore(dataDir, (s) => s.load)
      expect([...state.runners]).toEqual([["a", summary("a", "exited")]])
      expect(state.lastSeq).toBe(3)
    }),
  )

  it.live(
    "skips a torn last line and a corrupt middle line with a warning, and appends after",
    () =>
      Effect.gen(function* () {
        const dataDir = tempDir()
        const path = journalPath(dataDir)
        yield* withStore(dataDir, (s) =>
          Effect.forEach(["a", "b", "c"], (id) =>
            s.append({ type: "runner", runnerId: id, data: { id } }),
          ),
        )
        const lines = readFileSync(path, "utf8").split("\n")
        lines[1] = (lines[1] ?? "").replace('"id":"b"}', '"id":"X"}') // flips the checksum
        writeFileSync(path, `${lines.join("\n")}deadbeef 40 {"seq":3,"at"`) // torn write
        const warnings: Array<string> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ logLevel, message }) => {
            if (logLevel._tag === "Warning") warnings.push(String(message))
          }),
        )
        const state = yield* withStore(dataDir, (s) => s.load).pipe(Effect.provide(capture))
        expect([...state.runners.keys()]).toEqual(["a", "c"])
        expect(state.skipped).toEqual([
          { line: 2, reason: "checksum mismatch" },
          { line: 4, reason: "torn last line (no newline)" },
        ])
        expect(warnings).toHaveLength(2)
        expect(warnings[0]).toContain("line 2: checksum mismatch")
        // The next record starts on a fresh line, not glued onto the torn fragment.
        yield* withStore(dataDir, (s) => s.append({ type: "runner", runnerId: "d", data: {} }))
        const after = yield* withStore(dataDir, (s) => s.load)
        expect([...after.runners.keys()]).toEqual(["a", "c", "d"])
        expect(after.skipped.map((s) => s.reason)).toEqual([
          "checksum mismatch",
          "length mismatch: header says 40, line has 13",
        ])
      }),
  )

  it.live("compaction keeps the state, replaces a leftover .tmp and keeps appending", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const path = journalPath(dataDir)
      const tmp = `${path}.tmp`
      yield* withStore(dataDir, (s) =>
        Effect.gen(function* () {
          for (let i = 0; i < 50; i++) {
            yield* s.append({ type: "runner", runnerId: `r${i % 5}`, data: { i } })
          }
          yield* s.append({ type: "removed", runnerId: "r0" })
        }),
      )
      const before = yield* withStore(dataDir, (s) => s.load)
      // A crash mid-compaction leaves a partial .tmp next to the intact journal.
      writeFileSync(tmp, "0badc0de 999 {partial")
      const stillOld = yield* withStore(dataDir, (s) => s.load)
      expect(stillOld).toEqual(before)

      const sizeBefore = statSync(path).size
      yield* withStore(dataDir, (s) =>
        Effect.gen(function* () {
          yield* s.load // opens nothing; compaction must also work on a fresh store
          yield* s.append({ type: "runner", runnerId: "r9", data: { i: 99 } })
          const result = yield* s.compact
          expect(result).toEqual({ kept: 5, dropped: 47 })
          // The append handle is reopened on the new file.
          yield* s.append({ type: "runner", runnerId: "r1", data: { i: 100 } })
        }),
      )
      expect(existsSync(tmp)).toBe(false)
      expect(statSync(path).size).toBeLessThan(sizeBefore)
      expect(statSync(path).mode & 0o777).toBe(0o600)
      const after = yield* withStore(dataDir, (s) => s.load)
      expect(after.skipped).toEqual([])
      const expected = new Map(before.runners)
      expected.set("r9", { i: 99 })
      expected.delete("r1")
      expected.set("r1", { i: 100 })
      expect([...after.runners]).toEqual([...expected])
      expect(after.lastSeq).toBe(52) // sequence numbers survive compaction
    }),
  )

  it.live("a data dir that cannot be written gives JournalError and writes nothing", () =>
    Effect.gen(function* () {
      // chmod cannot stop root, so the data dir sits under a regular file: ENOTDIR for all.
      const file = join(tempDir(), "not-a-dir")
      writeFileSync(file, "keep")
      const dataDir = join(file, "sub")
      const exit = yield* Effect.exit(
        withStore(dataDir, (s) => s.append({ type: "runner", runnerId: "a", data: {} })),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error).toBeInstanceOf(JournalError)
        expect(error?.cause).toContain("ENOTDIR")
      }
      const load = yield* Effect.either(withStore(dataDir, (s) => s.load))
      expect(load._tag === "Left" && load.left._tag === "JournalError").toBe(true)
      const compact = yield* Effect.either(withStore(dataDir, (s) => s.compact))
      expect(compact._tag === "Left" && compact.left._tag === "JournalError").toBe(true)
      expect(readFileSync(file, "utf8")).toBe("keep")
    }),
  )

  if (existsSync("/dev/full")) {
    it.live("a full disk gives JournalError, not a defect (journal on /dev/full)", () =>
      Effect.gen(function* () {
        const dataDir = tempDir()
        mkdirSync(join(dataDir, "journal"))
        symlinkSync("/dev/full", journalPath(dataDir))
        const result = yield* Effect.either(
          withStore(dataDir, (s) => s.append({ type: "runner", runnerId: "a", data: {} })),
        )
        expect(result._tag).toBe("Left")
        if (result._tag === "Left") expect(result.left.cause).toContain("ENOSPC")
      }),
    )
  }

  it.live(
    "a short write on a full disk is cut off again: only whole records, appends go on once there is room",
    () =>
      Effect.gen(function* () {
        const dataDir = join(tempDir(), "small")
        mkdirSync(dataDir)
        const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dataDir], {
          encoding: "utf8",
        })
        if (mounted.status !== 0) {
          // Needs root (or CAP_SYS_ADMIN); the hardening suite's disk-full test says the same.
          process.stdout.write(`skipped: cannot mount a tmpfs: ${mounted.stderr.trim()}\n`)
          return
        }
        yield* Effect.addFinalizer(() => Effect.sync(() => spawnSync("umount", [dataDir])))
        const filler = join(dataDir, "filler")
        writeFileSync(filler, Buffer.alloc(8192))
        const padding = "p".repeat(700)
        const outcomes = yield* withStore(dataDir, (store) =>
          Effect.gen(function* () {
            const results: Array<"ok" | string> = []
            const append = (i: number) =>
              store.append({ type: "runner", runnerId: `r${i}`, data: { padding } }).pipe(
                Effect.as("ok" as const),
                Effect.catchAll((e) => Effect.succeed(e.message)),
              )
            for (let i = 0; i < 40; i++) results.push(yield* append(i))
            rmSync(filler)
            for (let i = 40; i < 45; i++) results.push(yield* append(i))
            return results
          }),
        ).pipe(Effect.scoped)
        const failures = outcomes.filter((o) => o !== "ok")
        expect(failures.length).toBeGreaterThan(0)
        expect(failures.some((f) => f.includes("short write"))).toBe(true)
        expect(outcomes.slice(40)).toEqual(["ok", "ok", "ok", "ok", "ok"])
        const decoded = decodeJournal(readFileSync(journalPath(dataDir)))
        expect(decoded.skipped).toEqual([])
        expect(decoded.tornTail).toBe(false)
        expect(decoded.records.length).toBe(outcomes.filter((o) => o === "ok").length)
      }).pipe(Effect.scoped),
  )

  it.live("rejects data that is not JSON as JournalError", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const result = yield* Effect.either(
        withStore(dataDir, (s) =>
          s.append({ type: "runner", runnerId: "a", data: { big: BigInt(1) } }),
        ),
      )
      expect(result._tag === "Left" && result.left._tag === "JournalError").toBe(true)
      const state = yield* withStore(dataDir, (s) => s.load)
      expect(state.records).toBe(0)
    }),
  )

  it.live("keeps every append under both durabilities", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const appendMany = (durability: JournalDurability) =>
        withStore(
          dataDir,
          (s) =>
            Effect.forEach(
              Array.from({ length: 1000 }, (_, i) => i),
              (i) =>
                s.append({ type: "runner", runnerId: `r${i % 20}`, data: summary("x", "exited") }),
              { discard: true },
            ),
          durability,
        )
      yield* appendMany("process")
      yield* appendMany("machine")
      const state = yield* withStore(dataDir, (s) => s.load)
      expect(state.records).toBe(2000)
      expect(state.lastSeq).toBe(1999)
      expect(state.runners.size).toBe(20)
    }),
  )
})

describe("JournalStore after kill -9 of a writer", () => {
  /**
   * Runs the writer; with `killAtBytes`, SIGKILLs it once the file holds that many bytes, so
   * the kill lands mid-loop however slowly the child starts (a fixed delay did not, on a
   * loaded machine: the child was killed before its first write).
   */
  const runWriter = (file: string, args: ReadonlyArray<string>, killAtBytes?: number) =>
    Effect.async<void>((resume) => {
      const child = spawn(process.execPath, [writerScript, file, ...args], { stdio: "inherit" })
      const poll =
        killAtBytes === undefined
          ? undefined
          : setInterval(() => {
              if (statSync(file).size >= killAtBytes) child.kill("SIGKILL")
            }, 2)
      child.on("exit", () => {
        clearInterval(poll)
        resume(Effect.void)
      })
      return Effect.sync(() => {
        clearInterval(poll)
        child.kill("SIGKILL")
      })
    })

  it.live("the standalone writer's bytes are exactly what encodeRecord writes", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const file = join(dataDir, "writer.log")
      yield* runWriter(file, ["50"])
      const expected = Array.from(
        { length: 50 },
        (_, seq): JournalRecord => ({
          seq,
          at: 1_700_000_000_000 + seq,
          type: "runner",
          runnerId: `r${seq % 10}`,
          data: { seq, note: "ünïcode ✓" },
        }),
      )
      expect(readFileSync(file).equals(Buffer.concat(expected.map(encodeRecord)))).toBe(true)
      expect(decodeJournal(readFileSync(file)).records).toEqual(expected)
    }),
  )

  it.live("every complete record loads, at most one torn line, contiguous sequence", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const path = journalPath(dataDir)
      mkdirSync(join(dataDir, "journal"), { mode: 0o700 })
      appendFileSync(path, "")
      yield* runWriter(path, [], 40_000)
      const bytes = readFileSync(path)
      const decoded = decodeJournal(bytes)
      const complete = bytes.filter((b) => b === 0x0a).length
      expect(complete).toBeGreaterThan(100)
      expect(decoded.records).toHaveLength(complete)
      expect(decoded.records.map((r) => r.seq)).toEqual(
        Array.from({ length: complete }, (_, i) => i),
      )
      expect(decoded.skipped.length).toBeLessThanOrEqual(1)
      if (decoded.skipped.length === 1) expect(decoded.tornTail).toBe(true)

      const state = yield* withStore(dataDir, (s) => s.load)
      expect(state.records).toBe(complete)
      expect(state.lastSeq).toBe(complete - 1)
      for (const [id, data] of state.runners) {
        const residue = Number(id.slice(1))
        const latest = complete - 1 - ((complete - 1 - residue + 10) % 10)
        expect(data.seq).toBe(latest)
      }
      // A restarted store appends after the killed writer's last record.
      const next = yield* withStore(dataDir, (s) => s.append({ type: "removed", runnerId: "r0" }))
      expect(next.seq).toBe(complete)
      const after = yield* withStore(dataDir, (s) => s.load)
      expect(after.runners.has("r0")).toBe(false)
      expect(after.records).toBe(complete + 1)
    }),
  )
})
