import * as z from "zod/mini"
import { StartRunnerRequest } from "./api.js"
import { RunnerId, SAFE_ID_PATTERN } from "./ids.js"
import { RunnerStatus } from "./process-event.js"

// ---------------------------------------------------------------------------------------
// Schedules: /api/schedules

/**
 * The longest schedule name (and `start.name` of a schedule): each run's runner is named it
 * plus `-YYYYMMDD-HHMMSS` (its time in the schedule's zone) and, on a clash, `-N`, which must
 * still fit a session name's 64 characters.
 */
export const SCHEDULE_NAME_MAX = 44

/** A schedule's name: unique among schedules, the base of its runners' names. */
export const ScheduleName = z
  .string()
  .check(
    z.regex(
      new RegExp(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,${SCHEDULE_NAME_MAX - 1}}$`),
      `must match [A-Za-z0-9_-]{1,${SCHEDULE_NAME_MAX}} (no leading -)`,
    ),
  )
export type ScheduleName = z.infer<typeof ScheduleName>

/** A schedule's id, e.g. `sch-k3j9x2a8q1`; also what `/api/schedules/:id` takes. */
export const ScheduleId = z
  .string()
  .check(z.regex(SAFE_ID_PATTERN, "must match [A-Za-z0-9_.-]{1,64}"))
export type ScheduleId = z.infer<typeof ScheduleId>

/**
 * A cron expression of 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading
 * seconds field), as `croner` reads it: `*`, lists, ranges, steps, names (`MON`, `JAN`), `L`,
 * `W`, `#`. Only the field count is checked here; the server parses it and says what is wrong.
 */
export const CronExpression = z.string().check(
  z.minLength(1),
  z.maxLength(200),
  z.refine(
    (text) => {
      const fields = text.trim().split(/\s+/).length
      return fields === 5 || fields === 6
    },
    { message: "must have 5 fields, or 6 with a leading seconds field" },
  ),
)
export type CronExpression = z.infer<typeof CronExpression>

/** Whether `zone` is an IANA time zone this JavaScript runtime knows (e.g. `Europe/Berlin`). */
export const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** An IANA time zone (`Europe/Berlin`, `UTC`); the server's own zone when a schedule has none. */
export const TimeZone = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(64),
    z.refine(isTimeZone, { message: "must be an IANA time zone such as Europe/Berlin or UTC" }),
  )
export type TimeZone = z.infer<typeof TimeZone>

/**
 * What a run does while the schedule's previous run still lives: `skip` (the default) skips
 * it (recorded as a `skipped` run), `allow` starts another beside it.
 */
export const ScheduleOverlap = z.enum(["skip", "allow"])
export type ScheduleOverlap = z.infer<typeof ScheduleOverlap>

/**
 * `POST /api/schedules`. `start` is a `POST /api/runners` body, checked now as a start would
 * check it (provider, cwd, account, ...); each run starts it with `name` = `start.name`
 * (else the schedule's name) plus a suffix of its own. A `worktree` gets a new branch per run,
 * so `worktree.branch` is refused.
 */
export const CreateScheduleRequest = z.strictObject({
  name: ScheduleName,
  cron: CronExpression,
  timezone: z.optional(TimeZone),
  start: StartRunnerRequest,
  overlap: z.optional(ScheduleOverlap),
})
export type CreateScheduleRequest = z.infer<typeof CreateScheduleRequest>

/** `201` of `POST /api/schedules`: the new id and when it first runs (epoch ms). */
export const CreatedSchedule = z.object({
  id: ScheduleId,
  nextRunAt: z.int(),
})
export type CreatedSchedule = z.infer<typeof CreatedSchedule>

/** Path parameters of `/api/schedules/:id`. */
export const ScheduleParams = z.strictObject({ id: ScheduleId })
export type ScheduleParams = z.infer<typeof ScheduleParams>

/**
 * One run of a schedule, newest first in `Schedule.runs`. `at` is when it was due (epoch ms).
 * `started`: a runner was started (`runnerId`; `status` is that runner's status now, absent
 * once it was removed). `skipped`: the previous run still lived (`overlap: "skip"`).
 * `failed`: the start was refused (`reason`: why, e.g. a provider over its limit).
 * `missed`: it fell due while the server was down (or the clock jumped past it) and was not
 * made up.
 */
export const ScheduleRun = z.object({
  at: z.int(),
  outcome: z.enum(["started", "skipped", "failed", "missed"]),
  runnerId: z.optional(RunnerId),
  runnerName: z.optional(z.string()),
  status: z.optional(RunnerStatus),
  reason: z.optional(z.string()),
})
export type ScheduleRun = z.infer<typeof ScheduleRun>

/**
 * A schedule's start request as shown to viewers: everything but `env`'s values, which may
 * hold secrets (`envNames` lists its keys).
 */
export const ScheduleStart = z.extend(z.omit(StartRunnerRequest, { env: true }), {
  envNames: z.optional(z.array(z.string())),
})
export type ScheduleStart = z.infer<typeof ScheduleStart>

/** Runs a schedule keeps (older ones are dropped); `GET /api/schedules` shows the newest 5. */
export const SCHEDULE_RUNS_KEPT = 50
export const SCHEDULE_RUNS_LISTED = 5

/**
 * One schedule (`GET /api/schedules/:id`; the list gives the same with its newest runs only).
 * `nextRunAt` (epoch ms) is absent while paused, or when the expression has no time left.
 */
export const Schedule = z.object({
  id: ScheduleId,
  name: ScheduleName,
  cron: z.string(),
  timezone: z.optional(z.string()),
  overlap: ScheduleOverlap,
  paused: z.boolean(),
  createdAt: z.int(),
  nextRunAt: z.optional(z.int()),
  start: ScheduleStart,
  /** Newest first. */
  runs: z.array(ScheduleRun),
})
export type Schedule = z.infer<typeof Schedule>
