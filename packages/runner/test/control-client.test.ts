import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import { TmuxSessionError } from "../src/domain/errors.js"
import { RunnerLive } from "../src/live.js"
import { CONTROL_SESSION, isTmuxServerDown, TmuxControlClient } from "../src/tmux/control-client.js"
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
      // A session of the user's keeps the server up (alone, ours going would end it).
      expect(tmux(["new-session", "-d", "-s", "bystander", "sleep", "1000"]).code).toBe(0)
      expect(tmux(["kill-session", "-t", `=${CONTROL_SESSION}`]).code).toBe(0)
      // The old client detaches; the next command starts a new one.
      const again = yield* client
        .execOne(["display-message", "-p", "second"])
        .pipe(Effect.retry({ times: 3 }))
      expect(again).toEqual(["second"])
      expect(tmux(["has-session", "-t", `=${CONTROL_SESSION}`]).code).toBe(0)
    }),
  )

  it.scopedLive(
    "after the tmux server is killed: says so, does not start one, except for a command that may",
    () =>
      Effect.gen(function* () {
        const { client, tmux } = yield* testRunner()
        yield* client.execOne(["display-message", "-p", "x"])
        expect(yield* client.status).toEqual({ ok: true })
        tmux(["kill-server"])
        const down = yield* Effect.flip(
          client
            .execOne(["display-message", "-p", "x"])
            .pipe(Effect.retry({ times: 3, while: (e) => !isTmuxServerDown(e) })),
        )
        expect(isTmuxServerDown(down)).toBe(true)
        expect(down.message).toMatch(/tmux server -L \S+ is not running/)
        const status = yield* client.status
        expect(status.ok).toBe(false)
        // Nothing of ours brought a server back.
        expect(tmux(["list-sessions"]).code).not.toBe(0)
        const again = yield* client.execOne(["display-message", "-p", "back"], {
          startServer: true,
        })
        expect(again).toEqual(["back"])
        expect(yield* client.status).toEqual({ ok: true })
      }),
  )

  it.scopedLive("reconnects to a tmux server someone else started after ours died", () =>
    Effect.gen(function* () {
      const { client, tmux } = yield* testRunner()
      yield* client.execOne(["display-message", "-p", "x"])
      tmux(["kill-server"])
      expect((yield* client.status).ok).toBe(false)
      expect(tmux(["new-session", "-d", "-s", "theirs", "sleep", "1000"]).code).toBe(0)
      // The failed look is remembered for a second; then the next command finds the server.
      const again = yield* client
        .execOne(["display-message", "-p", "found"])
        .pipe(Effect.retry({ times: 20, schedule: Schedule.spaced("200 millis") }))
      expect(again).toEqual(["found"])
      expect(yield* client.status).toEqual({ ok: true })
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
