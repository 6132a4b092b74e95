import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { registryWorld } from "./harness.js"

describe("the server's secrets", () => {
  it.scopedLive("never reach a runner's environment, even when our client starts tmux", () =>
    Effect.gen(function* () {
      // Set before the registry (and so the tmux server) starts, as `geppetto serve` has them.
      const saved = { op: process.env.GEPPETTO_TOKEN, view: process.env.GEPPETTO_VIEWER_TOKEN }
      process.env.GEPPETTO_TOKEN = "canary-operator-secret"
      process.env.GEPPETTO_VIEWER_TOKEN = "canary-viewer-secret"
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const [key, value] of [
            ["GEPPETTO_TOKEN", saved.op],
            ["GEPPETTO_VIEWER_TOKEN", saved.view],
          ] as const) {
            if (value === undefined) delete process.env[key]
            else process.env[key] = value
          }
        }),
      )
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const { runner } = yield* registry.startRunner({
        provider: "shell",
        command: ["sh", "-c", "env; echo END-OF-ENV"],
      })
      const text = yield* registry.output(runner.id, 0).pipe(
        Stream.map((c) => Buffer.from(c.bytes).toString()),
        Stream.runFoldWhile(
          "",
          (t) => !t.includes("END-OF-ENV"),
          (t, s) => t + s,
        ),
      )
      expect(text).toContain("PATH=")
      expect(text).not.toContain("canary-")
      expect(world.tmux(["show-environment", "-g"]).stdout).not.toContain("canary-")
    }),
  )
})
