import { join } from "node:path"
import { Context, Effect, Exit, Layer, Queue, Scope, TestClock } from "effect"
import type { RunnerConfigShape } from "../../src/config.js"
import type { RegistryEvent } from "../../src/domain/runner.js"
import { JournalStore } from "../../src/journal/journal-store.js"
import { type AiRunner, AiRunnerPort } from "../../src/ports.js"
import { AiRunnerRegistryLive } from "../../src/runners/registry.js"
import {
  defaultRunnerSettings,
  RunnerSettings,
  type RunnerSettingsShape,
} from "../../src/runners/settings.js"
import { Workspaces } from "../../src/workspaces/workspaces.js"
import { InMemoryProcessMonitorLive } from "./in-memory-monitor.js"
import { logLayer, monitorWorld } from "./world.js"

/** Attention timing of the unit tests (the defaults are 1500/250/300). */
export const UNIT_ATTENTION = { debounceMs: 600, confirmMs: 150, recheckMs: 200 } as const

/**
 * The registry's feed as a test reads it: every event kept in order, and waits that block on
 * the feed itself (no polling, no clock).
 */
export interface FeedReader {
  readonly seen: ReadonlyArray<RegistryEvent>
  /** The first event at or after index `from` that `match` accepts, waiting for it if need be. */
  readonly waitFor: <A extends RegistryEvent>(
    match: (event: RegistryEvent) => event is A,
    from?: number,
  ) => Effect.Effect<A>
  /** Events taken so far, without waiting. */
  readonly drain: Effect.Effect<ReadonlyArray<RegistryEvent>>
}

export const readFeed = (registry: AiRunner): Effect.Effect<FeedReader, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { queue } = yield* registry.subscribe
    const seen: RegistryEvent[] = []
    const drain = Effect.map(Queue.takeAll(queue), (events) => {
      seen.push(...events)
      return seen
    })
    const waitFor = <A extends RegistryEvent>(
      match: (event: RegistryEvent) => event is A,
      from = 0,
    ): Effect.Effect<A> =>
      Effect.gen(function* () {
        yield* drain
        for (let i = from; ; i++) {
          while (i >= seen.length) seen.push(yield* Queue.take(queue))
          const event = seen[i]
          if (event !== undefined && match(event)) return event
        }
      })
    return { seen, waitFor, drain }
  })

/** Matchers for `waitFor`. */
export const isStatus =
  (runnerId: string, status: string) =>
  (e: RegistryEvent): e is Extract<RegistryEvent, { type: "event" }> =>
    e.type === "event" &&
    e.runnerId === runnerId &&
    e.event.type === "status" &&
    e.event.status === status

export const isAttention =
  (runnerId: string, waiting: boolean) =>
  (e: RegistryEvent): e is Extract<RegistryEvent, { type: "event" }> =>
    e.type === "event" &&
    e.runnerId === runnerId &&
    e.event.type === "attention" &&
    e.event.waitingForInput === waiting

export const isRemoved =
  (runnerId: string) =>
  (e: RegistryEvent): e is Extract<RegistryEvent, { type: "removed" }> =>
    e.type === "removed" && e.runnerId === runnerId

/** The attention and status events of one runner, as compact strings in order. */
export const transitions = (seen: ReadonlyArray<RegistryEvent>, runnerId: string) =>
  seen.flatMap((e) => {
    if (e.type !== "event" || e.runnerId !== runnerId) return []
    if (e.event.type === "status") return [`status:${e.event.status}`]
    if (e.event.type === "attention")
      return [e.event.waitingForInput ? `waiting:${e.event.reason}` : "working"]
    return []
  })

/** `TestClock.adjust` that reads as what it does in a test. */
export const advance = (ms: number) => TestClock.adjust(ms)

/**
 * `AiRunnerPort` as the server builds it, over the in-memory monitor, a real `LogStore` and
 * `JournalStore` in a temp data dir, and `RunnerSettings`. `open()` builds a registry; close
 * it and `open()` again for a restart: the fake sessions and the data dir stay.
 */
export const registryWorld = (
  configOverrides: Partial<RunnerConfigShape> = {},
  settingsOverrides: Partial<RunnerSettingsShape> = {},
) =>
  Effect.gen(function* () {
    const base = yield* monitorWorld(configOverrides)
    const settings = defaultRunnerSettings({
      attention: UNIT_ATTENTION,
      defaultCwd: base.dataDir,
      rulesDir: join(base.dataDir, "rules"),
      ...settingsOverrides,
    })
    const layer = AiRunnerRegistryLive.pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          InMemoryProcessMonitorLive(base.state),
          JournalStore.Default,
          // Real git: a runner's workspace needs no tmux.
          Workspaces.Default,
          Layer.succeed(RunnerSettings, settings),
        ),
      ),
      Layer.provideMerge(logLayer(base.config)),
    )
    /** A registry, as a server would build it, and its feed; `close` stops watching. */
    const open = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(layer, scope)
      const registry = Context.get(context, AiRunnerPort)
      const feed = yield* readFeed(registry).pipe(Scope.extend(scope))
      return { registry, feed, close: Scope.close(scope, Exit.void) }
    })
    return { ...base, settings, open }
  })
