import { join } from "node:path"
import { Clock, Context, Effect, Exit, Layer, Queue, Scope } from "effect"
import { AuditLog, AuditLogOptions } from "../../src/audit/audit-log.js"
import { JournalStore } from "../../src/journal/journal-store.js"
import { AiRunnerPort } from "../../src/ports.js"
import { AiRunnerRegistryLive } from "../../src/runners/registry.js"
import { defaultRunnerSettings, RunnerSettings } from "../../src/runners/settings.js"
import { type RecordedRun, Schedules } from "../../src/schedules/schedules.js"
import { Workspaces } from "../../src/workspaces/workspaces.js"
import { InMemoryProcessMonitorLive } from "./in-memory-monitor.js"
import { UNIT_ATTENTION } from "./registry-world.js"
import { logLayer, monitorWorld } from "./world.js"

/**
 * A wall clock `base` plus an offset that `jump` moves, while sleeps stay on `base`: what a
 * process sees when the system clock is set (NTP, a person). `TestClock.setTime` cannot show
 * it: it wakes each sleeper at its own time on the way, as if time had passed.
 */
const jumpableClock = (base: Clock.Clock) => {
  let offset = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + offset,
    currentTimeMillis: Effect.map(base.currentTimeMillis, (ms) => ms + offset),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + BigInt(offset) * 1_000_000n,
    currentTimeNanos: Effect.map(base.currentTimeNanos, (ns) => ns + BigInt(offset) * 1_000_000n),
    sleep: (duration) => base.sleep(duration),
  }
  const jump = (ms: number) =>
    Effect.sync(() => {
      offset += ms
    })
  return { clock, jump }
}

/**
 * `Schedules` as the server builds it (`AiRunnerLive`), over the in-memory monitor, a real
 * registry, journal, audit trail and schedules file in a temp data dir. `open()` builds it;
 * close it and `open()` again for a server restart: the fake sessions and the data dir stay.
 * The schedules read a wall clock over the test's clock that `jumpClock` sets forward or back.
 */
export const schedulesWorld = Effect.gen(function* () {
  const base = yield* monitorWorld()
  const wall = jumpableClock(yield* Effect.clock)
  const settings = defaultRunnerSettings({
    attention: UNIT_ATTENTION,
    defaultCwd: base.dataDir,
    rulesDir: join(base.dataDir, "rules"),
  })
  const registry = AiRunnerRegistryLive.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        InMemoryProcessMonitorLive(base.state),
        JournalStore.Default,
        Workspaces.Default,
        // No background flush: its 100 ms timer would turn each hour the clock is moved into
        // 36,000 wake-ups.
        AuditLog.Default.pipe(
          Layer.provide(
            Layer.succeed(AuditLogOptions, {
              ...AuditLogOptions.defaultValue(),
              syncIntervalMs: 0,
            }),
          ),
        ),
        Layer.succeed(RunnerSettings, settings),
      ),
    ),
    Layer.provideMerge(logLayer(base.config)),
  )
  const layer = Schedules.Default.pipe(Layer.provideMerge(registry))

  const open = Effect.gen(function* () {
    const scope = yield* Scope.make()
    // Built on the wall clock (the schedules keep the clock they were built with); the test's
    // own fiber keeps the test clock, which `TestClock.adjust` needs.
    const context = yield* Layer.buildWithScope(layer, scope).pipe(Effect.withClock(wall.clock))
    const schedules = Context.get(context, Schedules)
    const runs = yield* schedules.subscribeRuns.pipe(Scope.extend(scope))
    /** The next run recorded (waits on the service's own feed: no polling, no clock). */
    const nextRun: Effect.Effect<RecordedRun> = Queue.take(runs)
    return {
      schedules,
      registry: Context.get(context, AiRunnerPort),
      audit: Context.get(context, AuditLog),
      nextRun,
      close: Scope.close(scope, Exit.void),
    }
  })
  return { ...base, settings, open, jumpClock: wall.jump }
})
