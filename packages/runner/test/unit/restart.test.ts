import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Stream } from "effect"
import { JournalStore } from "../../src/journal/journal-store.js"
import { decodeRunnerState } from "../../src/runners/runner-codec.js"
import { claudePermission } from "../attention/fixtures.js"
import {
  advance,
  isAttention,
  isStatus,
  registryWorld,
  UNIT_ATTENTION,
} from "../support/registry-world.js"
import { logLayer } from "../support/world.js"

const shell = (name: string) => ({ provider: "shell", command: ["agent"], name })

describe("a registry restart (in-memory monitor)", () => {
  it.scoped(
    "live runners are watched again, one that ended while away is finished with its recorded exit, finished ones come back from the journal",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const first = yield* world.open
        const live = (yield* first.registry.startRunner(shell("live"))).runner.id
        const away = (yield* first.registry.startRunner(shell("away"))).runner.id
        const done = (yield* first.registry.startRunner(shell("done"))).runner.id
        yield* world.state.process(live).print("before\r\n")
        yield* world.state.process(done).print("all done\r\n")
        yield* world.state.process(done).exit(0)
        const finished = yield* first.registry.waitForCompletion(done)
        yield* first.close

        // While no registry watches: one keeps printing, one ends.
        const fakeLive = world.state.process(live)
        expect(fakeLive.watchers()).toBe(0)
        yield* fakeLive.print("while away\r\n")
        yield* world.state.process(away).print("last words\r\n")
        yield* world.state.process(away).exit(7)

        const second = yield* world.open
        const byId = new Map((yield* second.registry.listRunners).map((r) => [r.id, r]))
        expect([...byId.keys()].sort()).toEqual([live, away, done].sort())
        // Never listed as running: finished first, with the code recorded in its folder.
        expect(byId.get(away)).toMatchObject({
          status: "failed",
          exitCode: 7,
          bytesOut: "last words\r\n".length,
        })
        expect(byId.get(done)).toMatchObject({
          status: "completed",
          exitCode: 0,
          bytesOut: finished.runner.bytesOut,
          endedAt: finished.runner.endedAt,
        })
        const doneAgain = yield* second.registry.getRunner(done)
        expect(doneAgain.metrics).toMatchObject({
          lines: 1,
          bytesOut: "all done\r\n".length,
        })

        // The live one is watched again, the bytes printed while away counted once.
        const liveAgain = yield* second.registry.getRunner(live)
        expect(liveAgain.runner.status).toBe("running")
        expect(liveAgain.runner.bytesOut).toBe("before\r\nwhile away\r\n".length)
        expect(fakeLive.watchers()).toBe(1)
        yield* fakeLive.print("after\r\n")
        expect((yield* second.registry.getRunner(live)).runner.bytesOut).toBe(
          "before\r\nwhile away\r\nafter\r\n".length,
        )
        const text = yield* second.registry.output(live, 0).pipe(Stream.take(1), Stream.runCollect)
        expect(Buffer.from(Chunk.toReadonlyArray(text)[0]?.bytes ?? []).toString()).toBe(
          "before\r\nwhile away\r\nafter\r\n",
        )
        yield* fakeLive.exit(0)
        yield* second.feed.waitFor(isStatus(live, "completed"))
        expect((yield* second.registry.waitForCompletion(live)).runner.exitCode).toBe(0)
      }),
  )

  it.scoped("a session that vanished while away is finished as ended with the server down", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const first = yield* world.open
      const { runner } = yield* first.registry.startRunner(shell("vanishing"))
      yield* first.close
      yield* world.state.process(runner.id).vanish
      const second = yield* world.open
      const found = yield* second.registry.getRunner(runner.id)
      expect(found.runner).toMatchObject({ status: "failed" })
      expect(found.runner.exitCode).toBeUndefined()
      expect(found.runner.failureReason).toContain("ended while the server was down")
    }),
  )

  it.scoped(
    "a runner waiting for input is still waiting after a restart, and not announced again",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const first = yield* world.open
        const { runner } = yield* first.registry.startRunner({ provider: "claude", name: "asking" })
        const fake = world.state.process(runner.id)
        yield* fake.draw(claudePermission)
        yield* advance(UNIT_ATTENTION.debounceMs)
        yield* advance(UNIT_ATTENTION.confirmMs)
        yield* first.feed.waitFor(isAttention(runner.id, true))
        yield* first.close

        const second = yield* world.open
        const restored = yield* second.registry.getRunner(runner.id)
        expect(restored.runner).toMatchObject({
          waitingForInput: true,
          attentionReason: "permission",
        })
        // The carried-over state is re-checked once: the prompt is still up, so it stays.
        yield* advance(UNIT_ATTENTION.recheckMs)
        expect((yield* second.registry.getRunner(runner.id)).runner.waitingForInput).toBe(true)
        const attention = (yield* second.feed.drain).filter(
          (e) => e.type === "event" && e.event.type === "attention",
        )
        expect(attention).toEqual([])
      }),
  )
})

describe("journal rules (in-memory monitor)", () => {
  it.scoped("a removed runner does not come back; bytesOut survives a restart", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const first = yield* world.open
      const kept = (yield* first.registry.startRunner(shell("kept"))).runner.id
      const removed = (yield* first.registry.startRunner(shell("removed"))).runner.id
      yield* world.state.process(kept).print("x".repeat(1000))
      yield* world.state.process(kept).exit(0)
      yield* first.registry.waitForCompletion(kept)
      yield* world.state.process(removed).print("gone soon")
      yield* first.registry.removeRunner(removed)
      yield* first.close

      const second = yield* world.open
      const listed = yield* second.registry.listRunners
      expect(listed.map((r) => r.id)).toEqual([kept])
      expect(listed[0]?.bytesOut).toBe(1000)
      expect((yield* second.registry.getRunner(kept)).metrics.bytesOut).toBe(1000)
      yield* second.close

      // And again: compaction at start-up keeps the same answer.
      const third = yield* world.open
      expect((yield* third.registry.listRunners).map((r) => [r.id, r.bytesOut])).toEqual([
        [kept, 1000],
      ])
    }),
  )

  it.scoped(
    "bytesOut of a live runner is checkpointed when it goes idle, and counted once across a restart",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const first = yield* world.open
        const { runner } = yield* first.registry.startRunner(shell("counting"))
        const fake = world.state.process(runner.id)
        yield* fake.print("y".repeat(300))
        // Idle after idleThresholdMs of silence: the registry checkpoints its counters.
        yield* advance(world.config.idleThresholdMs)
        yield* first.feed.waitFor(
          (e): e is Extract<typeof e, { type: "event" }> =>
            e.type === "event" &&
            e.runnerId === runner.id &&
            e.event.type === "activity" &&
            e.event.state === "idle",
        )
        yield* first.close
        const journaled = yield* JournalStore.pipe(
          Effect.flatMap((journal) => journal.load),
          Effect.provide(JournalStore.Default.pipe(Layer.provide(logLayer(world.config)))),
        )
        const record = decodeRunnerState(journaled.runners.get(runner.id) ?? {})
        expect(Either.getOrThrow(record).metrics.bytesOut).toBe(300)
        const second = yield* world.open
        const again = yield* second.registry.getRunner(runner.id)
        expect(again.runner).toMatchObject({ status: "running", bytesOut: 300 })
        yield* fake.print("z".repeat(50))
        expect((yield* second.registry.getRunner(runner.id)).runner.bytesOut).toBe(350)
      }),
  )
})
