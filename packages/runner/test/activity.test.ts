import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, Queue, Stream, TestClock } from "effect"
import type { ActivityState } from "../src/domain/events.js"
import { ProcessId } from "../src/domain/ids.js"
import {
  type ActivityModel,
  initialActivity,
  onOutput,
  onSilence,
  runActivityTracker,
} from "../src/monitor/activity.js"
import { testRunner } from "./harness.js"

const settings = { idleMs: 2_000, confirmMs: 300 }

describe("activity model", () => {
  it("turns idle after the threshold of silence, not before", () => {
    const m = initialActivity(0)
    expect(onSilence(m, 1_999, settings).state).toBe("active")
    expect(onSilence(m, 2_000, settings).state).toBe("idle")
  })

  it("needs sustained output to turn active again (hysteresis)", () => {
    let m: ActivityModel = onSilence(initialActivity(0), 2_000, settings)
    m = onOutput(m, 5_000, settings) // one blip
    expect(m.state).toBe("idle")
    m = onOutput(m, 5_100, settings)
    expect(m.state).toBe("idle")
    m = onOutput(m, 5_300, settings) // 300 ms of output
    expect(m.state).toBe("active")
  })

  it("a lone blip long after the last one starts a new burst", () => {
    let m: ActivityModel = onSilence(initialActivity(0), 2_000, settings)
    m = onOutput(m, 5_000, settings)
    m = onOutput(m, 9_000, settings) // 4 s later: a new burst, not a continuation
    expect(m).toMatchObject({ state: "idle", burstStartedAt: 9_000 })
  })
})

describe("activity tracker (TestClock)", () => {
  it.scoped("emits idle after 2 s of silence, active after sustained output, once each", () =>
    Effect.gen(function* () {
      const signals = yield* Queue.sliding<number>(1)
      const output = Effect.flatMap(Clock.currentTimeMillis, (t) => Queue.offer(signals, t))
      const seen: ActivityState[] = []
      const current = { model: initialActivity(0) }
      const fiber = yield* Effect.fork(
        runActivityTracker(signals, settings, (s) => Effect.sync(() => seen.push(s)), current),
      )
      yield* TestClock.adjust("1999 millis")
      expect(seen).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(seen).toEqual(["idle"])
      // A single blip does not flip it.
      yield* output
      yield* TestClock.adjust("100 millis")
      expect(seen).toEqual(["idle"])
      // Output every 100 ms: active once 300 ms of it have been seen.
      for (let i = 0; i < 4; i++) {
        yield* output
        yield* TestClock.adjust("100 millis")
      }
      expect(seen).toEqual(["idle", "active"])
      yield* TestClock.adjust("2 seconds")
      expect(seen).toEqual(["idle", "active", "idle"])
      yield* Fiber.interrupt(fiber)
    }),
  )
})

describe("activity of a real process", () => {
  it.scopedLive("goes idle when output stops and active when it resumes", () =>
    Effect.gen(function* () {
      const { monitor } = yield* testRunner({ idleThresholdMs: 800, activeConfirmMs: 100 })
      const handle = yield* monitor.spawn(
        "sh",
        [
          "-c",
          "echo start; sleep 2; i=0; while [ $i -lt 12 ]; do echo tick $i; sleep 0.05; i=$((i+1)); done; sleep 2",
        ],
        { processId: ProcessId("ticker"), cwd: "/tmp" },
      )
      const states = yield* handle.events.pipe(
        Stream.filterMap((e) => (e._tag === "activity" ? Option.some(e.state) : Option.none())),
        Stream.runCollect,
      )
      expect([...states]).toEqual(["idle", "active", "idle"])
      expect(yield* handle.getActivityState).toBe("idle")
    }),
  )
})
