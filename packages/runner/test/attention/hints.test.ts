import { describe, expect, it } from "@effect/vitest"
import { Effect, Queue, Ref, Stream, TestClock } from "effect"
import { makeAttentionDetector } from "../../src/attention/detector.js"
import { type Screen, type ScreenVerdict, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import {
  type AttentionHint,
  type AttentionModel,
  type AttentionState,
  initialAttention,
  NOT_WAITING,
  onAttentionHint,
  onAttentionOutput,
  onAttentionSample,
} from "../../src/attention/signals.js"
import type { LogChunk } from "../../src/logs/log-store.js"
import { followQueue } from "../streams.js"
import { claudePermission, claudeReady, screen } from "./fixtures.js"

const s = { debounceMs: 1_000, confirmMs: 250, recheckMs: 300 }
const ready: AttentionHint = { kind: "waiting", reason: "ready" }
const working: AttentionHint = { kind: "working" }
const unknown: ScreenVerdict = { kind: "unknown" }
const busy: ScreenVerdict = { kind: "busy", ruleId: "b" }

/** A model already waiting through two agreeing captures of `v`. */
const waitingOn = (v: ScreenVerdict): AttentionModel => {
  let m = onAttentionOutput(initialAttention(0, s), 0, false, s)
  m = onAttentionSample(m, 1_000, v, s).model
  return onAttentionSample(m, 1_250, v, s).model
}

describe("onAttentionHint", () => {
  it("a waiting hint is published at once, with no capture owed", () => {
    // Mid-debounce, with a bell pending: the hint settles both.
    const m = onAttentionOutput(initialAttention(0, s), 100, true, s)
    const step = onAttentionHint(m, 200, { kind: "waiting", reason: "permission" }, s)
    expect(step.changed).toEqual({ waitingForInput: true, reason: "permission" })
    expect(step.model.state).toEqual(step.changed)
    expect(step.model.pending).toBeUndefined()
    expect(step.model.bell).toBe(false)
  })

  it("a waiting hint with the reason already shown keeps the rule's id and answers", () => {
    const answers = [{ label: "Yes", keys: "1" }]
    const m = waitingOn({ kind: "waiting", reason: "permission", ruleId: "p", answers })
    const same = onAttentionHint(m, 2_000, { kind: "waiting", reason: "permission" }, s)
    expect(same.changed).toBeUndefined()
    expect(same.model.state).toEqual({
      waitingForInput: true,
      reason: "permission",
      ruleId: "p",
      answers,
    })
    // Another reason is news: the agent said so.
    const other = onAttentionHint(m, 2_000, { kind: "waiting", reason: "question" }, s)
    expect(other.changed).toEqual({ waitingForInput: true, reason: "question" })
  })

  it("a working hint clears waiting at once and restarts the debounce", () => {
    const m = waitingOn({ kind: "ready", reason: "ready", ruleId: "r" })
    const step = onAttentionHint(m, 5_000, working, s)
    expect(step.changed).toEqual(NOT_WAITING)
    expect(step.model.pending).toEqual({ kind: "sample", at: 6_000 })
    // The screen still says ready after the debounce: waiting again, through the usual pair.
    const first = onAttentionSample(step.model, 6_000, { kind: "ready", reason: "ready" }, s)
    expect(first.changed).toBeUndefined()
    expect(
      onAttentionSample(first.model, 6_250, { kind: "ready", reason: "ready" }, s).changed,
    ).toMatchObject({ waitingForInput: true })
  })

  it("a working hint while not waiting publishes nothing and drops a half-confirmed candidate", () => {
    let m = onAttentionOutput(initialAttention(0, s), 0, true, s)
    m = onAttentionSample(m, 1_000, unknown, s).model
    expect(m.pending?.kind).toBe("confirm")
    const step = onAttentionHint(m, 1_100, working, s)
    expect(step.changed).toBeUndefined()
    expect(step.model.pending).toEqual({ kind: "sample", at: 2_100 })
    expect(step.model.bell).toBe(false)
  })

  it("output after a waiting hint is re-checked as usual: kept by a rule, cleared without one", () => {
    const hinted = onAttentionHint(initialAttention(0, s), 1_000, ready, s).model
    const redraw = onAttentionOutput(hinted, 1_050, false, s)
    expect(redraw.pending).toEqual({ kind: "recheck", at: 1_350 })
    // A ready rule still matches: still waiting, now with the rule's id.
    const kept = onAttentionSample(
      redraw,
      1_350,
      { kind: "ready", reason: "ready", ruleId: "r" },
      s,
    )
    expect(kept.changed).toEqual({ waitingForInput: true, reason: "ready", ruleId: "r" })
    // Only a spinner: cleared, and the output goes through the debounce.
    const cleared = onAttentionSample(redraw, 1_350, busy, s)
    expect(cleared.changed).toEqual(NOT_WAITING)
    expect(cleared.model.pending).toEqual({ kind: "sample", at: 2_050 })
  })
})

const busyScreen = screenOf(screen("● working\n\n✻ Thinking… (3s · esc to interrupt)\n"))
const readyScreen = screenOf(claudeReady)

/** A detector on a fake pane: output, hints and the shown screen are driven by the test. */
const fakePane = (debounceMs = 1_000) =>
  Effect.gen(function* () {
    const chunks = yield* Queue.unbounded<LogChunk>()
    const hints = yield* Queue.unbounded<AttentionHint>()
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
      rules: yield* loadRuleSet("claude"),
      hints: Stream.fromQueue(hints),
      debounceMs,
    })
    const seen: AttentionState[] = []
    yield* detector.changes.pipe(
      Stream.runForEach((st) => Effect.sync(() => seen.push(st))),
      Effect.forkScoped,
    )
    const out = (text: string) =>
      Effect.zipRight(
        Queue.offer(chunks, { offset: 0, bytes: Buffer.from(text) }),
        TestClock.adjust("1 millis"),
      )
    const hint = (h: AttentionHint) =>
      Effect.zipRight(Queue.offer(hints, h), TestClock.adjust("1 millis"))
    return { seen, shown, captures, chunks, out, hint, detector }
  })

describe("attention detector with hints (TestClock)", () => {
  it.scoped("a waiting hint cuts the debounce short; a working hint clears it at once", () =>
    Effect.gen(function* () {
      const pane = yield* fakePane()
      yield* TestClock.adjust("2 seconds") // the start-up look: busy
      yield* pane.out("\r✻ Thinking…")
      yield* TestClock.adjust("100 millis")
      // The debounce has 900 ms to go; the hook does not wait for it.
      yield* pane.hint({ kind: "waiting", reason: "permission" })
      expect(pane.seen).toEqual([NOT_WAITING, { waitingForInput: true, reason: "permission" }])
      const captures = yield* Ref.get(pane.captures)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Ref.get(pane.captures)).toBe(captures)
      expect(pane.seen).toHaveLength(2)

      yield* pane.hint({ kind: "working" })
      expect(pane.seen[2]).toEqual(NOT_WAITING)
      // The restarted debounce looks once, sees the spinner, and settles.
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(pane.captures)).toBe(captures + 1)
      yield* TestClock.adjust("1 hour")
      expect(yield* Ref.get(pane.captures)).toBe(captures + 1)
      expect(pane.seen).toHaveLength(3)
    }),
  )

  it.scoped("after a Stop hint the agent's redraw is re-checked: a ready prompt keeps it", () =>
    Effect.gen(function* () {
      const pane = yield* fakePane()
      yield* TestClock.adjust("2 seconds")
      yield* pane.hint(ready)
      expect(yield* pane.detector.current).toEqual({ waitingForInput: true, reason: "ready" })
      yield* Ref.set(pane.shown, readyScreen)
      yield* pane.out("\r> ")
      yield* TestClock.adjust("300 millis")
      // Same reason, now backed by the screen rule.
      expect(yield* pane.detector.current).toMatchObject({
        waitingForInput: true,
        reason: "ready",
        ruleId: expect.stringMatching(/^claude\.ready/),
      })
      // The user sends a prompt: the spinner comes back and the re-check clears it.
      yield* Ref.set(pane.shown, busyScreen)
      yield* pane.out("\r✻ Thinking…")
      yield* TestClock.adjust("300 millis")
      expect(yield* pane.detector.current).toEqual(NOT_WAITING)
    }),
  )

  it.scoped("hints and output are replayed in order: output before a hint does not undo it", () =>
    Effect.gen(function* () {
      const pane = yield* fakePane()
      yield* TestClock.adjust("2 seconds")
      yield* Ref.set(pane.shown, screenOf(claudePermission))
      // Output, then the hint, with no time for the driver in between.
      yield* Queue.offer(pane.chunks, { offset: 0, bytes: Buffer.from("menu drawn") })
      yield* pane.hint({ kind: "waiting", reason: "permission" })
      expect(yield* pane.detector.current).toEqual({ waitingForInput: true, reason: "permission" })
      // No re-check is owed for output that came before the hint.
      yield* TestClock.adjust("5 seconds")
      expect(pane.seen).toHaveLength(2)
    }),
  )
})
