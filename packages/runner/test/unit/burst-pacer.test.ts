import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { makeBurstPacer } from "../../src/logs/log-feed.js"

/** The pacer on the TestClock: wake-ups `gapsMs` apart, the pause each one gets. */
const paces = (gapsMs: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const pace = makeBurstPacer(() => clock.unsafeCurrentTimeMillis())
    const out: number[] = []
    for (const gap of gapsMs) {
      yield* TestClock.adjust(gap)
      out.push(pace())
    }
    return out
  })

describe("makeBurstPacer (TestClock)", () => {
  it.effect(
    "reads a lone wake-up, and each of the writes of a two- or three-part echo, at once",
    () =>
      Effect.gen(function* () {
        // Keystrokes 40 ms apart, each answered in three writes 1 ms apart.
        const gaps = [40, 1, 1, 40, 1, 1, 40, 1, 1]
        expect(yield* paces(gaps)).toEqual(gaps.map(() => 0))
      }),
  )

  it.effect("paces a burst from its fifth quick wake-up on, and stops once a gap comes", () =>
    Effect.gen(function* () {
      // A flood: a wake-up every 0.5 ms, then a pause of 5 ms, then another flood.
      const flood = [10, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
      expect(yield* paces([...flood, 5, 0.5, 0.5, 0.5, 0.5, 0.5])).toEqual([
        0, 0, 0, 0, 3, 3, 3,
        // 5 ms is no longer a burst: read at once, and the count starts over.
        0, 0, 0, 0, 3, 3,
      ])
    }),
  )

  it.effect("a gap just under 5 ms still counts as the same burst", () =>
    Effect.gen(function* () {
      expect(yield* paces([10, 4.9, 4.9, 4.9, 4.9, 4.9])).toEqual([0, 0, 0, 0, 3, 3])
    }),
  )
})
