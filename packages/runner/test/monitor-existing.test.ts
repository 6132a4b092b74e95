import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { ProcessMonitorError } from "../src/domain/errors.js"
import { ProcessId } from "../src/domain/ids.js"
import { eventually, testRunner } from "./harness.js"
import { waitForText } from "./streams.js"

describe("monitorExisting", () => {
  it.scopedLive("adopts a session made by plain tmux: output, input, each pane, exit", () =>
    Effect.gen(function* () {
      const { monitor, tmux } = yield* testRunner()
      expect(
        tmux([
          "new-session",
          "-d",
          "-s",
          "handmade",
          "-x",
          "100",
          "-y",
          "30",
          "sh -c 'while read line; do echo got:$line; done'",
        ]).code,
      ).toBe(0)
      expect(tmux(["split-window", "-d", "-t", "=handmade:", "sh -c 'sleep 1000'"]).code).toBe(0)
      const handle = yield* monitor.monitorExisting("handmade", {
        processId: ProcessId("adopted"),
      })
      expect(handle.sessionInfo?.name).toBe("handmade")
      expect(handle.sessionInfo?.panes).toHaveLength(2)
      yield* handle.write(Buffer.from("hello there\r"))
      const text = yield* waitForText(handle.output(0), "got:hello there")
      expect(text).toContain("got:hello there")
      // Every pane got a writer of ours, and only one.
      const pipes = tmux(["list-panes", "-s", "-t", "=handmade", "-F", "#{pane_pipe}"]).stdout
      expect(pipes.trim().split("\n")).toEqual(["1", "1"])
      // Killed from outside: the monitor reports it and ends the stream.
      tmux(["kill-session", "-t", "=handmade"])
      const exit = yield* handle.awaitExit
      expect(exit).toMatchObject({ _tag: "exit", exitCode: null, signal: "SIGHUP" })
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(handle.events))
      const error = events.find((e) => e._tag === "error")
      expect(error?._tag === "error" ? error.error.message : "").toContain("vanished")
      expect(events[events.length - 1]?._tag).toBe("exit")
    }),
  )

  it.scopedLive("never clobbers a pipe-pane someone else set up", () =>
    Effect.gen(function* () {
      const { monitor, tmux, dataDir } = yield* testRunner()
      tmux(["new-session", "-d", "-s", "piped", "sh -c 'sleep 1000'"])
      tmux(["pipe-pane", "-t", "=piped:", `cat > ${dataDir}/theirs.log`])
      const handle = yield* monitor.monitorExisting("piped", { processId: ProcessId("piped") })
      const first = yield* handle.events.pipe(
        Stream.filter((e) => e._tag === "error"),
        Stream.runHead,
      )
      expect(
        first._tag === "Some" && first.value._tag === "error" ? first.value.error.message : "",
      ).toContain("already pipes its output elsewhere")
      // Their pipe is still the one in place: tmux reports one pipe and it is not ours.
      expect(
        tmux([
          "display-message",
          "-p",
          "-t",
          "=piped:",
          "#{pane_pipe} #{@geppetto-log}",
        ]).stdout.trim(),
      ).toBe("1")
    }),
  )

  it.scopedLive("reports the exit status of a pane that died before adoption", () =>
    Effect.gen(function* () {
      const { monitor, tmux } = yield* testRunner()
      tmux(["new-session", "-d", "-s", "done2", "sleep 1000"])
      tmux(["set-option", "-w", "-t", "=done2:", "remain-on-exit", "on"])
      tmux(["respawn-pane", "-k", "-t", "=done2:", "sh -c 'exit 7'"])
      // Adopted once tmux shows the pane dead, however long the shell takes to get there.
      yield* eventually(
        () =>
          tmux(["display-message", "-p", "-t", "=done2:", "#{pane_dead}"]).stdout.trim() === "1"
            ? true
            : undefined,
        "the pane to die",
      )
      const handle = yield* monitor.monitorExisting("done2", { processId: ProcessId("done2") })
      expect(yield* handle.awaitExit).toMatchObject({ exitCode: 7 })
    }),
  )

  it.scopedLive("fails with a typed error for a session that does not exist", () =>
    Effect.gen(function* () {
      const { monitor } = yield* testRunner()
      const error = yield* Effect.flip(
        monitor.monitorExisting("nope", { processId: ProcessId("nope") }),
      )
      expect(error).toBeInstanceOf(ProcessMonitorError)
      expect(error.message).toContain("no tmux session named")
    }),
  )
})
