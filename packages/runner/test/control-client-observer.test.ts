import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { TmuxCommandObservation } from "../src/config.js"
import { testRunner } from "./harness.js"

describe("tmux control client observer", () => {
  it.scopedLive("reports each command line's first command, outcome and duration", () =>
    Effect.gen(function* () {
      const seen: TmuxCommandObservation[] = []
      const { client } = yield* testRunner({ onTmuxCommand: (o) => seen.push(o) })
      yield* client.exec([
        ["display-message", "-p", "one"],
        ["display-message", "-p", "two"],
      ])
      yield* Effect.flip(client.execOne(["kill-session", "-t", "=no-such-session"]))
      // Only the lines sent here (the client may send its own, e.g. on connecting).
      const ours = seen.filter(
        (o) => o.command === "display-message" || o.command === "kill-session",
      )
      expect(ours.map(({ command, commands, ok }) => ({ command, commands, ok }))).toEqual([
        { command: "display-message", commands: 2, ok: true },
        { command: "kill-session", commands: 1, ok: false },
      ])
      for (const o of seen) expect(o.durationMs).toBeGreaterThanOrEqual(0)
    }),
  )

  it.scopedLive("keeps working when the observer throws", () =>
    Effect.gen(function* () {
      const { client } = yield* testRunner({
        onTmuxCommand: () => {
          throw new Error("a broken metrics hook")
        },
      })
      expect(yield* client.execOne(["display-message", "-p", "still"])).toEqual(["still"])
    }),
  )
})
