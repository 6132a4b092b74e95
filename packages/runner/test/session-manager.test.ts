import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ProcessId } from "../src/domain/ids.js"
import { testRunner } from "./harness.js"
import { waitForText } from "./streams.js"

describe("tmux session manager", () => {
  it.scopedLive("lists our sessions with metadata, captures, resizes and kills them", () =>
    Effect.gen(function* () {
      const { monitor, sessions, tmux } = yield* testRunner()
      const handle = yield* monitor.spawn("sh", ["-c", "printf 'first\\nsecond\\n'; sleep 1000"], {
        processId: ProcessId("managed"),
        cwd: "/tmp",
        cols: 60,
        rows: 10,
        metadata: { provider: "shell" },
      })
      yield* waitForText(handle.output(0), "second")
      tmux(["new-session", "-d", "-s", "outsider", "sleep 1000"])
      const listed = yield* sessions.listSessions
      expect(listed.map((s) => s.name).sort()).toEqual(["managed", "outsider"])
      expect(listed.find((s) => s.name === "managed")?.metadata).toEqual({
        id: "managed",
        provider: "shell",
      })
      expect(listed.find((s) => s.name === "outsider")?.metadata).toEqual({})
      expect(yield* sessions.hasSession("managed")).toBe(true)
      expect(yield* sessions.hasSession("manage")).toBe(false) // no prefix matching

      const pane = handle.sessionInfo!.paneId
      const screen = yield* sessions.capturePane(pane)
      expect(screen.slice(0, 2)).toEqual(["first", "second"])
      expect(screen).toHaveLength(10)

      yield* sessions.resizeWindow(handle.sessionInfo?.windowId ?? "", 100, 20)
      expect(
        tmux(["display-message", "-p", "-t", pane, "#{pane_width}x#{pane_height}"]).stdout.trim(),
      ).toBe("100x20")
      yield* sessions.killSession(handle.sessionInfo?.sessionId ?? "")
      expect(yield* sessions.hasSession("managed")).toBe(false)
      // Killing what is already gone is not an error.
      yield* sessions.killSession(handle.sessionInfo?.sessionId ?? "")
    }),
  )
})
