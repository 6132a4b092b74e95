import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import type { ProcessEvent } from "../src/domain/events.js"
import { ProcessId } from "../src/domain/ids.js"
import { isRunning } from "../src/monitor/process-tree.js"
import { testRunner } from "./harness.js"
import { waitForText, waitUntil } from "./streams.js"

const outputText = (events: ReadonlyArray<ProcessEvent>) =>
  Buffer.concat(events.flatMap((e) => (e._tag === "output" ? [Buffer.from(e.data)] : []))).toString(
    "utf8",
  )

describe("spawn in tmux", () => {
  it.scopedLive("streams output then exit code 3, offsets contiguous, exit last", () =>
    Effect.gen(function* () {
      const { monitor } = yield* testRunner()
      const handle = yield* monitor.spawn("sh", ["-c", "echo hello; echo world; exit 3"], {
        processId: ProcessId("exit-three"),
        cwd: "/tmp",
      })
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(handle.events))
      expect(outputText(events)).toContain("hello\r\nworld")
      expect(events[events.length - 1]).toMatchObject({ _tag: "exit", exitCode: 3, signal: null })
      let expected = 0
      for (const e of events) {
        if (e._tag !== "output") continue
        expect(e.offset).toBe(expected)
        expected += e.data.length
      }
      expect(events.filter((e) => e._tag === "exit")).toHaveLength(1)
    }),
  )

  it.scopedLive("reports exit code 0 and a killing signal", () =>
    Effect.gen(function* () {
      const { monitor } = yield* testRunner()
      const ok = yield* monitor.spawn("true", [], { processId: ProcessId("ok"), cwd: "/tmp" })
      const killed = yield* monitor.spawn("sh", ["-c", "sleep 0.2; kill -KILL $$"], {
        processId: ProcessId("killed"),
        cwd: "/tmp",
      })
      expect(yield* ok.awaitExit).toMatchObject({ exitCode: 0, signal: null })
      expect(yield* killed.awaitExit).toMatchObject({ exitCode: null, signal: "SIGKILL" })
    }),
  )

  it.scopedLive("runs in the given cwd with the given env and size", () =>
    Effect.gen(function* () {
      const { monitor, tmux } = yield* testRunner()
      const handle = yield* monitor.spawn(
        "sh",
        ["-c", 'echo "dir=$(pwd) v=$GEPPETTO_T size=$(stty size)"; sleep 5'],
        {
          processId: ProcessId("env-cwd"),
          cwd: "/usr",
          env: { GEPPETTO_T: "forty two" },
          cols: 91,
          rows: 17,
        },
      )
      const text = yield* waitForText(handle.output(0), "size=")
      yield* waitForText(handle.output(0), "size=17 91")
      expect(text).toContain("dir=/usr v=forty two")
      expect(handle.sessionInfo?.panes[0]).toMatchObject({ cols: 91, rows: 17 })
      expect(tmux(["show-options", "-v", "-t", "env-cwd", "@geppetto-id"]).stdout.trim()).toBe(
        "env-cwd",
      )
      expect(handle.sessionInfo?.attachCommand).toMatch(/^tmux -L \S+ attach -t =env-cwd$/)
      yield* handle.terminate
    }),
  )

  it.scopedLive("writes exact bytes as keys and reads the echo", () =>
    Effect.gen(function* () {
      const { monitor } = yield* testRunner()
      const handle = yield* monitor.spawn("cat", [], { processId: ProcessId("echo"), cwd: "/tmp" })
      yield* handle.write(Buffer.from("héllo ; #{session_name} $HOME 'q'\r"))
      // The line appears twice, the terminal's echo then cat's copy, each exactly as typed.
      const line = "héllo ; #{session_name} $HOME 'q'\r\n"
      const text = yield* waitUntil(
        handle.output(0),
        (t) => t.split(line).length - 1 >= 2,
        "2 lines",
      )
      expect(text).toBe(line + line)
      yield* handle.write(Buffer.from([0x04])) // Ctrl-D: cat sees end of input
      expect(yield* handle.awaitExit).toMatchObject({ exitCode: 0 })
    }),
  )

  it.scopedLive("terminate escalates past a process that ignores C-c and SIGTERM", () =>
    Effect.gen(function* () {
      const { monitor, tmux } = yield* testRunner({ terminateGraceMs: 300 })
      const handle = yield* monitor.spawn(
        "sh",
        ["-c", "trap '' INT TERM HUP; echo ready; while :; do sleep 0.1; done"],
        { processId: ProcessId("stubborn"), cwd: "/tmp" },
      )
      yield* waitForText(handle.output(0), "ready")
      const pid = Number(
        tmux(["display-message", "-p", "-t", "=stubborn:", "#{pane_pid}"]).stdout.trim(),
      )
      expect(isRunning(pid)).toBe(true)
      yield* handle.terminate
      expect((yield* handle.awaitExit).signal).toBe("SIGKILL")
      // Our own kill is an exit, not a session that "vanished".
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(handle.events))
      expect(events.filter((e) => e._tag === "error")).toEqual([])
      expect(isRunning(pid)).toBe(false)
      expect(tmux(["has-session", "-t", "=stubborn"]).code).not.toBe(0)
    }),
  )

  it.scopedLive("terminate of a well-behaved process stops at C-c and removes the session", () =>
    Effect.gen(function* () {
      const { monitor, tmux } = yield* testRunner()
      const handle = yield* monitor.spawn("sleep", ["1000"], {
        processId: ProcessId("sleeper"),
        cwd: "/tmp",
      })
      yield* handle.terminate
      expect(yield* handle.awaitExit).toMatchObject({ exitCode: null, signal: "SIGINT" })
      expect(tmux(["has-session", "-t", "=sleeper"]).code).not.toBe(0)
    }),
  )
})
