import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseClaudeLine } from "../../src/transcripts/claude-lines.js"
import { parseCodexLine } from "../../src/transcripts/codex-lines.js"
import { defaultPrices } from "../../src/transcripts/prices.js"
import {
  CHECKPOINT_ENTRIES,
  TAIL_ENTRIES,
  TranscriptIndex,
} from "../../src/transcripts/transcript-index.js"
import { UsageTally } from "../../src/transcripts/usage-tally.js"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

describe("Claude Code session file", () => {
  it.effect("reads messages, tool calls and results, skips what it cannot read", () =>
    Effect.gen(function* () {
      const index = new TranscriptIndex(
        fixture("claude-session.jsonl"),
        parseClaudeLine,
        defaultPrices,
      )
      const page = yield* index.page({})
      expect(page.entries.map((e) => [e.seq, e.kind, e.tool ?? e.text?.slice(0, 20)])).toEqual([
        [0, "user", "Run the tests and fi"],
        [1, "assistant", "I'll run **the tests"],
        [2, "tool-call", "Bash"],
        [3, "tool-result", "FAIL src/sum.test.ts"],
        [4, "tool-call", "Edit"],
        [5, "tool-result", "The file has been up"],
        [6, "system", "PostToolUse hook fai"],
        [7, "assistant", "Fixed. <script>alert"],
        [8, "assistant", "[image]"],
        [9, "system", "Caveat: The messages"],
      ])
      // The malformed and the non-JSON line; the torn last line waits for its end.
      expect(page.skipped).toBe(2)
      expect(page.total).toBe(10)
      expect(page.entries[2]).toMatchObject({
        input: { command: "npm test", description: "Run tests" },
        callId: "toolu_01",
        at: Date.parse("2025-10-01T10:00:02.200Z"),
      })
      expect(page.entries[3]).toMatchObject({ isError: true, callId: "toolu_01" })
      expect(page.entries[6]?.isError).toBe(true)
      expect(page.model).toBeUndefined()
    }),
  )

  it.effect("counts a message's usage once though three lines repeat it", () =>
    Effect.gen(function* () {
      const index = new TranscriptIndex(
        fixture("claude-session.jsonl"),
        parseClaudeLine,
        defaultPrices,
      )
      const { usage } = yield* index.page({})
      expect(usage).toEqual({
        inputTokens: 24,
        outputTokens: 175,
        cacheReadTokens: 17200,
        cacheWriteTokens: 1200,
        // claude-sonnet-4 prices: (24·3 + 175·15 + 17200·0.3 + 1200·3.75) / 1e6
        costUsd: 0.012357,
      })
    }),
  )

  it.effect("follows the file as it grows, the torn line read once it is whole", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "geppetto-transcript-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true })))
      const path = join(dir, "s.jsonl")
      writeFileSync(path, '{"type":"user","message":{"role":"user","content":"one"}}\n{"type":"us')
      const index = new TranscriptIndex(path, parseClaudeLine, defaultPrices)
      expect((yield* index.page({})).total).toBe(1)
      appendFileSync(path, 'er","message":{"role":"user","content":"two"}}\n')
      const page = yield* index.page({ after: 1 })
      expect(page.entries).toEqual([{ seq: 1, kind: "user", text: "two" }])
      expect(page.skipped).toBe(0)
    }).pipe(Effect.scoped),
  )
})

describe("Codex rollout", () => {
  it.effect("reads messages and function calls; running totals replace each other", () =>
    Effect.gen(function* () {
      const index = new TranscriptIndex(
        fixture("codex-rollout.jsonl"),
        parseCodexLine,
        defaultPrices,
      )
      const page = yield* index.page({})
      expect(page.entries.map((e) => [e.seq, e.kind, e.tool ?? e.text?.slice(0, 14)])).toEqual([
        [0, "system", "<environment_c"],
        [1, "user", "list the files"],
        [2, "tool-call", "shell"],
        [3, "tool-result", "README.md\nsrc\n"],
        [4, "tool-call", "shell"],
        [5, "tool-result", "cat: nope: No "],
        [6, "assistant", "There are `REA"],
      ])
      expect(page.entries[2]?.input).toEqual({
        command: ["bash", "-lc", "ls"],
        workdir: "/home/dev/proj",
      })
      expect(page.entries[3]?.isError).toBeUndefined()
      expect(page.entries[5]?.isError).toBe(true)
      expect(page.skipped).toBe(1)
      expect(page.model).toBe("gpt-5-codex")
      // Cached input is inside Codex's input_tokens; gpt-5 prices.
      expect(page.usage).toEqual({
        inputTokens: 3000,
        outputTokens: 350,
        cacheReadTokens: 8000,
        cacheWriteTokens: 0,
        costUsd: 0.00825,
      })
    }),
  )
})

describe("usage", () => {
  it("shows tokens without a cost for a model with no price", () => {
    const tally = new UsageTally(defaultPrices)
    const usage = { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 }
    tally.add({ type: "message", id: "m", model: "some-new-model", usage })
    expect(tally.usage).toEqual({ ...usage, unpricedTokens: 3 })
  })
})

describe("a large transcript", () => {
  // 60 MB here (the bench does 500 MB): what is held is counted, not timed.
  const LINES = 120_000
  it.effect(
    "is read in bounded memory and pages back from checkpoints",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "geppetto-transcript-big-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true })))
        const path = join(dir, "big.jsonl")
        const filler = "x".repeat(400)
        const batch: string[] = []
        writeFileSync(path, "")
        for (let i = 0; i < LINES; i++) {
          batch.push(
            JSON.stringify({
              type: "assistant",
              message: {
                id: `msg_${i >> 1}`,
                model: "claude-sonnet-4-5",
                content: [{ type: "text", text: `line ${i} ${filler}` }],
                usage: { input_tokens: 1, output_tokens: 2 },
              },
            }),
          )
          if (batch.length === 5000) {
            appendFileSync(path, `${batch.join("\n")}\n`)
            batch.length = 0
          }
        }
        const index = new TranscriptIndex(path, parseClaudeLine, defaultPrices)
        const page = yield* index.page({ limit: 10 })
        expect(page.total).toBe(LINES)
        expect(page.entries.map((e) => e.seq)).toEqual(
          Array.from({ length: 10 }, (_, i) => LINES - 10 + i),
        )
        // Held: the tail, one checkpoint per CHECKPOINT_ENTRIES, at most 1024 message ids.
        expect(index.tail.length).toBe(TAIL_ENTRIES)
        expect(index.checkpoints.length).toBeLessThanOrEqual(LINES / CHECKPOINT_ENTRIES + 1)
        expect(index.tally.remembered).toBeLessThanOrEqual(1024)
        // Two lines per message, each counted once.
        expect(page.usage.inputTokens).toBe(LINES / 2)
        const old = yield* index.page({ before: 1000, limit: 3 })
        expect(old.entries.map((e) => [e.seq, e.text?.slice(0, 9)])).toEqual([
          [997, "line 997 "],
          [998, "line 998 "],
          [999, "line 999 "],
        ])
      }).pipe(Effect.scoped),
    60_000,
  )
})
