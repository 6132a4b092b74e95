import { existsSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { isRemoved, isStatus, registryWorld, transitions } from "../support/registry-world.js"

const shell = (name: string) => ({ provider: "shell", command: ["agent"], name })

const logText = (chunks: Chunk.Chunk<{ readonly bytes: Uint8Array }>) =>
  Buffer.concat(Chunk.toReadonlyArray(chunks).map((c) => Buffer.from(c.bytes))).toString()

describe("runner lifecycle (in-memory monitor)", () => {
  it.scoped("start is running; exit 0 is completed with its exit code, metrics and log", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry, feed } = yield* world.open
      const started = yield* registry.startRunner({ ...shell("ok"), mode: "oneshot" })
      const id = started.runner.id
      expect(started.runner).toMatchObject({ name: "ok", status: "running", mode: "oneshot" })
      const fake = world.state.process(id)
      expect(fake).toMatchObject({ command: "agent", sessionName: "ok", cwd: world.dataDir })
      yield* fake.print("one\r\ntwo\r\n")
      // Counted as soon as it is logged: the monitor hands it over before `print` returns.
      expect((yield* registry.getRunner(id)).runner.bytesOut).toBe(10)
      yield* fake.exit(0)
      const done = yield* registry.waitForCompletion(id)
      expect(done.runner).toMatchObject({ status: "completed", exitCode: 0, bytesOut: 10 })
      expect(done.runner.failureReason).toBeUndefined()
      expect(done.metrics.lines).toBe(2)
      expect(done.session).toBeUndefined()
      yield* feed.waitFor(isStatus(id, "completed"))
      // Its session is closed; its log is read from the folder from now on.
      expect(fake.status()).toBe("gone")
      const text = yield* registry.output(id, 0).pipe(Stream.take(1), Stream.runCollect)
      expect(logText(text)).toBe("one\r\ntwo\r\n")
    }),
  )

  it.scoped("a non-zero exit is failed, with the code as the reason", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry, feed } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("bad"))
      yield* world.state.process(runner.id).exit(1)
      const done = yield* registry.waitForCompletion(runner.id)
      expect(done.runner).toMatchObject({
        status: "failed",
        exitCode: 1,
        failureReason: "exited with code 1",
      })
      yield* feed.waitFor(isStatus(runner.id, "failed"))
      expect(transitions(feed.seen, runner.id)).toEqual(["status:failed"])
    }),
  )

  it.scoped("pause and resume reach the process and show in the status", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry, feed } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("pausing"))
      const fake = world.state.process(runner.id)
      const paused = yield* registry.pauseRunner(runner.id)
      expect(paused.runner.status).toBe("paused")
      expect(fake.status()).toBe("paused")
      const resumed = yield* registry.resumeRunner(runner.id)
      expect(resumed.runner.status).toBe("running")
      expect(fake.status()).toBe("running")
      yield* feed.waitFor(isStatus(runner.id, "running"))
      expect(transitions(feed.seen, runner.id)).toEqual(["status:paused", "status:running"])
      expect(fake.calls()).toEqual([{ op: "pause" }, { op: "resume" }])
    }),
  )

  it.scoped("terminate ends a runner: failed, terminated by C-c, session closed", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("stopping"))
      const fake = world.state.process(runner.id)
      // Paused first: it is resumed so that it can act on C-c.
      yield* registry.pauseRunner(runner.id)
      const stopped = yield* registry.terminateRunner(runner.id)
      expect(stopped.runner).toMatchObject({
        status: "failed",
        failureReason: "terminated: killed by SIGINT",
      })
      expect(stopped.runner.exitCode).toBeUndefined()
      expect(fake.calls()).toEqual([
        { op: "pause" },
        { op: "resume" },
        { op: "terminate", signal: "SIGINT" },
        { op: "closeSession" },
      ])
      expect(fake.status()).toBe("gone")
      // A finished runner cannot be steered any more.
      const again = yield* Effect.either(registry.pauseRunner(runner.id))
      expect(Either.isLeft(again) && again.left._tag).toBe("AiRunnerError")
    }),
  )

  it.scoped("input reaches the process byte for byte", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("typing"))
      yield* registry.write(runner.id, Buffer.from("y\r\x1b[A"))
      expect(world.state.process(runner.id).typed()).toBe("y\r\x1b[A")
    }),
  )

  it.scoped("remove terminates a live runner, deletes its log folder and says so", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry, feed } = yield* world.open
      const { runner } = yield* registry.startRunner(shell("doomed"))
      const fake = world.state.process(runner.id)
      yield* fake.print("something\r\n")
      const logDir = `${world.dataDir}/runners/${runner.id}`
      expect(existsSync(logDir)).toBe(true)
      yield* registry.removeRunner(runner.id)
      yield* feed.waitFor(isRemoved(runner.id))
      expect(fake.status()).toBe("gone")
      expect(existsSync(logDir)).toBe(false)
      expect(yield* registry.listRunners).toEqual([])
      const gone = yield* Effect.either(registry.getRunner(runner.id))
      expect(Either.isLeft(gone) && gone.left._tag).toBe("NotFoundError")
    }),
  )
})
