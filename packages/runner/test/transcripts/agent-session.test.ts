import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  codexDayDir,
  findCodexSession,
  findCodexSessionById,
  findGeminiSession,
  findQwenSession,
  qwenChatsDir,
} from "../../src/transcripts/agent-session.js"

const ID = "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
const meta = (id: string, cwd: string, at: number) =>
  `${JSON.stringify({
    timestamp: new Date(at).toISOString(),
    type: "session_meta",
    payload: { id, timestamp: new Date(at).toISOString(), cwd, cli_version: "0.169.0" },
  })}\n`

describe("Codex rollouts", () => {
  it.effect(
    "a new runner's rollout is matched by cwd and time, and gives Codex's own session id",
    () =>
      Effect.gen(function* () {
        const home = mkdtempSync(join(tmpdir(), "geppetto-codex-home-"))
        const at = Date.UTC(2025, 9, 1, 10)
        const dir = codexDayDir(home, at)
        mkdirSync(dir, { recursive: true })
        // Named with another id than its session_meta's: the meta's is the session's.
        writeFileSync(join(dir, "rollout-2025-10-01T10-00-00-zzz.jsonl"), meta(ID, home, at + 500))
        writeFileSync(join(dir, "rollout-early.jsonl"), meta("other", home, at - 60_000))
        const found = yield* findCodexSession(home, home, at)
        expect(found?.sessionId).toBe(ID)
        expect(found?.file).toBe(join(dir, "rollout-2025-10-01T10-00-00-zzz.jsonl"))
        rmSync(home, { recursive: true, force: true })
      }),
  )

  it.effect("a known session is found by its id, near the start or in any older day folder", () =>
    Effect.gen(function* () {
      const home = mkdtempSync(join(tmpdir(), "geppetto-codex-home-"))
      const old = join(home, "sessions", "2024", "12", "31")
      mkdirSync(old, { recursive: true })
      const file = join(old, `rollout-2024-12-31T23-59-00-${ID}.jsonl`)
      writeFileSync(file, meta(ID, home, Date.UTC(2024, 11, 31)))
      // Continued the next year: not in the start's folders, found by the walk.
      const found = yield* findCodexSessionById(home, ID, [Date.UTC(2025, 5, 1)])
      expect(found).toEqual({ file, dir: old, sessionId: ID })
      expect(yield* findCodexSessionById(home, "9973b6c0-94b8-487b-a530-2aeb6098ae0e", [])).toBe(
        undefined,
      )
      // Not a UUID: never looked for (no path made of it).
      expect(yield* findCodexSessionById(home, "../../etc/passwd", [])).toBeUndefined()
      rmSync(home, { recursive: true, force: true })
    }),
  )
})

describe("Gemini and Qwen sessions", () => {
  it.effect("Gemini's is matched by the folder's hash and the start, then found by its id", () =>
    Effect.gen(function* () {
      const home = mkdtempSync(join(tmpdir(), "geppetto-gemini-home-"))
      const cwd = mkdtempSync(join(tmpdir(), "geppetto-gemini-cwd-"))
      const at = Date.UTC(2025, 9, 1, 10)
      const chats = join(home, "tmp", "proj-1", "chats")
      mkdirSync(chats, { recursive: true })
      const hash = createHash("sha256").update(cwd).digest("hex")
      const head = (id: string, projectHash: string, start: number) =>
        `${JSON.stringify({ sessionId: id, projectHash, startTime: new Date(start).toISOString() })}\n`
      writeFileSync(
        join(chats, "session-2025-10-01T10-00-5973b6c0.jsonl"),
        head(ID, hash, at + 900),
      )
      writeFileSync(
        join(chats, "session-2025-10-01T10-00-11111111.jsonl"),
        head("11111111-x", "other", at + 100),
      )
      writeFileSync(
        join(chats, "session-2025-10-01T09-00-22222222.jsonl"),
        head("22222222-x", hash, at - 3_600_000),
      )
      const found = yield* findGeminiSession(home, cwd, at, undefined)
      expect(found).toEqual({
        file: join(chats, "session-2025-10-01T10-00-5973b6c0.jsonl"),
        dir: chats,
        sessionId: ID,
      })
      // Another runner's already: not given twice.
      expect(
        yield* findGeminiSession(home, cwd, at, undefined, new Set([found?.file ?? ""])),
      ).toBeUndefined()
      expect((yield* findGeminiSession(home, "/elsewhere", at, ID))?.sessionId).toBe(ID)
      expect(yield* findGeminiSession(home, cwd, at, "33333333-none")).toBeUndefined()
      rmSync(home, { recursive: true, force: true })
      rmSync(cwd, { recursive: true, force: true })
    }),
  )

  it.effect("Qwen's is in the cwd's folder, matched by its first record's time, then by id", () =>
    Effect.gen(function* () {
      const home = mkdtempSync(join(tmpdir(), "geppetto-qwen-home-"))
      const cwd = "/home/dev/proj"
      const at = Date.UTC(2025, 9, 1, 10)
      const dir = qwenChatsDir(home, cwd)
      expect(dir).toBe(join(home, "projects", "-home-dev-proj", "chats"))
      mkdirSync(dir, { recursive: true })
      const record = (id: string, start: number) =>
        `${JSON.stringify({ uuid: "u", sessionId: id, type: "user", cwd, timestamp: new Date(start).toISOString() })}\n`
      writeFileSync(join(dir, `${ID}.jsonl`), record(ID, at + 2_000))
      writeFileSync(join(dir, "old.jsonl"), record("old", at - 60_000))
      expect(yield* findQwenSession(home, cwd, at, undefined)).toEqual({
        file: join(dir, `${ID}.jsonl`),
        dir,
        sessionId: ID,
      })
      expect((yield* findQwenSession(home, cwd, at + 86_400_000 * 2, ID))?.sessionId).toBe(ID)
      expect(yield* findQwenSession(home, cwd, at + 86_400_000 * 2, undefined)).toBeUndefined()
      rmSync(home, { recursive: true, force: true })
    }),
  )
})
