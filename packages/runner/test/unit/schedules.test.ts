import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import type { CreateScheduleRequest } from "@geppetto/protocol"
import { Effect, Either, TestClock } from "effect"
import { nextRuns, parseCron, runStamp } from "../../src/schedules/cron.js"
import { SCHEDULES_FILE } from "../../src/schedules/schedule-store.js"
import { schedulesWorld } from "../support/schedules-world.js"

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

const request = (overrides: Partial<CreateScheduleRequest> = {}): CreateScheduleRequest => ({
  name: "nightly",
  cron: "* * * * *",
  timezone: "UTC",
  start: { provider: "shell", command: ["make", "test"] },
  ...overrides,
})

/** Moves the clock to `iso` (forward or back): what the wall clock does when it is set. */
const setClock = (when: string) => TestClock.setTime(at(when))

const spec = (cron: string, timezone: string | undefined) => {
  const parsed = parseCron(cron, timezone)
  if (Either.isLeft(parsed)) throw new Error(parsed.left)
  return parsed.right
}

describe("cron expressions (croner)", () => {
  it("5 fields run on the minute, 6 fields take a leading seconds field", () => {
    const from = at("2026-01-05T10:00:30Z")
    expect(nextRuns(spec("* * * * *", "UTC"), from, 2).map(iso)).toEqual([
      "2026-01-05T10:01:00.000Z",
      "2026-01-05T10:02:00.000Z",
    ])
    expect(nextRuns(spec("*/1 * * * * *", "UTC"), from, 2).map(iso)).toEqual([
      "2026-01-05T10:00:31.000Z",
      "2026-01-05T10:00:32.000Z",
    ])
    expect(
      nextRuns(spec("0 9 * * MON-FRI", "Europe/Berlin"), at("2026-01-09T12:00:00Z"), 2).map(iso),
    ).toEqual(["2026-01-12T08:00:00.000Z", "2026-01-13T08:00:00.000Z"])
  })

  it("refuses 4 or 7 fields, bad values and unknown zones, in words", () => {
    for (const [cron, zone] of [
      ["* * * *", "UTC"],
      ["* * * * * * *", "UTC"],
      ["61 * * * *", "UTC"],
      ["* * * * *", "Mars/Olympus"],
    ] as const) {
      const parsed = parseCron(cron, zone)
      expect(Either.isLeft(parsed), `${cron} in ${zone}`).toBe(true)
      if (Either.isLeft(parsed)) expect(parsed.left.length).toBeGreaterThan(5)
    }
    // 30 February never comes.
    expect(spec("0 0 30 2 *", "UTC").nextAfter(at("2026-01-01T00:00:00Z"))).toBeUndefined()
  })

  it("DST in Europe/Berlin: a fixed time in the spring gap runs once after it, once on the autumn repeat; hourly keeps real hours", () => {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    expect(
      nextRuns(spec("30 2 * * *", "Europe/Berlin"), at("2026-03-28T12:00:00Z"), 3).map(iso),
    ).toEqual([
      "2026-03-29T01:00:00.000Z", // 03:00 CEST, the first valid time after the gap
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
      "2026-03-31T00:30:00.000Z",
    ])
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, the job runs once.
    expect(
      nextRuns(spec("30 2 * * *", "Europe/Berlin"), at("2026-10-24T12:00:00Z"), 2).map(iso),
    ).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"])
    // Hourly: every real hour, through both changes (no gap, no double).
    expect(
      nextRuns(spec("0 * * * *", "Europe/Berlin"), at("2026-03-28T23:30:00Z"), 4).map(iso),
    ).toEqual([
      "2026-03-29T00:00:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T02:00:00.000Z",
      "2026-03-29T03:00:00.000Z",
    ])
    expect(
      nextRuns(spec("0 * * * *", "Europe/Berlin"), at("2026-10-24T23:30:00Z"), 3).map(iso),
    ).toEqual(["2026-10-25T00:00:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z"])
  })

  it("a run's stamp is its wall-clock time in the schedule's zone", () => {
    expect(runStamp(at("2026-03-29T01:00:00Z"), "Europe/Berlin")).toBe("20260329-030000")
    expect(runStamp(at("2026-01-05T23:59:59Z"), "UTC")).toBe("20260105-235959")
    expect(runStamp(at("2026-01-05T23:59:59Z"), "Asia/Tokyo")).toBe("20260106-085959")
  })
})

describe("Schedules (in-memory monitor, TestClock)", () => {
  it.scoped(
    "every second: a shell runner per run, named NAME-STAMP, carrying scheduleId; overlap skip skips while it lives",
    () =>
      Effect.gen(function* () {
        const world = yield* schedulesWorld
        yield* setClock("2026-01-05T10:00:00.250Z")
        const { schedules, registry, audit, nextRun } = yield* world.open
        const created = yield* schedules.add(request({ cron: "*/1 * * * * *" }))
        expect(iso(created.nextRunAt)).toBe("2026-01-05T10:00:01.000Z")
        expect(created.id).toMatch(/^sch-[a-z0-9]+$/)

        yield* TestClock.adjust(750)
        const first = yield* nextRun
        expect(first).toMatchObject({
          scheduleId: created.id,
          run: { at: at("2026-01-05T10:00:01Z"), outcome: "started" },
        })
        const runnerId = first.run.runnerId ?? ""
        const runner = (yield* registry.getRunner(runnerId)).runner
        expect(runner).toMatchObject({
          name: "nightly-20260105-100001",
          scheduleId: created.id,
          status: "running",
        })
        expect(world.state.process(runnerId).command).toBe("make")

        // Still running a second later: skipped, and said why.
        yield* TestClock.adjust(1000)
        const skipped = yield* nextRun
        expect(skipped.run).toMatchObject({ outcome: "skipped", at: at("2026-01-05T10:00:02Z") })
        expect(skipped.run.reason).toContain(runner.name)
        expect((yield* registry.listRunners).length).toBe(1)

        // Once it ended, the next second starts another.
        yield* world.state.process(runnerId).exit(0)
        yield* registry.waitForCompletion(runnerId)
        yield* TestClock.adjust(1000)
        const second = yield* nextRun
        expect(second.run).toMatchObject({ outcome: "started", at: at("2026-01-05T10:00:03Z") })
        expect(second.run.runnerName).toBe("nightly-20260105-100003")

        // The view: newest first, each started run with its runner's status now.
        const shown = yield* schedules.get(created.id)
        expect(shown.runs.map((r) => [r.outcome, r.status])).toEqual([
          ["started", "running"],
          ["skipped", undefined],
          ["started", "completed"],
        ])
        expect(iso(shown.nextRunAt)).toBe("2026-01-05T10:00:04.000Z")
        // Each scheduled start is in the audit trail as the schedule's own user.
        const trail = yield* audit.query({ action: "runner.start" })
        expect(trail.entries.map((e) => [e.user, e.runnerId])).toEqual([
          ["schedule:nightly", second.run.runnerId],
          ["schedule:nightly", runnerId],
        ])
      }),
  )

  it.scoped("overlap allow starts a run beside the one still running; start.name names them", () =>
    Effect.gen(function* () {
      const world = yield* schedulesWorld
      yield* setClock("2026-01-05T10:00:00Z")
      const { schedules, registry, nextRun } = yield* world.open
      yield* schedules.add(
        request({
          cron: "*/1 * * * * *",
          overlap: "allow",
          start: { provider: "shell", command: ["sleep", "1000"], name: "tick" },
        }),
      )
      yield* TestClock.adjust(1000)
      yield* nextRun
      yield* TestClock.adjust(1000)
      yield* nextRun
      const live = yield* registry.listRunners
      expect(live.map((r) => [r.name, r.status]).sort()).toEqual([
        ["tick-20260105-100001", "running"],
        ["tick-20260105-100002", "running"],
      ])
    }),
  )

  it.scoped("DST: a 02:30 Europe/Berlin job runs at 03:00 CEST on the spring change day", () =>
    Effect.gen(function* () {
      const world = yield* schedulesWorld
      yield* setClock("2026-03-28T23:00:00Z")
      const { schedules, registry, nextRun } = yield* world.open
      const created = yield* schedules.add(
        request({ cron: "30 2 * * *", timezone: "Europe/Berlin" }),
      )
      expect(iso(created.nextRunAt)).toBe("2026-03-29T01:00:00.000Z")
      yield* TestClock.adjust(at("2026-03-29T01:00:00Z") - at("2026-03-28T23:00:00Z"))
      const run = yield* nextRun
      expect(run.run).toMatchObject({ outcome: "started", at: at("2026-03-29T01:00:00Z") })
      const runner = (yield* registry.getRunner(run.run.runnerId ?? "")).runner
      expect(runner.name).toBe("nightly-20260329-030000")
      yield* world.state.process(runner.id).exit(0)
      expect(iso((yield* schedules.get(created.id)).nextRunAt)).toBe("2026-03-30T00:30:00.000Z")
    }),
  )

  it.scoped(
    "a clock set forward past a run records it missed, not made up; runs go on from the new time",
    () =>
      Effect.gen(function* () {
        const world = yield* schedulesWorld
        yield* setClock("2026-01-05T10:00:30Z")
        const { schedules, registry, nextRun } = yield* world.open
        const { id } = yield* schedules.add(request())
        yield* TestClock.adjust(30_000)
        const first = yield* nextRun
        expect(first.run).toMatchObject({ outcome: "started", at: at("2026-01-05T10:01:00Z") })
        yield* world.state.process(first.run.runnerId ?? "").exit(0)
        yield* registry.waitForCompletion(first.run.runnerId ?? "")

        // NTP (or a person) sets the clock three hours on; the loop's nap ends a minute later.
        yield* world.jumpClock(3 * 3_600_000)
        yield* TestClock.adjust(60_000)
        const missed = yield* nextRun
        expect(missed.run).toMatchObject({ outcome: "missed", at: at("2026-01-05T10:02:00Z") })
        // Now 13:02:00 on the wall; the next run is 13:03.
        yield* TestClock.adjust(60_000)
        const after = yield* nextRun
        expect(after.run).toMatchObject({ outcome: "started", at: at("2026-01-05T13:03:00Z") })
        expect((yield* schedules.get(id)).runs.map((r) => r.outcome)).toEqual([
          "started",
          "missed",
          "started",
        ])
        expect((yield* registry.listRunners).length).toBe(2)
      }),
  )

  it.scoped(
    "a clock set back never makes a run twice: the 10:00 run is not made again when 10:00 comes round",
    () =>
      Effect.gen(function* () {
        const world = yield* schedulesWorld
        yield* setClock("2026-01-05T09:59:00Z")
        const { schedules, registry, nextRun } = yield* world.open
        const { id } = yield* schedules.add(request({ cron: "0 * * * *", overlap: "allow" }))
        yield* TestClock.adjust(60_000)
        const first = yield* nextRun
        expect(first.run).toMatchObject({ outcome: "started", at: at("2026-01-05T10:00:00Z") })

        // Set back half an hour, to 09:30; then past 10:00 again, on to 11:00.
        yield* world.jumpClock(-30 * 60_000)
        yield* TestClock.adjust(90 * 60_000)
        const next = yield* nextRun
        expect(next.run).toMatchObject({ outcome: "started", at: at("2026-01-05T11:00:00Z") })
        expect((yield* schedules.get(id)).runs.map((r) => iso(r.at))).toEqual([
          "2026-01-05T11:00:00.000Z",
          "2026-01-05T10:00:00.000Z",
        ])
        expect((yield* registry.listRunners).length).toBe(2)
      }),
  )

  it.scoped(
    "kept across a restart (0600, written whole); runs missed while down are recorded once, not made up",
    () =>
      Effect.gen(function* () {
        const world = yield* schedulesWorld
        yield* setClock("2026-01-05T10:00:30Z")
        const before = yield* world.open
        const { id } = yield* before.schedules.add(request())
        yield* TestClock.adjust(30_000)
        const first = yield* before.nextRun
        yield* world.state.process(first.run.runnerId ?? "").exit(0)
        yield* before.registry.waitForCompletion(first.run.runnerId ?? "")
        yield* before.close

        const file = join(world.dataDir, SCHEDULES_FILE)
        expect(statSync(file).mode & 0o777).toBe(0o600)
        expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({
          version: 1,
          schedules: [{ id, name: "nightly", cron: "* * * * *", runs: [{ outcome: "started" }] }],
        })

        // Down for ten minutes.
        yield* setClock("2026-01-05T10:11:30Z")
        const after = yield* world.open
        const shown = yield* after.schedules.get(id)
        expect(shown.runs.map((r) => [r.outcome, iso(r.at)])).toEqual([
          ["missed", "2026-01-05T10:02:00.000Z"],
          ["started", "2026-01-05T10:01:00.000Z"],
        ])
        expect(shown.runs[1]?.status).toBe("completed")
        expect(iso(shown.nextRunAt)).toBe("2026-01-05T10:12:00.000Z")
        yield* TestClock.adjust(30_000)
        const next = yield* after.nextRun
        expect(next.run).toMatchObject({ outcome: "started", at: at("2026-01-05T10:12:00Z") })
        // The runner's scheduleId is in its journal: still there after the restart.
        expect((yield* after.registry.getRunner(first.run.runnerId ?? "")).runner.scheduleId).toBe(
          id,
        )
      }),
  )

  it.scoped("pause: no runs, no next run; resume goes on from now without making up", () =>
    Effect.gen(function* () {
      const world = yield* schedulesWorld
      yield* setClock("2026-01-05T10:00:30Z")
      const { schedules, registry, nextRun } = yield* world.open
      const { id } = yield* schedules.add(request())
      const paused = yield* schedules.pause(id)
      expect(paused.paused).toBe(true)
      expect(paused.nextRunAt).toBeUndefined()
      yield* TestClock.adjust(5 * 60_000)
      const resumed = yield* schedules.resume(id)
      expect(iso(resumed.nextRunAt)).toBe("2026-01-05T10:06:00.000Z")
      yield* TestClock.adjust(30_000)
      const run = yield* nextRun
      expect(run.run).toMatchObject({ outcome: "started", at: at("2026-01-05T10:06:00Z") })
      expect((yield* registry.listRunners).length).toBe(1)
      expect((yield* schedules.get(id)).runs.length).toBe(1)
    }),
  )

  it.scoped("remove stops it (its runners stay); the file no longer has it", () =>
    Effect.gen(function* () {
      const world = yield* schedulesWorld
      yield* setClock("2026-01-05T10:00:30Z")
      const { schedules, registry, nextRun } = yield* world.open
      const { id } = yield* schedules.add(request({ overlap: "allow" }))
      yield* TestClock.adjust(30_000)
      yield* nextRun
      const removed = yield* schedules.remove(id)
      expect(removed.name).toBe("nightly")
      yield* TestClock.adjust(10 * 60_000)
      expect((yield* registry.listRunners).length).toBe(1)
      expect(yield* schedules.list).toEqual([])
      const gone = yield* Effect.either(schedules.get(id))
      expect(Either.isLeft(gone) && gone.left._tag).toBe("NotFoundError")
      const file = JSON.parse(readFileSync(join(world.dataDir, SCHEDULES_FILE), "utf8"))
      expect(file.schedules).toEqual([])
    }),
  )

  it.scoped("bad schedules are ValidationErrors naming the field, and nothing is kept", () =>
    Effect.gen(function* () {
      const world = yield* schedulesWorld
      yield* setClock("2026-01-05T10:00:30Z")
      const { schedules } = yield* world.open
      yield* schedules.add(request({ name: "taken" }))
      const cases: ReadonlyArray<readonly [Partial<CreateScheduleRequest>, string]> = [
        [{ cron: "61 * * * *" }, "cron"],
        [{ cron: "0 0 30 2 *" }, "cron"],
        [{ timezone: "Mars/Olympus" }, "timezone"],
        [{ name: "taken" }, "name"],
        [{ start: { provider: "nope" } }, "start.provider"],
        [{ start: { provider: "shell", cwd: "/no/such/folder" } }, "start.cwd"],
        [{ start: { provider: "shell", accountId: "ghost" } }, "start.accountId"],
        [{ start: { provider: "shell", name: "x".repeat(45) } }, "start.name"],
        [{ start: { provider: "shell", worktree: { branch: "fixed" } } }, "start.worktree.branch"],
        [{ start: { provider: "shell", worktree: true, cwd: world.dataDir } }, "start.cwd"],
      ]
      for (const [overrides, field] of cases) {
        const refused = yield* Effect.either(
          schedules.add(request({ name: "fresh", ...overrides })),
        )
        expect(Either.isLeft(refused), JSON.stringify(overrides)).toBe(true)
        if (Either.isLeft(refused)) {
          expect(refused.left._tag).toBe("ValidationError")
          expect(refused.left._tag === "ValidationError" && refused.left.field).toBe(field)
        }
      }
      expect((yield* schedules.list).map((s) => s.name)).toEqual(["taken"])
      const file = JSON.parse(readFileSync(join(world.dataDir, SCHEDULES_FILE), "utf8"))
      expect(file.schedules.map((s: { name: string }) => s.name)).toEqual(["taken"])
    }),
  )

  it.scoped("env values are never shown, only their names", () =>
    Effect.gen(function* () {
      const world = yield* schedulesWorld
      const { schedules } = yield* world.open
      const { id } = yield* schedules.add(
        request({ start: { provider: "shell", env: { API_KEY: "s3cret" } } }),
      )
      const shown = yield* schedules.get(id)
      expect(shown.start).toEqual({ provider: "shell", envNames: ["API_KEY"] })
      expect(JSON.stringify(yield* schedules.list)).not.toContain("s3cret")
    }),
  )
})
