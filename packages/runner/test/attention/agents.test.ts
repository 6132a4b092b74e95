import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Schedule, Stream } from "effect"
import { makeAttentionDetector } from "../../src/attention/detector.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import type { AttentionState } from "../../src/attention/signals.js"
import { ProcessId } from "../../src/domain/ids.js"
import { captureScreen } from "../../src/tmux/screen-capture.js"
import { fixture, testRunner } from "../harness.js"
import { waitForText } from "../streams.js"

const DEBOUNCE_MS = 800
/*
 * No wall-clock bounds and no fixed sleeps here: these tests prove, on real tmux and real
 * screens, which transitions happen and in what order. When they happen (after the debounce
 * and the confirmation, never before; re-checks that hold a prompt under a ticking spinner;
 * nothing after the end) is pure timing, proved on TestClock in test/unit/attention.test.ts;
 * how fast detection is on a real machine is a figure for the benchmarks, not a test.
 */

/** Transitions without the answers, for comparing whole sequences. */
const summary = (seen: ReadonlyArray<Seen>) =>
  seen.map(({ state }) =>
    state.waitingForInput
      ? { waiting: true, reason: state.reason, ruleId: state.ruleId }
      : { waiting: false },
  )

interface Seen {
  readonly at: number
  readonly state: AttentionState
}

/** Spawns a fake agent in real tmux with a detector on its pane, recording every change. */
const startAgent = (name: string, provider: string) =>
  Effect.gen(function* () {
    const { monitor, client } = yield* testRunner()
    const handle = yield* monitor.spawn("bash", [fixture(`agents/${name}.sh`)], {
      processId: ProcessId(name),
      cwd: "/tmp",
      cols: 80,
      rows: 30,
    })
    const paneId = handle.sessionInfo?.paneId
    if (paneId === undefined) return yield* Effect.dieMessage("spawned without a pane")
    const detector = yield* makeAttentionDetector({
      handle,
      capture: captureScreen(client, paneId),
      rules: yield* loadRuleSet(provider),
      debounceMs: DEBOUNCE_MS,
    })
    const seen: Seen[] = []
    yield* detector.changes.pipe(
      Stream.runForEach((state) =>
        Effect.map(Clock.currentTimeMillis, (at) => {
          seen.push({ at, state })
        }),
      ),
      Effect.forkScoped,
    )
    /** The `n`th change (1-based; the first is the initial state), once seen; fails after 10 s. */
    const nthChange = (n: number) =>
      Effect.suspend(() => {
        const hit = seen[n - 1]
        return hit ? Effect.succeed(hit) : Effect.fail(new Error(`only ${seen.length} changes`))
      }).pipe(
        Effect.retry(Schedule.spaced("20 millis")),
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error(`never saw change ${n}: ${JSON.stringify(summary(seen))}`),
        }),
      )
    return { handle, seen, nthChange }
  })

describe("attention on fake agents in real tmux", () => {
  it.scopedLive(
    "permission-agent: no waiting while spinning, permission held under a ticking spinner, cleared by the answer",
    () =>
      Effect.gen(function* () {
        const { handle, seen, nthChange } = yield* startAgent("permission-agent", "claude")
        yield* waitForText(handle.output(0), "3. No")
        // Two seconds of spinner before the menu: not waiting.
        expect(summary(seen)).toEqual([{ waiting: false }])
        const waiting = yield* nthChange(2)
        expect(waiting.state).toMatchObject({
          waitingForInput: true,
          reason: "permission",
          ruleId: "claude.permission",
        })
        expect(waiting.state.answers?.[0]).toEqual({ label: "Yes", keys: "1" })
        // The spinner line above the menu ticks five times; re-checks keep it waiting.
        yield* waitForText(handle.output(0), "25s · esc")
        yield* handle.write(Buffer.from("1"))
        expect((yield* nthChange(3)).state).toEqual({ waitingForInput: false })
        expect(yield* handle.awaitExit).toMatchObject({ exitCode: 0 })
        // The agent spins after the answer before it exits, well past the last re-check of the
        // ticks: a flicker under the ticking spinner would be in the list by now.
        expect(summary(seen)).toEqual([
          { waiting: false },
          { waiting: true, reason: "permission", ruleId: "claude.permission" },
          { waiting: false },
        ])
      }),
  )

  it.scopedLive("yn-agent: a question after the build log, cleared by typing y", () =>
    Effect.gen(function* () {
      const { handle, seen, nthChange } = yield* startAgent("yn-agent", "shell")
      yield* waitForText(handle.output(0), "Continue? [y/N]")
      expect(summary(seen)).toEqual([{ waiting: false }])
      yield* nthChange(2)
      yield* handle.write(Buffer.from("y\r"))
      yield* nthChange(3)
      expect(yield* handle.awaitExit).toMatchObject({ exitCode: 0 })
      expect(summary(seen)).toEqual([
        { waiting: false },
        { waiting: true, reason: "question", ruleId: "generic.yes-no" },
        { waiting: false },
      ])
    }),
  )

  it.scopedLive("bell-agent: OSC titles ended by BEL do not ring, a real BEL does", () =>
    Effect.gen(function* () {
      const { handle, seen, nthChange } = yield* startAgent("bell-agent", "shell")
      yield* waitForText(handle.output(0), "finished, your turn")
      // The 2 s pause after the title changes was longer than debounce + confirmation.
      expect(summary(seen)).toEqual([{ waiting: false }])
      const waiting = yield* nthChange(2)
      expect(waiting.state).toEqual({ waitingForInput: true, reason: "bell" })
      expect(seen).toHaveLength(2)
      yield* handle.terminate
    }),
  )
})
