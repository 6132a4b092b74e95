import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { defaultRunnerConfig, type RunnerConfigShape } from "../../src/config.js"
import type { RegistryEvent } from "../../src/domain/runner.js"
import { AiRunnerLive } from "../../src/live.js"
import { type AiRunner, AiRunnerPort } from "../../src/ports.js"
import { defaultRunnerSettings, type RunnerSettingsShape } from "../../src/runners/settings.js"
import { tmuxSync } from "../harness.js"

export { eventually } from "../harness.js"

let counter = 0

/** Fast detection for tests; the defaults are 1500/250/300. */
export const TEST_ATTENTION = { debounceMs: 600, confirmMs: 150, recheckMs: 200 }

/**
 * A data dir and a tmux server of the test's own, removed at the end, and `open()` to build a
 * registry on them — again after closing the previous one, to test a restart.
 */
export const registryWorld = (
  configOverrides: Partial<RunnerConfigShape> = {},
  settingsOverrides: Partial<RunnerSettingsShape> = {},
) =>
  Effect.gen(function* () {
    const dataDir = mkdtempSync(join(tmpdir(), "geppetto-reg-"))
    const socket = `geppetto-reg-${process.pid}-${++counter}-${Date.now().toString(36)}`
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        tmuxSync(socket, ["kill-server"])
        rmSync(join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), {
          force: true,
        })
        rmSync(dataDir, { recursive: true, force: true })
      }),
    )
    const config = defaultRunnerConfig(dataDir, {
      tmuxSocket: socket,
      idleThresholdMs: 500,
      activeConfirmMs: 100,
      terminateGraceMs: 500,
      ...configOverrides,
    })
    const settings = defaultRunnerSettings({
      attention: TEST_ATTENTION,
      defaultCwd: "/tmp",
      rulesDir: join(dataDir, "rules"),
      ...settingsOverrides,
    })
    /** A registry as a server would build it; `close` stops watching, runners stay. */
    const open = (
      overrides: Partial<RunnerSettingsShape> = {},
      configFor: Partial<RunnerConfigShape> = {},
    ) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          AiRunnerLive({ ...config, ...configFor }, { ...settings, ...overrides }),
          scope,
        )
        const registry = Context.get(context, AiRunnerPort)
        return { registry, close: Scope.close(scope, Exit.void), scope }
      })
    return {
      config,
      dataDir,
      socket,
      open,
      tmux: (args: ReadonlyArray<string>) => tmuxSync(socket, args),
    }
  })

/** Records every registry event from now on. */
export const recordFeed = (registry: AiRunner) =>
  Effect.gen(function* () {
    const { queue } = yield* registry.subscribe
    const seen: RegistryEvent[] = []
    yield* Effect.forkScoped(Effect.forever(Effect.map(queue.take, (event) => seen.push(event))))
    return seen
  })

/** The attention and status events of one runner, as compact strings in order. */
export const transitions = (seen: ReadonlyArray<RegistryEvent>, runnerId: string) =>
  seen.flatMap((e) => {
    if (e.type !== "event" || e.runnerId !== runnerId) return []
    if (e.event.type === "status") return [`status:${e.event.status}`]
    if (e.event.type === "attention")
      return [e.event.waitingForInput ? `waiting:${e.event.reason}` : "working"]
    return []
  })
