import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue, Ref, Stream, TestClock } from "effect"
import { makeAttentionDetector } from "../../src/attention/detector.js"
import { type Screen, type ScreenVerdict, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import {
  type AttentionModel,
  type AttentionState,
  initialAttention,
  makeBellScanner,
  onAttentionOutput,
  onAttentionSample,
} from "../../src/attention/signals.js"
import type { LogChunk } from "../../src/logs/log-store.js"
import { followQueue } from "../streams.js"
import { claudePermission, screen } from "./fixtures.js"

const s = { debounceMs: 1_000, confirmMs: 250, recheckMs: 300 }
const permission: ScreenVerdict = { kind: "waiting", reason: "permission", ruleId: "p" }
const busy: ScreenVerdict = { kind: "busy", ruleId: "b" }
const unknown: ScreenVerdict = { kind: "unknown" }

/** Feeds a capture due at its time; returns the new model and any published change. */
const sampleDue = (m: AttentionModel, v: ScreenVerdict) => {
  const at = m.pending?.at
  if (at === undefined) throw new Error("no capture pending")
  return onAttentionSample(m, at, v, s)
}

describe("attention state machine", () => {
  it("enters waiting only after the debounce and a second agreeing capture", () => {
    let m = onAttentionOutput(initialAttention(0, s), 100, false, s)
    m = onAttentionOutput(m, 900, false, s) // output pushes the debounce back
    expect(m.pending).toEqual({ kind: "sample", at: 1_900 })
    let step = sampleDue(m, permission)
    expect(step.changed).toBeUndefined()
    expect(step.model.pending).toMatchObject({ kind: "confirm", at: 2_150 })
    step = sampleDue(step.model, permission)
    expect(step.changed).toEqual({ waitingForInput: true, reason: "permission", ruleId: "p" })
    expect(step.model.pending).toBeUndefined()
  })

  it("a second capture that disagrees does not enter waiting", () => {
    const m = onAttentionOutput(initialAttention(0, s), 0, false, s)
    const first = sampleDue(m, permission)
    const second = sampleDue(first.model, busy)
    expect(second.changed).toBeUndefined()
    expect(second.model.state.waitingForInput).toBe(false)
    expect(second.model.pending).toBeUndefined()
  })

  it("output between the two captures restarts the debounce", () => {
    const m = onAttentionOutput(initialAttention(0, s), 0, false, s)
    const first = sampleDue(m, permission)
    const again = onAttentionOutput(first.model, 1_100, false, s)
    expect(again.pending).toEqual({ kind: "sample", at: 2_100 })
  })

  it("holds waiting while a spinner redraws above the prompt, clears once it is gone", () => {
    let m = onAttentionOutput(initialAttention(0, s), 0, false, s)
    m = sampleDue(sampleDue(m, permission).model, permission).model
    expect(m.state.waitingForInput).toBe(true)
    // Spinner frames every 100 ms: one re-check 300 ms after the first, not pushed back.
    m = onAttentionOutput(m, 3_000, false, s)
    m = onAttentionOutput(m, 3_100, false, s)
    m = onAttentionOutput(m, 3_200, false, s)
    expect(m.pending).toEqual({ kind: "recheck", at: 3_300 })
    // Spinner + prompt: the waiting rule outranks busy, so the verdict is still waiting.
    let step = sampleDue(m, permission)
    expect(step.changed).toBeUndefined()
    expect(step.model.state.waitingForInput).toBe(true)
    expect(step.model.pending).toBeUndefined()
    // The prompt closes and the spinner runs on: cleared at the next re-check.
    m = onAttentionOutput(step.model, 5_000, false, s)
    step = sampleDue(m, busy)
    expect(step.changed).toEqual({ waitingForInput: false })
    expect(step.model.pending).toEqual({ kind: "sample", at: 6_000 })
  })

  it("a new waiting rule while waiting is published as a change", () => {
    let m = onAttentionOutput(initialAttention(0, s), 0, false, s)
    m = sampleDue(sampleDue(m, permission).model, permission).model
    m = onAttentionOutput(m, 2_000, false, s)
    const step = sampleDue(m, { kind: "waiting", reason: "question", ruleId: "q" })
    expect(step.changed).toEqual({ waitingForInput: true, reason: "question", ruleId: "q" })
  })

  it("a BEL with no waiting or ready rule on screen gives reason bell, once", () => {
    let m = onAttentionOutput(initialAttention(0, s), 0, true, s)
    m = onAttentionOutput(m, 200, false, s) // the bell is remembered across later output
    let step = sampleDue(sampleDue(m, unknown).model, unknown)
    expect(step.changed).toEqual({ waitingForInput: true, reason: "bell" })
    // Output clears it; the bell was spent, so quiet afterwards is not a new bell.
    m = onAttentionOutput(step.model, 5_000, false, s)
    step = sampleDue(m, unknown)
    expect(step.changed).toEqual({ waitingForInput: false })
    step = sampleDue(step.model, unknown)
    expect(step.changed).toBeUndefined()
    expect(step.model.pending).toBeUndefined()
  })

  it("a screen rule outranks the bell as the reason", () => {
    const m = onAttentionOutput(initialAttention(0, s), 0, true, s)
    const ready: ScreenVerdict = { kind: "ready", reason: "ready", ruleId: "r" }
    expect(sampleDue(sampleDue(m, ready).model, ready).changed).toMatchObject({ reason: "ready" })
  })
})

describe("bell scanner", () => {
  const rings = (...chunks: ReadonlyArray<string>) => {
    const scanner = makeBellScanner()
    return chunks.map((c) => scanner.push(Buffer.from(c)))
  }

  it("ignores the BEL that ends an OSC, even split across chunks", () => {
    expect(rings("\u001b]0;title\u0007")).toEqual([false])
    expect(rings("\u001b]0;ti", "tle\u0007more")).toEqual([false, false])
    expect(rings("\u001b", "]2;x\u0007")).toEqual([false, false])
    expect(rings("\u001b]2;x\u001b\\\u0007")).toEqual([true])
  })

  it("sees a BEL outside strings, also right after an OSC", () => {
    expect(rings("done\u0007")).toEqual([true])
    expect(rings("\u001b]0;t\u0007", "\u0007")).toEqual([false, true])
    expect(rings("\u001b[31m\u0007")).toEqual([true])
  })

  it("says the same of a chunk as of its bytes fed one at a time (3000 random streams)", () => {
    // Text, escapes, string introducers and terminators: the bytes the scanner cares about.
    const alphabet = [0x61, 0x1b, 0x07, 0x5d, 0x50, 0x5c, 0x18, 0x1a, 0x5b, 0x30, 0x0a]
    let seed = 42
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let run = 0; run < 3000; run++) {
      const stream = Buffer.from(
        Array.from({ length: 1 + random(300) }, () => alphabet[random(alphabet.length)] ?? 0),
      )
      const chunked = makeBellScanner()
      const bytewise = makeBellScanner()
      for (let at = 0; at < stream.length; ) {
        const chunk = stream.subarray(at, at + 1 + random(40))
        at += chunk.length
        let expected = false
        for (const byte of chunk) if (bytewise.push(Buffer.from([byte]))) expected = true
        expect(chunked.push(chunk), `stream ${stream.toString("hex")}`).toBe(expected)
      }
    }
  })
})

const waitingScreen = screenOf(claudePermission)
const busyScreen = screenOf(screen("● working\n\n✻ Thinking… (3s · esc to interrupt)\n"))

describe("attention detector (TestClock)", () => {
  it.scoped("debounces, confirms, holds through a spinner, clears, and is idle when quiet", () =>
    Effect.gen(function* () {
      const rules = yield* loadRuleSet("claude")
      const chunks = yield* Queue.unbounded<LogChunk>()
      const shown = yield* Ref.make<Screen>(busyScreen)
      const captures = yield* Ref.make(0)
      const detector = yield* makeAttentionDetector({
        handle: {
          followOutput: followQueue(chunks),
          logBounds: Effect.succeed({ start: 0, end: 0 }),
        },
        capture: Effect.zipRight(
          Ref.update(captures, (n) => n + 1),
          Ref.get(shown),
        ),
        rules,
        debounceMs: 1_000,
      })
      const seen: AttentionState[] = []
      const collector = yield* detector.changes.pipe(
        Stream.runForEach((st) => Effect.sync(() => seen.push(st))),
        Effect.fork,
      )
      const out = (text: string) =>
        Effect.zipRight(
          Queue.offer(chunks, { offset: 0, bytes: Buffer.from(text) }),
          TestClock.adjust("1 millis"),
        )
      yield* TestClock.adjust("2 seconds") // the start-up look: busy, settles
      const afterStart = yield* Ref.get(captures)
      expect(afterStart).toBe(1)

      // Spinner for 2 s: never waiting.
      for (let i = 0; i < 20; i++) {
        yield* out("\r✻ Thinking…")
        yield* TestClock.adjust("99 millis")
      }
      expect(yield* Ref.get(captures)).toBe(afterStart)
      yield* Ref.set(shown, waitingScreen)
      yield* out("Do you want to proceed?")
      yield* TestClock.adjust("999 millis")
      expect(seen).toEqual([{ waitingForInput: false }])
      yield* TestClock.adjust("1 millis") // first capture
      expect(seen).toHaveLength(1)
      yield* TestClock.adjust("250 millis") // second capture agrees
      expect(seen).toEqual([
        { waitingForInput: false },
        expect.objectContaining({ waitingForInput: true, reason: "permission" }),
      ])

      // Spinner ticks while the prompt stays up: still waiting after the re-checks.
      for (let i = 0; i < 5; i++) {
        yield* out("\r✻ Thinking…")
        yield* TestClock.adjust("99 millis")
      }
      yield* TestClock.adjust("2 seconds")
      expect(seen).toHaveLength(2)

      // Quiet: no captures at all over a long time.
      const settled = yield* Ref.get(captures)
      yield* TestClock.adjust("1 hour")
      expect(yield* Ref.get(captures)).toBe(settled)

      // The prompt closes: cleared ~300 ms after the output, not after the debounce.
      yield* Ref.set(shown, busyScreen)
      yield* out("approved")
      yield* TestClock.adjust("298 millis")
      expect(seen).toHaveLength(2)
      yield* TestClock.adjust("2 millis")
      expect(seen[2]).toEqual({ waitingForInput: false })
      expect(yield* detector.current).toEqual({ waitingForInput: false })
      yield* TestClock.adjust("10 seconds")
      expect(seen).toHaveLength(3)
      yield* Fiber.interrupt(collector)
    }),
  )

  it.scoped("a BEL after output, with no rule matching, is reason bell", () =>
    Effect.gen(function* () {
      const rules = yield* loadRuleSet("shell")
      const chunks = yield* Queue.unbounded<LogChunk>()
      const detector = yield* makeAttentionDetector({
        handle: {
          followOutput: followQueue(chunks),
          logBounds: Effect.succeed({ start: 0, end: 0 }),
        },
        capture: Effect.succeed(screenOf(["$ make", "done"])),
        rules,
        debounceMs: 800,
      })
      yield* TestClock.adjust("1 second")
      yield* Queue.offer(chunks, { offset: 0, bytes: Buffer.from("\u001b]0;title\u0007done\n") })
      yield* TestClock.adjust("2 seconds")
      expect(yield* detector.current).toEqual({ waitingForInput: false })
      yield* Queue.offer(chunks, { offset: 0, bytes: Buffer.from("\u0007") })
      yield* TestClock.adjust("1 millis")
      yield* TestClock.adjust("799 millis")
      expect(yield* detector.current).toEqual({ waitingForInput: false })
      yield* TestClock.adjust("250 millis")
      expect(yield* detector.current).toEqual({ waitingForInput: true, reason: "bell" })
    }),
  )
})
