import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { advance, isStatus, registryWorld } from "../support/registry-world.js"

describe("maxDurationMs (in-memory monitor, TestClock)", () => {
  it.scoped(
    "a runner is stopped when its time is up, not before, and ends failed with a timeout",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry, feed } = yield* world.open
        const { runner } = yield* registry.startRunner({
          provider: "shell",
          command: ["forever"],
          name: "slow",
          maxDurationMs: 60_000,
        })
        const fake = world.state.process(runner.id)
        yield* advance(59_999)
        expect(fake.status()).toBe("running")
        expect((yield* registry.getRunner(runner.id)).runner.status).toBe("running")
        yield* advance(1)
        yield* feed.waitFor(isStatus(runner.id, "failed"))
        const done = yield* registry.waitForCompletion(runner.id)
        expect(done.runner).toMatchObject({
          status: "failed",
          failureReason: "timeout: ran longer than maxDurationMs (60000 ms)",
        })
        expect(fake.calls()).toEqual([
          { op: "terminate", signal: "SIGINT" },
          { op: "closeSession" },
        ])
        // On the test's clock: the limit to the millisecond.
        expect((done.runner.endedAt ?? 0) - (done.runner.startedAt ?? 0)).toBe(60_000)
      }),
  )

  it.scoped("a runner that ignores C-c and SIGTERM is killed a grace period after each", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry, feed } = yield* world.open
      const { runner } = yield* registry.startRunner({
        provider: "shell",
        command: ["stubborn"],
        name: "stubborn",
        maxDurationMs: 1_000,
      })
      const fake = world.state.process(runner.id)
      fake.ignoreSignals(2)
      yield* advance(1_000)
      expect(fake.calls()).toEqual([{ op: "terminate", signal: "SIGINT" }])
      yield* advance(world.config.terminateGraceMs)
      expect(fake.status()).toBe("running")
      yield* advance(world.config.terminateGraceMs)
      yield* feed.waitFor(isStatus(runner.id, "failed"))
      const done = yield* registry.waitForCompletion(runner.id)
      expect(fake.calls().map((c) => (c.op === "terminate" ? c.signal : c.op))).toEqual([
        "SIGINT",
        "SIGTERM",
        "SIGKILL",
        "closeSession",
      ])
      expect(done.runner.failureReason).toBe("timeout: ran longer than maxDurationMs (1000 ms)")
    }),
  )

  it.scoped("a runner that ends by itself before its limit is not stopped", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner({
        provider: "shell",
        command: ["quick"],
        name: "quick",
        maxDurationMs: 1_000,
      })
      const fake = world.state.process(runner.id)
      yield* advance(999)
      yield* fake.exit(0)
      const done = yield* registry.waitForCompletion(runner.id)
      yield* advance(10_000)
      expect(done.runner).toMatchObject({ status: "completed", exitCode: 0 })
      expect((yield* registry.getRunner(runner.id)).runner.status).toBe("completed")
      expect(fake.calls()).toEqual([{ op: "closeSession" }])
    }),
  )
})
