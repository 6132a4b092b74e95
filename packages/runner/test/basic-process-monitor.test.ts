import { createHash } from "node:crypto"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import { RunnerConfig } from "../src/config.js"
import type { OutputSource, ProcessEvent } from "../src/domain/events.js"
import { ProcessId } from "../src/domain/ids.js"
import { LogStore } from "../src/logs/log-store.js"
import { makeSegmentWriter } from "../src/logs/segment-writer.js"
import { segmentPrefix } from "../src/logs/segments.js"
import {
  basicRunner,
  childrenWithArgv,
  groupMembers,
  isRunning,
  readSegments,
} from "./basic-harness.js"
import { expectedLines, fixture } from "./harness.js"
import { readOutput, waitForText } from "./streams.js"

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

const collect = (stream: Stream.Stream<ProcessEvent, unknown>) =>
  Stream.runCollect(stream).pipe(
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({
      duration: "30 seconds",
      onTimeout: () => new Error("events never ended"),
    }),
  )

const outputOf = (events: ReadonlyArray<ProcessEvent>, source: OutputSource) =>
  Buffer.concat(
    events.flatMap((e) =>
      e._tag === "output" && e.source === source ? [Buffer.from(e.data)] : [],
    ),
  )

/** Output offsets of `source` run 0, 1, 2, ... with no gap or overlap. */
const expectContiguous = (events: ReadonlyArray<ProcessEvent>, source: OutputSource) => {
  let expected = 0
  for (const e of events) {
    if (e._tag !== "output" || e.source !== source) continue
    expect(e.offset).toBe(expected)
    expected += e.data.length
  }
  return expected
}

/** Polls until `check` holds (for effects outside any stream we could follow). */
const eventually = (what: string, check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 200; i++) {
      if (check()) return
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
  })

describe("basic process monitor", () => {
  it.scopedLive("streams stdout then exit code 3: exact bytes, contiguous offsets, exit last", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner()
      const handle = yield* spawn("sh", ["-c", "echo hello; echo world; exit 3"], {
        processId: ProcessId("exit-three"),
        cwd: "/tmp",
      })
      expect(handle.sessionInfo).toBeUndefined()
      const events = yield* collect(handle.events)
      // Pipes, not a terminal: no \r\n translation.
      expect(outputOf(events, "stdout").toString()).toBe("hello\nworld\n")
      expect(expectContiguous(events, "stdout")).toBe(12)
      expect(events.filter((e) => e._tag === "exit")).toHaveLength(1)
      expect(events[events.length - 1]).toMatchObject({
        _tag: "exit",
        exitCode: 3,
        signal: null,
        offset: 12,
      })
      expect(yield* handle.logBounds).toEqual({ start: 0, end: 12 })
    }),
  )

  it.scopedLive("reports exit code 0 and a killing signal", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner()
      const ok = yield* spawn("true", [], {
        processId: ProcessId("ok"),
        cwd: "/tmp",
      })
      const killed = yield* spawn("sh", ["-c", "kill -TERM $$"], {
        processId: ProcessId("killed"),
        cwd: "/tmp",
      })
      expect(yield* ok.awaitExit).toMatchObject({
        exitCode: 0,
        signal: null,
        offset: 0,
      })
      expect(yield* killed.awaitExit).toMatchObject({
        exitCode: null,
        signal: "SIGTERM",
      })
      const events = yield* collect(killed.events)
      expect(events.map((e) => e._tag)).toEqual(["exit"])
    }),
  )

  it.scopedLive("runs in the given cwd with the given env on top of ours", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner()
      const handle = yield* spawn("sh", ["-c", 'echo "$(pwd) $GEPPETTO_T $HOME"'], {
        processId: ProcessId("env-cwd"),
        cwd: "/usr",
        env: { GEPPETTO_T: "forty two" },
      })
      const events = yield* collect(handle.events)
      expect(outputOf(events, "stdout").toString()).toBe(`/usr forty two ${process.env.HOME}\n`)
    }),
  )

  it.scopedLive("keeps stdout and stderr apart, byte for byte", () =>
    Effect.gen(function* () {
      const { spawn, logs } = yield* basicRunner()
      const out = [Buffer.from("out one\n"), Buffer.from([0, 255, 13, 10, 1]), Buffer.from("end")]
      const err = [Buffer.from("err one\n"), Buffer.from([255, 0, 7]), Buffer.from("é\n")]
      const script = [
        "const w = (fd, hex) => require('node:fs').writeSync(fd, Buffer.from(hex, 'hex'))",
        ...out.flatMap((o, i) => {
          const e = err[i] ?? Buffer.alloc(0)
          return [`w(1, '${o.toString("hex")}')`, `w(2, '${e.toString("hex")}')`]
        }),
      ].join("\n")
      const handle = yield* spawn(process.execPath, ["-e", script], {
        processId: ProcessId("apart"),
        cwd: "/tmp",
      })
      const events = yield* collect(handle.events)
      const expectedOut = Buffer.concat(out)
      const expectedErr = Buffer.concat(err)
      expect(outputOf(events, "stdout")).toEqual(expectedOut)
      expect(outputOf(events, "stderr")).toEqual(expectedErr)
      expect(expectContiguous(events, "stdout")).toBe(expectedOut.length)
      expect(expectContiguous(events, "stderr")).toBe(expectedErr.length)
      expect(events.filter((e) => e._tag === "output" && e.source === "pty")).toHaveLength(0)
      expect(events[events.length - 1]).toMatchObject({
        _tag: "exit",
        exitCode: 0,
      })
      const dir = logs.processDir(ProcessId("apart"))
      expect(readSegments(dir)).toEqual(expectedOut)
      expect(readSegments(join(dir, "stderr"))).toEqual(expectedErr)
      // `output` is stdout only.
      expect(yield* readOutput(handle, 0, expectedOut.length)).toEqual(expectedOut)
    }),
  )

  it.scopedLive("logs 20k lines byte-exact", () =>
    Effect.gen(function* () {
      const { spawn, logs } = yield* basicRunner()
      const expected = expectedLines(20_000)
      const handle = yield* spawn(fixture("lines.sh"), ["20000"], {
        processId: ProcessId("twenty-k"),
        cwd: "/tmp",
      })
      const events = yield* collect(handle.events)
      const exit = yield* handle.awaitExit
      expect(exit).toMatchObject({ exitCode: 0, offset: expected.length })
      expect(sha(outputOf(events, "stdout"))).toBe(sha(expected))
      expect(sha(readSegments(logs.processDir(ProcessId("twenty-k"))))).toBe(sha(expected))
      expect(sha(yield* readOutput(handle, 0, expected.length))).toBe(sha(expected))
    }),
  )

  it.scopedLive(
    "rotates at segmentBytes with the tmux path's names, 0600 files in a 0700 folder",
    () =>
      Effect.gen(function* () {
        const segmentBytes = 64 * 1024
        const { spawn, logs } = yield* basicRunner({ segmentBytes })
        const expected = expectedLines(20_000) // 960 kB: 15 segments
        const handle = yield* spawn(fixture("lines.sh"), ["20000"], {
          processId: ProcessId("rotating"),
          cwd: "/tmp",
        })
        const events = yield* collect(handle.events)
        expect(sha(outputOf(events, "stdout"))).toBe(sha(expected))
        const dir = logs.processDir(ProcessId("rotating"))
        const files = readdirSync(dir)
          .filter((f) => f.startsWith("out-"))
          .sort()
        const count = Math.ceil(expected.length / segmentBytes)
        expect(files).toEqual(
          Array.from(
            { length: count },
            (_, i) => `${segmentPrefix(0, segmentBytes)}${String(i).padStart(6, "0")}`,
          ),
        )
        for (const [i, name] of files.entries()) {
          const info = statSync(join(dir, name))
          expect(info.mode & 0o777).toBe(0o600)
          expect(info.size).toBe(
            i < count - 1 ? segmentBytes : expected.length - (count - 1) * segmentBytes,
          )
        }
        expect(statSync(dir).mode & 0o777).toBe(0o700)
        expect(statSync(join(dir, "stderr")).mode & 0o777).toBe(0o700)
        expect(sha(readSegments(dir))).toBe(sha(expected))
        expect(yield* handle.logBounds).toEqual({
          start: 0,
          end: expected.length,
        })
      }),
  )

  it.scopedLive("retention deletes old segments; the tail from the start is the exact suffix", () =>
    Effect.gen(function* () {
      const segmentBytes = 64 * 1024
      const { spawn, logs } = yield* basicRunner({
        segmentBytes,
        retainBytes: 4 * segmentBytes,
      })
      const expected = expectedLines(20_000)
      const handle = yield* spawn(fixture("lines.sh"), ["20000"], {
        processId: ProcessId("retained"),
        cwd: "/tmp",
      })
      const exit = yield* handle.awaitExit
      expect(exit.offset).toBe(expected.length)
      // Pruning is synchronous with the write that fills a segment: no wait needed.
      const bounds = yield* handle.logBounds
      expect(bounds.end).toBe(expected.length)
      expect(bounds.start).toBeGreaterThan(0)
      expect(bounds.start % segmentBytes).toBe(0)
      expect(bounds.end - bounds.start).toBeLessThanOrEqual(5 * segmentBytes)
      const dir = logs.processDir(ProcessId("retained"))
      expect(readdirSync(dir).filter((f) => f.startsWith("out-")).length).toBeLessThanOrEqual(5)
      const suffix = expected.subarray(bounds.start)
      expect(sha(readSegments(dir))).toBe(sha(suffix))
      for (const from of [bounds.start, bounds.start + 12_345, bounds.end - 7]) {
        const tail = yield* readOutput(handle, from, bounds.end - from)
        expect(sha(tail)).toBe(sha(expected.subarray(from)))
      }
      // Asking for pruned bytes starts at the oldest kept byte.
      const first = yield* Stream.runHead(handle.output(0))
      expect(first._tag === "Some" ? first.value.offset : -1).toBe(bounds.start)
      const events = yield* collect(handle.events)
      expect(events.find((e) => e._tag === "output")?.offset).toBe(bounds.start)
      expect(sha(outputOf(events, "stdout"))).toBe(sha(suffix))
    }),
  )

  it.scopedLive("a new segment writer continues at the end of the folder", () =>
    Effect.gen(function* () {
      const { config, logs, dataDir } = yield* basicRunner({
        segmentBytes: 64,
      })
      const dir = join(dataDir, "runners", "by-hand")
      const first = Buffer.from("a".repeat(100))
      const second = Buffer.from("b".repeat(50))
      const writers = makeSegmentWriter(dir).pipe(
        Effect.provideService(RunnerConfig, config),
        Effect.provideService(LogStore, logs),
      )
      const one = yield* writers
      expect(one.append(first)).toBeUndefined()
      one.close()
      const two = yield* writers
      expect(two.position()).toBe(100)
      expect(two.append(second)).toBeUndefined()
      two.close()
      expect(readdirSync(dir).sort()).toEqual([
        `${segmentPrefix(0, 64)}000000`,
        `${segmentPrefix(0, 64)}000001`,
        `${segmentPrefix(100, 64)}000000`,
      ])
      expect(yield* logs.bounds(dir)).toEqual({ start: 0, end: 150 })
      const reader = yield* logs.openReader(dir, 0)
      const parts: Buffer[] = []
      for (;;) {
        const chunk = yield* reader.read(1024)
        if (chunk === undefined) break
        parts.push(Buffer.from(chunk.bytes))
      }
      expect(Buffer.concat(parts)).toEqual(Buffer.concat([first, second]))
    }),
  )

  it.scopedLive("write sends exact bytes to stdin and cat echoes them", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner()
      const handle = yield* spawn("cat", [], {
        processId: ProcessId("echo"),
        cwd: "/tmp",
      })
      const line = "héllo ; #{session_name} $HOME 'q'\n"
      yield* handle.write(Buffer.from(line))
      yield* handle.write(new Uint8Array([0, 1, 255, 10]))
      const expected = Buffer.concat([Buffer.from(line), Buffer.from([0, 1, 255, 10])])
      // No terminal echoes it: exactly cat's one copy.
      expect(yield* readOutput(handle, 0, expected.length)).toEqual(expected)
      yield* handle.terminate
      expect(yield* handle.awaitExit).toMatchObject({
        exitCode: null,
        signal: "SIGINT",
      })
      const failure = yield* Effect.flip(handle.write(Buffer.from("late\n")))
      expect(failure._tag).toBe("ProcessMonitorError")
    }),
  )

  it.scopedLive("terminate stops sleep with SIGINT and leaves no process", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner()
      const handle = yield* spawn("sleep", ["1001"], {
        processId: ProcessId("sleeper"),
        cwd: "/tmp",
      })
      const [pid] = childrenWithArgv(["sleep", "1001"])
      expect(pid).toBeDefined()
      if (pid === undefined) return
      expect(isRunning(pid)).toBe(true)
      yield* handle.terminate
      expect(yield* handle.awaitExit).toMatchObject({
        exitCode: null,
        signal: "SIGINT",
      })
      expect(isRunning(pid)).toBe(false)
      expect(groupMembers(pid)).toEqual([])
    }),
  )

  it.scopedLive("terminate escalates past traps to SIGKILL and kills the whole group", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner({ terminateGraceMs: 300 })
      const handle = yield* spawn(
        "sh",
        ["-c", "trap '' INT TERM; echo $$; while :; do sleep 0.1; done"],
        { processId: ProcessId("stubborn"), cwd: "/tmp" },
      )
      const pid = Number((yield* waitForText(handle.output(0), "\n")).trim())
      expect(isRunning(pid)).toBe(true)
      expect(groupMembers(pid)).toContain(pid)
      const started = Date.now()
      yield* handle.terminate
      expect(Date.now() - started).toBeGreaterThanOrEqual(600) // both graces were waited out
      expect(yield* handle.awaitExit).toMatchObject({
        exitCode: null,
        signal: "SIGKILL",
      })
      expect(isRunning(pid)).toBe(false)
      expect(groupMembers(pid)).toEqual([])
    }),
  )

  it.scopedLive("terminate sends SIGTERM to a process that ignores SIGINT", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner({ terminateGraceMs: 300 })
      const handle = yield* spawn(
        "sh",
        ["-c", "trap '' INT; echo $$; while :; do sleep 0.1; done"],
        {
          processId: ProcessId("no-int"),
          cwd: "/tmp",
        },
      )
      const pid = Number((yield* waitForText(handle.output(0), "\n")).trim())
      yield* handle.terminate
      expect(yield* handle.awaitExit).toMatchObject({
        exitCode: null,
        signal: "SIGTERM",
      })
      expect(groupMembers(pid)).toEqual([])
    }),
  )

  it.scopedLive("exit is reported while a background job holds the pipes; terminate ends it", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner()
      const handle = yield* spawn("sh", ["-c", "sleep 1002 & echo $!; echo done >&2; exit 0"], {
        processId: ProcessId("background"),
        cwd: "/tmp",
      })
      const events = yield* collect(handle.events)
      expect(events[events.length - 1]).toMatchObject({
        _tag: "exit",
        exitCode: 0,
      })
      expect(outputOf(events, "stderr").toString()).toBe("done\n")
      const job = Number(outputOf(events, "stdout").toString().trim())
      expect(isRunning(job)).toBe(true)
      yield* handle.terminate
      expect(isRunning(job)).toBe(false)
    }),
  )

  it.scopedLive("closing the handle's scope stops watching, not the process or its log", () =>
    Effect.gen(function* () {
      const { monitor, logs } = yield* basicRunner()
      const scope = yield* Scope.make()
      const handle = yield* Scope.extend(
        monitor.spawn("sh", ["-c", "echo $$; sleep 0.3; echo after; exec sleep 1003"], {
          processId: ProcessId("outlives"),
          cwd: "/tmp",
        }),
        scope,
      )
      yield* Effect.addFinalizer(() => Effect.orDie(handle.terminate))
      const pid = Number((yield* waitForText(handle.output(0), "\n")).trim())
      yield* Scope.close(scope, Exit.void)
      const dir = logs.processDir(ProcessId("outlives"))
      yield* eventually("the log to keep growing", () =>
        readSegments(dir).toString().endsWith("after\n"),
      )
      expect(isRunning(pid)).toBe(true)
      yield* handle.terminate
      expect(isRunning(pid)).toBe(false)
    }),
  )

  it.scopedLive("activity: idle after silence at its byte, active again on a stderr burst", () =>
    Effect.gen(function* () {
      const { spawn } = yield* basicRunner({
        idleThresholdMs: 300,
        activeConfirmMs: 100,
      })
      const handle = yield* spawn(
        "sh",
        ["-c", "echo hi; sleep 1; for i in 1 2 3 4 5 6 7 8 9 10; do echo x >&2; sleep 0.05; done"],
        { processId: ProcessId("activity"), cwd: "/tmp" },
      )
      const events = yield* collect(handle.events)
      const flips = events.flatMap((e) => (e._tag === "activity" ? [e] : []))
      expect(flips[0]).toMatchObject({ state: "idle", offset: 3 })
      expect(flips.map((f) => f.state)).toContain("active")
      expect(outputOf(events, "stderr").toString()).toBe("x\n".repeat(10))
    }),
  )

  it.scopedLive("bad input is a ValidationError and creates no folder", () =>
    Effect.gen(function* () {
      const { monitor, logs } = yield* basicRunner()
      const cases = [
        { command: "echo", args: ["a\0b"], options: {}, field: "command[1]" },
        { command: "echo", args: [], options: { cwd: "tmp" }, field: "cwd" },
        {
          command: "echo",
          args: [],
          options: { env: { "BAD=NAME": "x" } },
          field: "env.BAD=NAME",
        },
        { command: "", args: [], options: {}, field: "command" },
      ]
      for (const [i, c] of cases.entries()) {
        const processId = ProcessId(`bad-${i}`)
        const error = yield* Effect.flip(
          monitor.spawn(c.command, c.args, {
            processId,
            cwd: "/tmp",
            ...c.options,
          }),
        )
        expect(error).toMatchObject({
          _tag: "ValidationError",
          field: c.field,
        })
        expect(existsSync(logs.processDir(processId))).toBe(false)
      }
    }),
  )

  it.scopedLive("a command that cannot start fails spawn, naming it, and leaves no folder", () =>
    Effect.gen(function* () {
      const { monitor, logs } = yield* basicRunner()
      const processId = ProcessId("missing")
      const error = yield* Effect.flip(
        monitor.spawn("geppetto-no-such-command", [], {
          processId,
          cwd: "/tmp",
        }),
      )
      expect(error._tag).toBe("ProcessMonitorError")
      expect(error.message).toContain("geppetto-no-such-command")
      expect(existsSync(logs.processDir(processId))).toBe(false)
    }),
  )

  it.scopedLive("never reuses an id that has a log, and cannot adopt tmux sessions", () =>
    Effect.gen(function* () {
      const { monitor, spawn } = yield* basicRunner()
      const processId = ProcessId("once")
      const handle = yield* spawn("echo", ["hi"], { processId, cwd: "/tmp" })
      yield* handle.awaitExit
      const again = yield* Effect.flip(monitor.spawn("echo", ["hi"], { processId, cwd: "/tmp" }))
      expect(again).toMatchObject({ _tag: "ProcessMonitorError" })
      expect(again.message).toContain("already has a log")
      const adopt = yield* Effect.flip(monitor.monitorExisting("main", { processId }))
      expect(adopt).toMatchObject({ _tag: "ProcessMonitorError" })
      expect(adopt.message).toContain("cannot adopt tmux session")
    }),
  )
})
