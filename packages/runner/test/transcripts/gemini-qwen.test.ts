import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { geminiSessionMeta, parseGeminiLine } from "../../src/transcripts/gemini-lines.js"
import { defaultPrices } from "../../src/transcripts/prices.js"
import { parseQwenLine, qwenSessionMeta } from "../../src/transcripts/qwen-lines.js"
import { TAIL_ENTRIES, TranscriptIndex } from "../../src/transcripts/transcript-index.js"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

describe("Gemini CLI session file", () => {
  it.effect("reads each message once though it is written again as it changes; tokens once", () =>
    Effect.gen(function* () {
      const prices = {
        ...defaultPrices,
        "gemini-2.5-pro": { input: 1.25, output: 10, cacheRead: 0.31, cacheWrite: 0 },
      }
      const index = new TranscriptIndex(fixture("gemini-session.jsonl"), parseGeminiLine, prices)
      const page = yield* index.page({})
      expect(page.entries.map((e) => [e.seq, e.kind, e.tool ?? e.text])).toEqual([
        [0, "user", "list the files"],
        [1, "assistant", "I'll list them."],
        [2, "tool-call", "run_shell_command"],
        [3, "tool-result", "run_shell_command"],
        [4, "tool-call", "read_file"],
        [5, "tool-result", "read_file"],
        [6, "system", "Quota exceeded for gemini-2.5-pro"],
        [7, "user", "now finish"],
        [8, "assistant", "done"],
      ])
      expect(page.entries[2]).toMatchObject({
        input: { command: "ls" },
        callId: "run_shell_command-1",
      })
      expect(page.entries[3]).toMatchObject({ text: "a.txt\nb.txt", callId: "run_shell_command-1" })
      expect(page.entries[3]?.isError).toBeUndefined()
      expect(page.entries[5]).toMatchObject({
        text: "File not found: /home/dev/proj/nope",
        isError: true,
      })
      expect(page.entries[6]?.isError).toBe(true)
      // The garbage line; the torn last line waits to be whole.
      expect(page.skipped).toBe(1)
      expect(page.model).toBe("gemini-2.5-pro")
      // Prompt counts include the cached tokens; thoughts are output. g1 counted once of three.
      expect(page.usage).toEqual({
        inputTokens: 400 + 300 + 100,
        outputTokens: 50 + 20 + 5,
        cacheReadTokens: 800 + 1000,
        cacheWriteTokens: 0,
        costUsd: (800 * 1.25 + 75 * 10 + 1800 * 0.31) / 1e6,
      })
      // Without a price for the model: tokens, no cost.
      const unpriced = new TranscriptIndex(
        fixture("gemini-session.jsonl"),
        parseGeminiLine,
        defaultPrices,
      )
      expect((yield* unpriced.page({})).usage.costUsd).toBeUndefined()
    }),
  )

  it("names its session, folder hash and start on the first line only", () => {
    const [first, second] = readFileSync(fixture("gemini-session.jsonl"), "utf8").split("\n")
    expect(geminiSessionMeta(first ?? "")).toEqual({
      id: "8d3f6c2a-1b4e-4f7a-9c0d-2e5b7a9f1c3d",
      projectHash: "bb97ae4cdb5b0dd7e32b198a7ebcb35332fca3343779f0895ffb11258627aa8f",
      startedAt: Date.parse("2025-10-01T10:00:00.000Z"),
    })
    expect(geminiSessionMeta(second ?? "")).toBeUndefined()
  })

  it.effect("pages read back from disk show each message once, as the first pass did", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "geppetto-gemini-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true })))
      const path = join(dir, "session.jsonl")
      writeFileSync(path, `${JSON.stringify({ sessionId: "s", projectHash: "h" })}\n`)
      const TURNS = 1000
      const lines: string[] = []
      /** What each entry shows, in order, as the generator wrote it. */
      const shown: string[] = []
      for (let i = 0; i < TURNS; i++) {
        lines.push(JSON.stringify({ id: `u${i}`, type: "user", content: `q ${i}` }))
        const g = { id: `g${i}`, type: "gemini", content: `a ${i}`, model: "gemini-2.5-pro" }
        const tokens = { input: 10, output: 2, cached: 0 }
        shown.push(`q ${i}`, `a ${i}`)
        // Written again, as Gemini CLI does: bare, then with its tokens, then with its tool
        // calls (one turn in three has none): the checkpoints then fall on any kind of line.
        lines.push(JSON.stringify(g), JSON.stringify({ ...g, tokens }))
        if (i % 3 !== 0) {
          const call = {
            id: `c${i}`,
            name: "ls",
            args: { i },
            status: "success",
            resultDisplay: `r ${i}`,
          }
          lines.push(JSON.stringify({ ...g, tokens, toolCalls: [call] }))
          shown.push("ls", `r ${i}`)
        }
      }
      appendFileSync(path, `${lines.join("\n")}\n`)
      const index = new TranscriptIndex(path, parseGeminiLine, defaultPrices)
      const expected = (seq: number) => shown[seq]
      const newest = yield* index.page({ limit: 4 })
      expect(newest.total).toBe(shown.length)
      expect(newest.usage.outputTokens).toBe(TURNS * 2)
      expect(index.checkpoints.length).toBeGreaterThan(1)
      // Older than the tail: read again from a checkpoint.
      for (const before of [shown.length - TAIL_ENTRIES - 7, 1234, 1001, 515, 257, 3]) {
        const page = yield* index.page({ before, limit: 300 })
        expect(page.entries.map((e) => e.seq)).toEqual(
          Array.from(
            { length: Math.min(300, before) },
            (_, k) => before - Math.min(300, before) + k,
          ),
        )
        expect(page.entries.map((e) => e.text ?? e.tool)).toEqual(
          page.entries.map((e) => expected(e.seq)),
        )
      }
    }).pipe(Effect.scoped),
  )
})

describe("Qwen Code session file", () => {
  it.effect("reads messages, tool calls and results; each response's tokens once", () =>
    Effect.gen(function* () {
      const index = new TranscriptIndex(fixture("qwen-session.jsonl"), parseQwenLine, defaultPrices)
      const page = yield* index.page({})
      expect(page.entries.map((e) => [e.seq, e.kind, e.tool ?? e.text])).toEqual([
        [0, "user", "list the files"],
        [1, "assistant", "I'll list them."],
        [2, "tool-call", "run_shell_command"],
        [3, "tool-result", "run_shell_command"],
        [4, "tool-call", "read_file"],
        [5, "tool-result", "read_file"],
        [6, "system", "Background task finished"],
        [7, "assistant", "done"],
      ])
      expect(page.entries[2]).toMatchObject({ input: { command: "ls" }, callId: "call_1" })
      expect(page.entries[3]).toMatchObject({ text: "a.txt\nb.txt", callId: "call_1" })
      expect(page.entries[3]?.isError).toBeUndefined()
      expect(page.entries[5]).toMatchObject({
        text: "File not found: /home/dev/proj/nope",
        isError: true,
      })
      expect(page.skipped).toBe(1)
      expect(page.model).toBe("qwen3-coder-plus")
      // No built-in price for Qwen's models: tokens only, all of them unpriced.
      expect(page.usage).toEqual({
        inputTokens: 400 + 300 + 100,
        outputTokens: 50 + 20 + 5,
        cacheReadTokens: 1800,
        cacheWriteTokens: 0,
        unpricedTokens: 800 + 75 + 1800,
      })
      expect(
        qwenSessionMeta(
          '{"uuid":"x","sessionId":"abc","type":"user","cwd":"/p","timestamp":"2025-10-01T10:00:00Z"}',
        ),
      ).toEqual({
        id: "abc",
        cwd: "/p",
        startedAt: Date.parse("2025-10-01T10:00:00Z"),
      })
    }),
  )
})
