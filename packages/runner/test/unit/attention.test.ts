import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { claudeBusy, claudePermission, shellYesNo } from "../attention/fixtures.js"
import {
  advance,
  isAttention,
  registryWorld,
  transitions,
  UNIT_ATTENTION,
} from "../support/registry-world.js"

const { debounceMs, confirmMs, recheckMs } = UNIT_ATTENTION

describe("attention (in-memory monitor, TestClock)", () => {
  it.scoped(
    "a permission prompt is waitingForInput after the debounce and the confirmation, not a millisecond before",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry, feed } = yield* world.open
        const { runner } = yield* registry.startRunner({ provider: "claude", name: "asks" })
        const fake = world.state.process(runner.id)
        yield* fake.draw(claudePermission)
        // The screen is read only after debounceMs of silence...
        yield* advance(debounceMs - 1)
        expect(fake.calls()).toEqual([])
        yield* advance(1)
        // ...and taken only when a second look confirmMs later agrees.
        yield* advance(confirmMs - 1)
        expect((yield* registry.getRunner(runner.id)).runner.waitingForInput).toBe(false)
        expect(transitions(yield* feed.drain, runner.id)).toEqual([])
        yield* advance(1)
        yield* feed.waitFor(isAttention(runner.id, true))
        const waiting = yield* registry.getRunner(runner.id)
        expect(waiting.runner).toMatchObject({
          status: "running",
          waitingForInput: true,
          attentionReason: "permission",
        })
        expect(waiting.answers?.[0]).toEqual({ label: "Yes", keys: "1" })

        // The prompt goes: output, then one re-check recheckMs later clears it.
        yield* fake.draw(claudeBusy)
        yield* advance(recheckMs)
        yield* feed.waitFor(isAttention(runner.id, false))
        expect((yield* registry.getRunner(runner.id)).runner.waitingForInput).toBe(false)
        expect(transitions(feed.seen, runner.id)).toEqual(["waiting:permission", "working"])
      }),
  )

  it.scoped(
    "output before the debounce is over starts it again: a busy agent is never sampled",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry, feed } = yield* world.open
        const { runner } = yield* registry.startRunner({
          provider: "shell",
          command: ["build"],
          name: "chatty",
        })
        const fake = world.state.process(runner.id)
        yield* fake.setScreen(shellYesNo)
        // A line every half debounce for five debounces: the prompt is up, but never quiet.
        for (let i = 0; i < 10; i++) {
          yield* fake.print(`line ${i}\r\n`)
          yield* advance(debounceMs / 2)
        }
        expect((yield* registry.getRunner(runner.id)).runner.waitingForInput).toBe(false)
        // Quiet at last: waiting once the debounce and the confirmation are over.
        yield* advance(debounceMs / 2)
        yield* advance(confirmMs)
        yield* feed.waitFor(isAttention(runner.id, true))
        expect((yield* registry.getRunner(runner.id)).runner).toMatchObject({
          waitingForInput: true,
          attentionReason: "question",
        })
        expect(transitions(feed.seen, runner.id)).toEqual(["waiting:question"])
      }),
  )

  it.scoped(
    "a spinner ticking above a prompt that stays up is re-checked, and it stays waiting",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry, feed } = yield* world.open
        const { runner } = yield* registry.startRunner({ provider: "claude", name: "ticking" })
        const fake = world.state.process(runner.id)
        yield* fake.draw(claudePermission)
        yield* advance(debounceMs)
        yield* advance(confirmMs)
        yield* feed.waitFor(isAttention(runner.id, true))
        // Five ticks 100 ms apart, each redrawing a line above the menu, then quiet for a while.
        for (let s = 21; s <= 25; s++) {
          yield* fake.print(`\x1b7\x1b[11A\r\x1b[K✻ Thinking… (${s}s · esc to interrupt)\x1b8`)
          yield* advance(100)
        }
        yield* advance(recheckMs + debounceMs)
        const after = yield* registry.getRunner(runner.id)
        expect(after.runner).toMatchObject({ waitingForInput: true, attentionReason: "permission" })
        expect(after.metrics.attentionCount).toBe(1)
        expect(transitions(yield* feed.drain, runner.id)).toEqual(["waiting:permission"])
      }),
  )

  it.scoped("nothing is announced after a runner ends, whatever its last screen", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry, feed } = yield* world.open
      const { runner } = yield* registry.startRunner({ provider: "claude", name: "leaving" })
      const fake = world.state.process(runner.id)
      yield* fake.draw(claudePermission)
      yield* fake.exit(0)
      yield* registry.waitForCompletion(runner.id)
      yield* advance(10 * (debounceMs + confirmMs))
      const done = yield* registry.getRunner(runner.id)
      expect(done.runner).toMatchObject({ status: "completed", waitingForInput: false })
      expect(transitions(yield* feed.drain, runner.id)).toEqual(["status:completed"])
    }),
  )
})
