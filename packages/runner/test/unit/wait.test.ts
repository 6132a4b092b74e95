import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import { claudeBusy, claudePermission, claudeReady } from "../attention/fixtures.js"
import { advance, registryWorld, UNIT_ATTENTION } from "../support/registry-world.js"

const { debounceMs, confirmMs } = UNIT_ATTENTION
/** The detector's debounce and confirmation, after which a quiet screen is taken. */
const settle = advance(debounceMs + confirmMs)

const shell = (name: string) => ({ provider: "shell", command: ["agent"], name })

/** Whether `fiber` has ended, without waiting for it. */
const ended = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.map(Fiber.poll(fiber), (exit) => exit._tag === "Some")

describe("waitForCompletion (in-memory monitor, TestClock)", () => {
  it.scoped("done: resolves on the exit with the final detail; at once for a finished runner", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("finishing"))
      const waiting = yield* Effect.fork(registry.waitForCompletion(runner.id))
      yield* Effect.yieldNow()
      expect(yield* ended(waiting)).toBe(false)
      yield* world.state.process(runner.id).exit(3)
      const done = yield* Fiber.join(waiting)
      expect(done.runner).toMatchObject({ status: "failed", exitCode: 3 })
      expect(done.session).toBeUndefined()
      // Once finished, every wait is answered at once, whatever it waits for.
      for (const target of ["done", "waiting", "idle"] as const) {
        const again = yield* registry.waitForCompletion(runner.id, { for: target })
        expect(again.runner.status).toBe("failed")
      }
    }),
  )

  it.scoped("waiting: resolves when a prompt is taken, not on output before it", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner({ provider: "claude", name: "asking" })
      const fake = world.state.process(runner.id)
      const waiting = yield* Effect.fork(registry.waitForCompletion(runner.id, { for: "waiting" }))
      yield* fake.draw(claudeBusy)
      yield* settle
      expect(yield* ended(waiting)).toBe(false)
      yield* fake.draw(claudePermission)
      yield* settle
      const reached = yield* Fiber.join(waiting)
      expect(reached.runner).toMatchObject({
        status: "running",
        waitingForInput: true,
        attentionReason: "permission",
      })
      // Already waiting: answered at once.
      const again = yield* registry.waitForCompletion(runner.id, { for: "waiting" })
      expect(again.runner.waitingForInput).toBe(true)
    }),
  )

  it.scoped("idle: a permission prompt is not idle; the agent back at its prompt is", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner({ provider: "claude", name: "turns" })
      const fake = world.state.process(runner.id)
      const idle = yield* Effect.fork(registry.waitForCompletion(runner.id, { for: "idle" }))
      yield* fake.draw(claudePermission)
      yield* settle
      expect((yield* registry.getRunner(runner.id)).runner.waitingForInput).toBe(true)
      expect(yield* ended(idle)).toBe(false)
      yield* fake.draw(claudeReady)
      yield* settle
      const reached = yield* Fiber.join(idle)
      expect(reached.runner).toMatchObject({ status: "idle", attentionReason: "ready" })
    }),
  )

  it.scoped("a runner that ends before it waits resolves the wait with its final detail", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("quick"))
      const waiting = yield* Effect.fork(registry.waitForCompletion(runner.id, { for: "waiting" }))
      yield* Effect.yieldNow()
      yield* world.state.process(runner.id).exit(0)
      const reached = yield* Fiber.join(waiting)
      expect(reached.runner).toMatchObject({ status: "completed", waitingForInput: false })
    }),
  )

  it.scoped(
    "an unknown runner is NotFoundError; removing a runner ends a wait on it, never leaves it hanging",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry } = yield* world.open
        const unknown = yield* Effect.either(registry.waitForCompletion("run-nope"))
        expect(Either.isLeft(unknown) && unknown.left._tag).toBe("NotFoundError")
        const { runner } = yield* registry.startRunner(shell("doomed"))
        const waiting = yield* Effect.fork(
          Effect.either(registry.waitForCompletion(runner.id, { for: "idle" })),
        )
        yield* Effect.yieldNow()
        yield* registry.removeRunner(runner.id)
        const outcome = yield* Fiber.join(waiting)
        // Removal ends it first (its final detail), or says it is gone: never a hang.
        if (Either.isRight(outcome)) expect(outcome.right.runner.status).toBe("failed")
        else expect(outcome.left._tag).toBe("NotFoundError")
      }),
  )
})
