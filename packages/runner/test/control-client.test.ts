import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { TmuxSessionError } from "../src/domain/errors.js"
import { RunnerLive } from "../src/live.js"
import { CONTROL_SESSION, TmuxControlClient } from "../src/tmux/control-client.js"
import { testRunner } from "./harness.js"

describe("tmux control client", () => {
  it.scopedLive("pipelines many commands and matches every reply to its command", () =>
    Effect.gen(function* () {
      const { client } = yield* testRunner()
      const replies = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => client.execOne(["display-message", "-p", `reply-${i}`]),
        { concurrency: "unbounded" },
      )
      expect(replies.map((r) => r[0])).toEqual(Array.from({ length: 200 }, (_, i) => `reply-${i}`))
    }),
  )

  it.scopedLive("returns one output per command of a line and fails on the first error", () =>
    Effect.gen(function* () {
      const { client } = yield* testRunner()
      const outputs = yield* client.exec([
        ["display-message", "-p", "one"],
        ["display-message", "-p", "two"],
      ])
      expect(outputs).toEqual([["one"], ["two"]])
      const failed = yield* Effect.flip(
        client.exec([
          ["display-message", "-p", "a"],
          ["kill-session", "-t", "=no-such-session"],
          ["display-message", "-p", "c"],
        ]),
      )
      expect(failed).toBeInstanceOf(TmuxSessionError)
      expect(failed.message).toContain("no-such-session")
      // Still in step afterwards.
      expect(yield* client.execOne(["display-message", "-p", "after"])).toEqual(["after"])
    }),
  )

  it.scopedLive("comes back after its control session is killed", () =>
    Effect.gen(function* () {
      const { client, tmux } = yield* testRunner()
      expect(yield* client.execOne(["display-message", "-p", "first"])).toEqual(["first"])
      expect(tmux(["kill-session", "-t", `=${CONTROL_SESSION}`]).code).toBe(0)
      // The old client detaches; the next command starts a new one.
      const again = yield* client
        .execOne(["display-message", "-p", "second"])
        .pipe(Effect.retry({ times: 3 }))
      expect(again).toEqual(["second"])
      expect(tmux(["has-session", "-t", `=${CONTROL_SESSION}`]).code).toBe(0)
    }),
  )

  it.scopedLive("comes back after the whole tmux server is killed", () =>
    Effect.gen(function* () {
      const { client, tmux } = yield* testRunner()
      yield* client.execOne(["display-message", "-p", "x"])
      tmux(["kill-server"])
      const again = yield* client
        .execOne(["display-message", "-p", "back"])
        .pipe(Effect.retry({ times: 3 }))
      expect(again).toEqual(["back"])
    }),
  )

  it.scopedLive("reports the tmux version and accepts it", () =>
    Effect.gen(function* () {
      const { client } = yield* testRunner()
      const version = yield* client.version
      expect(version.major * 100 + version.minor).toBeGreaterThanOrEqual(302)
    }),
  )

  it.scopedLive("leaves no control session behind when its scope closes", () =>
    Effect.gen(function* () {
      const { config, tmux } = yield* testRunner()
      // Keep the server alive with a session of its own, so only our cleanup is measured.
      expect(tmux(["new-session", "-d", "-s", "bystander", "sleep", "1000"]).code).toBe(0)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(RunnerLive(config))
          const client = Context.get(context, TmuxControlClient)
          yield* client.execOne(["display-message", "-p", "x"])
          expect(tmux(["has-session", "-t", `=${CONTROL_SESSION}`]).code).toBe(0)
        }),
      )
      expect(tmux(["has-session", "-t", `=${CONTROL_SESSION}`]).code).not.toBe(0)
      expect(tmux(["has-session", "-t", "=bystander"]).code).toBe(0)
    }),
  )
})
