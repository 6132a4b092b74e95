import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { defaultRunnerConfig, RunnerConfig, type RunnerConfigShape } from "../../src/config.js"
import { LogStore } from "../../src/logs/log-store.js"
import { ProcessMonitorTag } from "../../src/monitor/process-monitor-tag.js"
import { InMemoryProcessMonitorLive, makeInMemoryMonitorState } from "./in-memory-monitor.js"

/** Timing of the unit tests' runners: short, and only ever advanced with `TestClock`. */
export const UNIT_CONFIG = {
  idleThresholdMs: 500,
  activeConfirmMs: 100,
  terminateGraceMs: 500,
} as const satisfies Partial<RunnerConfigShape>

/** A data dir of the test's own, deleted when the scope closes. */
export const tempDataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "geppetto-unit-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

/** `RunnerConfig` and `LogStore` over `config`. */
export const logLayer = (config: RunnerConfigShape) =>
  LogStore.Default.pipe(Layer.provideMerge(Layer.succeed(RunnerConfig, config)))

/**
 * A fake tmux server (`state`) and a data dir, and `open()` to build a monitor on them, again
 * after closing the previous one: the fake sessions outlive each monitor.
 */
export const monitorWorld = (overrides: Partial<RunnerConfigShape> = {}) =>
  Effect.gen(function* () {
    const dataDir = yield* tempDataDir
    const config = defaultRunnerConfig(dataDir, { ...UNIT_CONFIG, ...overrides })
    const state = yield* makeInMemoryMonitorState
    const open = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        InMemoryProcessMonitorLive(state).pipe(Layer.provideMerge(logLayer(config))),
        scope,
      )
      return {
        monitor: Context.get(context, ProcessMonitorTag),
        logs: Context.get(context, LogStore),
        scope,
        close: Scope.close(scope, Exit.void),
      }
    })
    return { dataDir, config, state, open }
  })
