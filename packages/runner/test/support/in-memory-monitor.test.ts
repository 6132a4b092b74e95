import { readdirSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Scope, Stream, TestClock } from "effect"
import type { ProcessEvent } from "../../src/domain/events.js"
import { ProcessId, SessionName } from "../../src/domain/ids.js"
import type { LogChunk } from "../../src/logs/log-cursor.js"
import { monitorWorld } from "./world.js"

const text = (chunks: ReadonlyArray<LogChunk>) =>
  Buffer.concat(chunks.map((c) => Buffer.from(c.bytes))).toString()

/** Control events of a handle as compact strings, until `n` of them have come. */
const controlTags = (events: Stream.Stream<ProcessEvent>, n: number) =>
  Stream.runCollect(Stream.take(events, n)).pipe(
    Effect.map((c) =>
      Chunk.toReadonlyArray(c).map((e) =>
        e._tag === "activity"
          ? `activity:${e.state}@${e.offset}`
          : e._tag === "exit"
            ? `exit:${e.exitCode}:${e.signal}@${e.offset}`
            : e._tag,
      ),
    ),
  )

describe("in-memory ProcessMonitorPort", () => {
  it.scoped("output lands in real segment files, read alike by the handle and the log store", () =>
    Effect.gen(function* () {
      const world = yield* monitorWorld()
      const { monitor, logs } = yield* world.open
      const handle = yield* monitor.spawn("agent", ["--flag"], {
        processId: ProcessId("run-one"),
        cwd: world.dataDir,
      })
      const fake = world.state.process("run-one")
      expect(fake).toMatchObject({ command: "agent", args: ["--flag"], sessionName: "run-one" })
      const seen: LogChunk[] = []
      yield* handle.followOutput(0, { onChunk: (chunk) => seen.push(chunk) })
      yield* fake.print("hello ")
      // Handed over before `print` returns.
      expect(text(seen)).toBe("hello ")
      yield* fake.print("world\r\n")
      expect(text(seen)).toBe("hello world\r\n")
      expect(yield* handle.logBounds).toEqual({ start: 0, end: 13 })
      const dir = logs.processDir("run-one")
      expect(readdirSync(dir).filter((n) => n.startsWith("out-"))).toHaveLength(1)
      // The production tail over the same folder, and the handle's own stream.
      const tailed = yield* logs.tail(dir, 6).pipe(Stream.take(1), Stream.runCollect)
      expect(text(Chunk.toReadonlyArray(tailed))).toBe("world\r\n")
      const streamed = yield* handle.output(0).pipe(Stream.take(1), Stream.runCollect)
      expect(text(Chunk.toReadonlyArray(streamed))).toBe("hello world\r\n")
      // A follower from an older offset gets the backlog first.
      const late: LogChunk[] = []
      yield* handle.followOutput(6, { onChunk: (chunk) => late.push(chunk) })
      expect(text(late)).toBe("world\r\n")
    }),
  )

  it.scoped(
    "activity: idle after idleThresholdMs of silence on the Clock, active again after a burst",
    () =>
      Effect.gen(function* () {
        const world = yield* monitorWorld()
        const { monitor } = yield* world.open
        const handle = yield* monitor.spawn("agent", [], {
          processId: ProcessId("run-act"),
          cwd: world.dataDir,
        })
        const fake = world.state.process("run-act")
        const events = yield* Effect.fork(controlTags(handle.controlEvents(0), 2))
        expect(yield* handle.getActivityState).toBe("active")
        yield* TestClock.adjust(world.config.idleThresholdMs - 1)
        expect(yield* handle.getActivityState).toBe("active")
        yield* TestClock.adjust(1)
        expect(yield* handle.getActivityState).toBe("idle")
        // One line is not a burst; output that keeps coming for activeConfirmMs is.
        yield* fake.print("a")
        yield* TestClock.adjust(world.config.activeConfirmMs / 2)
        yield* fake.print("b")
        expect(yield* handle.getActivityState).toBe("idle")
        yield* TestClock.adjust(world.config.activeConfirmMs / 2)
        yield* fake.print("c")
        yield* Effect.yieldNow()
        expect(yield* Fiber.join(events)).toEqual(["activity:idle@0", "activity:active@3"])
      }),
  )

  it.scoped(
    "exit: the event ends every stream, the pane stays dead until the session is closed",
    () =>
      Effect.gen(function* () {
        const world = yield* monitorWorld()
        const { monitor } = yield* world.open
        const handle = yield* monitor.spawn("agent", [], {
          processId: ProcessId("run-exit"),
          sessionName: SessionName("exiting"),
          cwd: world.dataDir,
        })
        const fake = world.state.process("run-exit")
        yield* fake.print("bye\r\n")
        yield* fake.exit(3)
        expect(yield* handle.awaitExit).toMatchObject({ exitCode: 3, signal: null, offset: 5 })
        const events = yield* Stream.runCollect(handle.events)
        expect(Chunk.toReadonlyArray(events).map((e) => e._tag)).toEqual(["output", "exit"])
        expect(yield* monitor.recordedExit(ProcessId("run-exit"))).toEqual({
          exitCode: 3,
          signal: null,
        })
        const [listed] = yield* monitor.listSessions
        expect(listed?.panes[0]).toMatchObject({ dead: true, logDir: expect.any(String) })
        yield* handle.closeSession
        expect(yield* monitor.listSessions).toEqual([])
        expect(yield* monitor.sessionExists("exiting")).toBe(false)
        expect(fake.calls()).toEqual([{ op: "closeSession" }])
      }),
  )

  it.scoped(
    "a process outlives its monitor: output and an exit while nobody watched are found again",
    () =>
      Effect.gen(function* () {
        const world = yield* monitorWorld()
        const first = yield* world.open
        yield* first.monitor
          .spawn("agent", [], { processId: ProcessId("run-away"), cwd: world.dataDir })
          .pipe(Scope.extend(first.scope))
        const fake = world.state.process("run-away")
        yield* fake.print("before ")
        yield* first.close
        expect(fake.watchers()).toBe(0)
        expect(fake.status()).toBe("running")
        yield* fake.print("while away")
        yield* fake.exit(0)

        const second = yield* world.open
        const [listed] = yield* second.monitor.listSessions
        expect(listed).toMatchObject({ name: "run-away", metadata: { id: "run-away" } })
        expect(listed?.panes[0]?.dead).toBe(true)
        expect(yield* second.monitor.recordedExit(ProcessId("run-away"))).toEqual({
          exitCode: 0,
          signal: null,
        })
        const handle = yield* second.monitor.monitorExisting("run-away", {
          processId: ProcessId("run-away"),
        })
        expect(yield* handle.awaitExit).toMatchObject({ exitCode: 0, offset: 17 })
        const all = yield* handle.output(0).pipe(Stream.take(1), Stream.runCollect)
        expect(text(Chunk.toReadonlyArray(all))).toBe("before while away")
      }),
  )

  it.scoped(
    "terminate: C-c ends it at once; one that ignores C-c gets SIGTERM a grace period later",
    () =>
      Effect.gen(function* () {
        const world = yield* monitorWorld()
        const { monitor } = yield* world.open
        const polite = yield* monitor.spawn("agent", [], {
          processId: ProcessId("run-polite"),
          cwd: world.dataDir,
        })
        yield* polite.terminate
        expect(yield* polite.awaitExit).toMatchObject({ exitCode: null, signal: "SIGINT" })
        expect(world.state.process("run-polite").status()).toBe("gone")

        const stubborn = yield* monitor.spawn("agent", [], {
          processId: ProcessId("run-stubborn"),
          cwd: world.dataDir,
        })
        const fake = world.state.process("run-stubborn")
        fake.ignoreSignals(1)
        const terminating = yield* Effect.fork(stubborn.terminate)
        yield* TestClock.adjust(world.config.terminateGraceMs - 1)
        expect(fake.status()).toBe("running")
        yield* TestClock.adjust(1)
        yield* Fiber.join(terminating)
        expect(yield* stubborn.awaitExit).toMatchObject({ signal: "SIGTERM" })
        expect(fake.calls()).toEqual([
          { op: "terminate", signal: "SIGINT" },
          { op: "terminate", signal: "SIGTERM" },
        ])
      }),
  )

  it.scoped("a session that vanishes reports an error and ends with SIGHUP", () =>
    Effect.gen(function* () {
      const world = yield* monitorWorld()
      const { monitor } = yield* world.open
      const handle = yield* monitor.spawn("agent", [], {
        processId: ProcessId("run-gone"),
        cwd: world.dataDir,
      })
      yield* world.state.process("run-gone").vanish
      const events = yield* Stream.runCollect(handle.controlEvents(0))
      expect(Chunk.toReadonlyArray(events).map((e) => e._tag)).toEqual(["error", "exit"])
      expect(yield* handle.awaitExit).toMatchObject({ exitCode: null, signal: "SIGHUP" })
      expect(yield* monitor.recordedExit(ProcessId("run-gone"))).toBeUndefined()
      expect(yield* monitor.listSessions).toEqual([])
    }),
  )

  it.scoped("input, pause, resume, resize and the screen are what the test sees and sets", () =>
    Effect.gen(function* () {
      const world = yield* monitorWorld()
      const { monitor } = yield* world.open
      const handle = yield* monitor.spawn("agent", [], {
        processId: ProcessId("run-ctl"),
        cwd: world.dataDir,
        cols: 80,
        rows: 24,
      })
      const fake = world.state.process("run-ctl")
      yield* handle.write(Buffer.from("y\r"))
      expect(fake.typed()).toBe("y\r")
      yield* fake.setScreen(["Allow? [y/N]"], "title")
      expect(yield* handle.captureScreen).toEqual({ lines: ["Allow? [y/N]"], title: "title" })
      yield* handle.pause
      expect(fake.status()).toBe("paused")
      yield* handle.resume
      // Taken after the resize: one that comes while nobody waits is kept.
      yield* handle.resize(100, 30)
      expect(yield* handle.awaitResize).toMatchObject([{ cols: 100, rows: 30 }])
      expect(yield* handle.panes).toMatchObject([{ cols: 100, rows: 30 }])
      expect(fake.calls()).toEqual([
        { op: "pause" },
        { op: "resume" },
        { op: "resize", cols: 100, rows: 30 },
      ])
      yield* fake.exit(0)
      expect((yield* Effect.either(handle.pause))._tag).toBe("Left")
      expect((yield* Effect.either(handle.write(Buffer.from("x"))))._tag).toBe("Left")
    }),
  )

  it.scoped("adopting a foreign session pipes it into the runner's folder from then on", () =>
    Effect.gen(function* () {
      const world = yield* monitorWorld()
      const { monitor, logs } = yield* world.open
      const fake = world.state.addForeignSession("theirs", "/usr/bin/vim", { cwd: "/srv" })
      yield* fake.print("not logged")
      const [listed] = yield* monitor.listSessions
      expect(listed).toMatchObject({ name: "theirs", metadata: {} })
      expect(listed?.panes[0]).toMatchObject({
        currentCommand: "vim",
        currentPath: "/srv",
        logDir: undefined,
      })
      const handle = yield* monitor.monitorExisting("theirs", {
        processId: ProcessId("run-adopted"),
        metadata: { provider: "shell" },
      })
      yield* fake.print("logged")
      expect(fake.metadata()).toEqual({ id: "run-adopted", provider: "shell" })
      expect(yield* handle.logBounds).toEqual({ start: 0, end: 6 })
      const tailed = yield* logs
        .tail(logs.processDir("run-adopted"), 0)
        .pipe(Stream.take(1), Stream.runCollect)
      expect(text(Chunk.toReadonlyArray(tailed))).toBe("logged")
    }),
  )
})
