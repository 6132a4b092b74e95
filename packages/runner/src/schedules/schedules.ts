import { randomBytes } from "node:crypto"
import { join } from "node:path"
import {
  type CreatedSchedule,
  type CreateScheduleRequest,
  type RunnerSummary,
  SCHEDULE_RUNS_KEPT,
  SCHEDULE_RUNS_LISTED,
  type Schedule,
  type ScheduleRun,
  type ScheduleStart,
} from "@geppetto/protocol"
import { Cause, Duration, Effect, Either, Fiber, PubSub } from "effect"
import { AuditLog } from "../audit/audit-log.js"
import { RunnerConfig } from "../config.js"
import { NotFoundError, type StorageError, ValidationError } from "../domain/errors.js"
import { AiRunnerPort } from "../ports.js"
import { RunnerSettings } from "../runners/settings.js"
import { checkStart } from "./check-start.js"
import { type CronSpec, parseCron, runStamp } from "./cron.js"
import {
  loadSchedules,
  SCHEDULES_FILE,
  type StoredRun,
  type StoredSchedule,
  saveSchedules,
} from "./schedule-store.js"

/**
 * A run woken later than this after its time is not made: it fell due while the server was
 * down or suspended, or the wall clock jumped past it. Recorded as `missed`, never made up.
 */
export const MISSED_AFTER_MS = 60_000

/**
 * The longest single sleep of a schedule's loop. The wall clock is read again at least this
 * often, so a clock set back does not run a job early (the loop sleeps on until the wall clock
 * reaches the run's time) and one set forward is noticed within this long.
 */
export const MAX_NAP_MS = 60_000

/** Schedules one server keeps: the file is rewritten whole on every run. */
export const MAX_SCHEDULES = 200

const FINAL = new Set(["completed", "failed"])

/** A run as it is recorded (see `Schedules.subscribeRuns`). */
export interface RecordedRun {
  readonly scheduleId: string
  readonly run: StoredRun
}

interface Entry {
  stored: StoredSchedule
  readonly spec: CronSpec
  fiber: Fiber.RuntimeFiber<void> | undefined
  /**
   * Held by a run while it is made, and by whoever stops the loop: pausing or removing waits
   * for a start in flight to finish and be recorded. (Not `uninterruptible`: fibers forked
   * inside such a region, like a new runner's watchers, would inherit it and could never be
   * interrupted.)
   */
  readonly busy: Effect.Semaphore
}

const notFound = (id: string) =>
  new NotFoundError({
    resource: "schedule",
    id,
    message: `there is no schedule ${JSON.stringify(id.slice(0, 64))}`,
  })

const invalid = (field: string, message: string) => new ValidationError({ field, message })

const newScheduleId = () =>
  `sch-${randomBytes(8)
    .toString("base64url")
    .replace(/[^A-Za-z0-9]/g, "x")
    .toLowerCase()}`

/** `start` as viewers see it: env values may be secrets, so only their names. */
const shownStart = (start: StoredSchedule["start"]): ScheduleStart => {
  const { env, ...rest } = start
  return env === undefined ? rest : { ...rest, envNames: Object.keys(env) }
}

/**
 * Schedules (`POST /api/schedules`): cron expressions that start runners through
 * `AiRunnerPort`, kept in `DATA_DIR/schedules.json` across restarts. Each schedule that is not
 * paused has a loop in this service's scope that sleeps on Effect's `Clock` (the one it was built
 * with) until its next run, so tests drive it with `TestClock`, then starts a runner named `start.name` (else the
 * schedule's name) plus `-YYYYMMDD-HHMMSS`, carrying `scheduleId`, and audited as user
 * `schedule:NAME`. With `overlap: "skip"` a run is skipped while a runner of the schedule
 * still lives. Runs missed while the server was down are recorded as `missed` and not made up.
 */
export class Schedules extends Effect.Service<Schedules>()("geppetto/Schedules", {
  scoped: Effect.gen(function* () {
    const config = yield* RunnerConfig
    const settings = yield* RunnerSettings
    const runners = yield* AiRunnerPort
    const audit = yield* AuditLog
    const scope = yield* Effect.scope
    // The clock it was built with, for every reading and every sleep (loops are forked by
    // whoever adds a schedule): the wall clock in production, a test's own in tests.
    const clock = yield* Effect.clock
    const path = join(config.dataDir, SCHEDULES_FILE)
    const entries = new Map<string, Entry>()
    /** One change of the set of schedules at a time (add, remove, pause, resume). */
    const changes = yield* Effect.makeSemaphore(1)
    /** One write of the file at a time; a loop's run record takes it too, never `changes`. */
    const writes = yield* Effect.makeSemaphore(1)
    const recorded = yield* PubSub.sliding<RecordedRun>(256)

    const storedList = (): ReadonlyArray<StoredSchedule> =>
      [...entries.values()].map((e) => e.stored)

    /**
     * The file with `change` of the current list (read under the write lock, so a run recorded
     * meanwhile is kept); the caller updates memory after it succeeded.
     */
    const save = (
      change: (current: ReadonlyArray<StoredSchedule>) => ReadonlyArray<StoredSchedule>,
    ) => writes.withPermits(1)(Effect.suspend(() => saveSchedules(path, change(storedList()))))

    /** When the schedule runs next, seen from `now`: strictly after its last run's time too. */
    const nextRunOf = (entry: Entry, now: number): number | undefined => {
      if (entry.stored.paused) return undefined
      const last = entry.stored.runs[0]?.at ?? Number.NEGATIVE_INFINITY
      return entry.spec.nextAfter(Math.max(now, last))
    }

    const record = (id: string, run: StoredRun) =>
      writes.withPermits(1)(
        Effect.gen(function* () {
          const entry = entries.get(id)
          if (entry === undefined) return
          entry.stored = {
            ...entry.stored,
            runs: [run, ...entry.stored.runs].slice(0, SCHEDULE_RUNS_KEPT),
          }
          // The run happened whether or not it could be written down: logged, kept in memory.
          yield* saveSchedules(path, storedList()).pipe(
            Effect.catchAll((e) => Effect.logWarning(`schedules: ${e.message}`)),
          )
          yield* PubSub.publish(recorded, { scheduleId: id, run })
        }),
      )

    /** A runner name for a run at `at` that no runner has yet. */
    const runName = (stored: StoredSchedule, at: number, taken: ReadonlySet<string>): string => {
      const base = `${stored.start.name ?? stored.name}-${runStamp(at, stored.timezone)}`
      if (!taken.has(base)) return base
      for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`
    }

    /** The run due at `at`: skipped on overlap, else a runner started (or why not). */
    const fire = (id: string, at: number) =>
      Effect.gen(function* () {
        const entry = entries.get(id)
        if (entry === undefined || entry.stored.paused) return
        const stored = entry.stored
        const all = yield* runners.listRunners
        if (stored.overlap === "skip") {
          const live = all.find((r) => r.scheduleId === id && !FINAL.has(r.status))
          if (live !== undefined) {
            return yield* record(id, {
              at,
              outcome: "skipped",
              reason: `the previous run ${live.name} (${live.id}) is still ${live.status}`,
            })
          }
        }
        const name = runName(stored, at, new Set(all.map((r) => r.name)))
        const started = yield* Effect.either(
          runners.startRunner({ ...stored.start, name }, { scheduleId: id }),
        )
        if (Either.isLeft(started)) {
          yield* Effect.logWarning(
            `schedule ${stored.name} (${id}): could not start ${name}: ${started.left.message}`,
          )
          return yield* record(id, { at, outcome: "failed", reason: started.left.message })
        }
        const runner = started.right.runner
        // Started: written down whole even at shutdown (nothing here forks a fiber).
        yield* Effect.uninterruptible(
          Effect.zipRight(
            audit.record({
              user: `schedule:${stored.name}`,
              action: "runner.start",
              runnerId: runner.id,
              detail: `${runner.name} (${runner.provider}, ${runner.mode}) by schedule ${stored.name} (${id})`,
            }),
            record(id, { at, outcome: "started", runnerId: runner.id, runnerName: runner.name }),
          ),
        )
      }).pipe(
        // A bug in a start must not end the schedule: the run is failed, the loop goes on.
        Effect.catchAllDefect((defect) =>
          Effect.zipRight(
            Effect.logError(`schedule ${id}: a run died`, Cause.die(defect)),
            record(id, { at, outcome: "failed", reason: "internal error (see the server log)" }),
          ),
        ),
      )

    /** Sleeps until the wall clock reads `target` or later, in naps of at most `MAX_NAP_MS`. */
    const sleepUntil = (target: number) =>
      Effect.gen(function* () {
        for (;;) {
          const now = yield* clock.currentTimeMillis
          if (now >= target) return now
          yield* clock.sleep(Duration.millis(Math.min(target - now, MAX_NAP_MS)))
        }
      })

    /** A schedule's loop: sleep to the next run, make it (or record it missed), again. */
    const loop = (id: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        for (;;) {
          const entry = entries.get(id)
          if (entry === undefined || entry.stored.paused) return
          const next = nextRunOf(entry, yield* clock.currentTimeMillis)
          if (next === undefined) return
          const woke = yield* sleepUntil(next)
          yield* entry.busy.withPermits(1)(
            woke - next > MISSED_AFTER_MS
              ? record(id, {
                  at: next,
                  outcome: "missed",
                  reason: `due ${Math.round((woke - next) / 1000)} s before the server got to it (the clock jumped, or the machine slept); not made up`,
                })
              : fire(id, next),
          )
        }
      })

    const startLoop = (entry: Entry) =>
      Effect.gen(function* () {
        if (entry.stored.paused || entry.fiber !== undefined) return
        entry.fiber = yield* Effect.forkIn(loop(entry.stored.id), scope)
      })

    /** Ends the loop once no run is being made (one in flight finishes first). */
    const stopLoop = (entry: Entry) =>
      entry.busy.withPermits(1)(
        Effect.gen(function* () {
          const fiber = entry.fiber
          entry.fiber = undefined
          if (fiber !== undefined) yield* Fiber.interrupt(fiber)
        }),
      )

    const view = (
      entry: Entry,
      byId: ReadonlyMap<string, RunnerSummary>,
      now: number,
      runs: number,
    ): Schedule => {
      const s = entry.stored
      const nextRunAt = nextRunOf(entry, now)
      return {
        id: s.id,
        name: s.name,
        cron: s.cron,
        ...(s.timezone !== undefined ? { timezone: s.timezone } : {}),
        overlap: s.overlap,
        paused: s.paused,
        createdAt: s.createdAt,
        ...(nextRunAt !== undefined ? { nextRunAt } : {}),
        start: shownStart(s.start),
        runs: s.runs.slice(0, runs).map((run): ScheduleRun => {
          const status = run.runnerId === undefined ? undefined : byId.get(run.runnerId)?.status
          return { ...run, ...(status !== undefined ? { status } : {}) }
        }),
      }
    }

    const runnersById = Effect.map(
      runners.listRunners,
      (all) => new Map(all.map((r) => [r.id, r] as const)),
    )

    const entryOf = (id: string) =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        return entry === undefined ? Effect.fail(notFound(id)) : Effect.succeed(entry)
      })

    const viewOf = (entry: Entry) =>
      Effect.gen(function* () {
        return view(entry, yield* runnersById, yield* clock.currentTimeMillis, SCHEDULE_RUNS_KEPT)
      })

    // Start-up: what was kept, each loop started from now. A run that fell due while the
    // server was down (however shortly) is recorded once as missed, not made up.
    const loaded = yield* loadSchedules(path)
    for (const problem of loaded.problems) yield* Effect.logWarning(`schedules: ${problem}`)
    const startedAt = yield* clock.currentTimeMillis
    let missedAny = false
    for (const stored of loaded.schedules) {
      const spec = parseCron(stored.cron, stored.timezone)
      if (Either.isLeft(spec)) {
        yield* Effect.logWarning(`schedules: skipped ${stored.name} (${stored.id}): ${spec.left}`)
        continue
      }
      const entry: Entry = {
        stored,
        spec: spec.right,
        fiber: undefined,
        busy: yield* Effect.makeSemaphore(1),
      }
      const since = stored.runs[0]?.at ?? stored.createdAt
      const due = stored.paused ? undefined : spec.right.nextAfter(since)
      if (due !== undefined && due < startedAt) {
        missedAny = true
        entry.stored = {
          ...stored,
          runs: [
            {
              at: due,
              outcome: "missed" as const,
              reason: "fell due while the server was down; not made up",
            },
            ...stored.runs,
          ].slice(0, SCHEDULE_RUNS_KEPT),
        }
      }
      entries.set(stored.id, entry)
    }
    if (missedAny) {
      yield* save((current) => current).pipe(
        Effect.catchAll((e) => Effect.logWarning(`schedules: ${e.message}`)),
      )
    }
    for (const entry of entries.values()) yield* startLoop(entry)

    const add = (
      request: CreateScheduleRequest,
    ): Effect.Effect<CreatedSchedule, ValidationError | StorageError> =>
      changes
        .withPermits(1)(
          Effect.gen(function* () {
            const spec = parseCron(request.cron, request.timezone)
            if (Either.isLeft(spec)) {
              const field =
                request.timezone !== undefined && spec.left.startsWith("unknown time zone")
                  ? "timezone"
                  : "cron"
              return yield* invalid(field, `${field}: ${spec.left}`)
            }
            if (entries.size >= MAX_SCHEDULES) {
              return yield* invalid(
                "name",
                `there are ${MAX_SCHEDULES} schedules already, the most one server keeps: remove one first`,
              )
            }
            if ([...entries.values()].some((e) => e.stored.name === request.name)) {
              return yield* invalid("name", `a schedule named ${request.name} already exists`)
            }
            yield* checkStart(request.start, settings, runners)
            const now = yield* clock.currentTimeMillis
            const nextRunAt = spec.right.nextAfter(now)
            if (nextRunAt === undefined) {
              return yield* invalid("cron", `cron ${JSON.stringify(request.cron)} never runs again`)
            }
            const stored: StoredSchedule = {
              id: newScheduleId(),
              name: request.name,
              cron: spec.right.expression,
              ...(request.timezone !== undefined ? { timezone: request.timezone } : {}),
              overlap: request.overlap ?? "skip",
              paused: false,
              createdAt: now,
              start: request.start,
              runs: [],
            }
            yield* save((current) => [...current, stored])
            const entry: Entry = {
              stored,
              spec: spec.right,
              fiber: undefined,
              busy: yield* Effect.makeSemaphore(1),
            }
            entries.set(stored.id, entry)
            yield* startLoop(entry)
            return { id: stored.id, nextRunAt }
          }),
        )
        .pipe(Effect.withSpan("Schedules.add"))

    const list: Effect.Effect<ReadonlyArray<Schedule>> = Effect.gen(function* () {
      const byId = yield* runnersById
      const now = yield* clock.currentTimeMillis
      return [...entries.values()]
        .map((e) => view(e, byId, now, SCHEDULE_RUNS_LISTED))
        .sort((a, b) => a.name.localeCompare(b.name))
    })

    const get = (id: string): Effect.Effect<Schedule, NotFoundError> =>
      Effect.flatMap(entryOf(id), viewOf)

    const remove = (id: string): Effect.Effect<Schedule, NotFoundError | StorageError> =>
      changes
        .withPermits(1)(
          Effect.gen(function* () {
            const entry = yield* entryOf(id)
            // Stopped first (a start in flight finishes and is recorded), then written away.
            yield* stopLoop(entry)
            const shown = yield* viewOf(entry)
            yield* save((current) => current.filter((s) => s.id !== id)).pipe(
              Effect.tapError(() => startLoop(entry)),
            )
            entries.delete(id)
            return shown
          }),
        )
        .pipe(Effect.withSpan("Schedules.remove"))

    const setPaused = (id: string, paused: boolean) =>
      changes.withPermits(1)(
        Effect.gen(function* () {
          const entry = yield* entryOf(id)
          if (entry.stored.paused !== paused) {
            if (paused) yield* stopLoop(entry)
            yield* save((current) => current.map((s) => (s.id === id ? { ...s, paused } : s))).pipe(
              Effect.tapError(() => (paused ? startLoop(entry) : Effect.void)),
            )
            entry.stored = { ...entry.stored, paused }
            // Resumed: from now on; what fell due while paused is not made up.
            if (!paused) yield* startLoop(entry)
          }
          return yield* viewOf(entry)
        }),
      )

    return {
      /** Checks and keeps a new schedule, and starts its loop; its id and first run. */
      add,
      /** Every schedule, by name, each with its newest `SCHEDULE_RUNS_LISTED` runs. */
      list,
      /** One schedule with every run kept (`SCHEDULE_RUNS_KEPT`). */
      get,
      /** Stops and forgets a schedule (its runners stay); what it was, for the audit. */
      remove,
      /** No runs until resumed; runs that fall due meanwhile are not made up. */
      pause: (id: string): Effect.Effect<Schedule, NotFoundError | StorageError> =>
        setPaused(id, true).pipe(Effect.withSpan("Schedules.pause")),
      resume: (id: string): Effect.Effect<Schedule, NotFoundError | StorageError> =>
        setPaused(id, false).pipe(Effect.withSpan("Schedules.resume")),
      /**
       * Every run recorded from now on (written, or failed to be), until the scope closes;
       * bounded: a reader 256 runs behind loses the oldest.
       */
      subscribeRuns: PubSub.subscribe(recorded),
    } as const
  }),
}) {}
