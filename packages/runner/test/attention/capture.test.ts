import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { evaluateScreen } from "../../src/attention/evaluate.js"
import { compileRules, exampleTitleBusyRule } from "../../src/attention/rules.js"
import { PaneId, ProcessId } from "../../src/domain/ids.js"
import { captureScreen } from "../../src/tmux/screen-capture.js"
import { testRunner } from "../harness.js"
import { waitForText } from "../streams.js"

describe("captureScreen", () => {
  it.effect("asks for the title and the rows in one exec", () =>
    Effect.gen(function* () {
      const calls: Array<ReadonlyArray<ReadonlyArray<string>>> = []
      const client = {
        exec: (commands: ReadonlyArray<ReadonlyArray<string>>) => {
          calls.push(commands)
          return Effect.succeed([["⠙ title"], ["row 1", "row 2"]])
        },
      }
      expect(yield* captureScreen(client, PaneId("%7"))).toEqual({
        title: "⠙ title",
        lines: ["row 1", "row 2"],
      })
      expect(calls).toEqual([
        [
          ["display-message", "-p", "-t", "%7", "#{pane_title}"],
          ["capture-pane", "-p", "-t", "%7"],
        ],
      ])
    }),
  )

  it.scopedLive("real tmux: the title set with OSC 2 and the rows, a title rule on top", () =>
    Effect.gen(function* () {
      const { monitor, client } = yield* testRunner()
      const script =
        "printf '\\033]2;⠹ Refactoring the parser\\033\\\\'; printf 'one\\ntwo\\n'; sleep 1000"
      const handle = yield* monitor.spawn("sh", ["-c", script], {
        processId: ProcessId("titled"),
        cwd: "/tmp",
        cols: 60,
        rows: 8,
      })
      yield* waitForText(handle.output(0), "two")
      const paneId = handle.sessionInfo?.paneId
      if (paneId === undefined) return yield* Effect.dieMessage("spawned without a pane")
      const screen = yield* captureScreen(client, paneId)
      expect(screen.title).toBe("⠹ Refactoring the parser")
      expect(screen.lines.slice(0, 2)).toEqual(["one", "two"])
      expect(screen.lines).toHaveLength(8)
      const rules = yield* compileRules([exampleTitleBusyRule])
      expect(evaluateScreen(screen, rules)).toMatchObject({ kind: "busy" })

      // A pane that is gone fails the capture (the detector then keeps its state).
      yield* handle.terminate
      const gone = yield* Effect.either(captureScreen(client, paneId))
      expect(Either.isLeft(gone)).toBe(true)
    }),
  )
})
