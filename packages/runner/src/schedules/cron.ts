import { isTimeZone } from "@geppetto/protocol"
import { Cron } from "croner"
import { Either } from "effect"

/**
 * A parsed cron expression in its time zone. Croner does the calendar work, DST included: in
 * a time zone, a fixed-time job (`30 2 * * *`) whose time falls in a spring-forward gap runs
 * at the first valid time after it, and once when a fall-back repeats its time; an interval
 * job (`*\/15 * * * *`) keeps its steps in real time.
 */
export interface CronSpec {
  readonly expression: string
  readonly timezone: string | undefined
  /** The first run strictly after `afterMs` (epoch ms), or `undefined` when none is left. */
  readonly nextAfter: (afterMs: number) => number | undefined
}

/**
 * Parses `expression` (5 fields, or 6 with a leading seconds field) in `timezone` (IANA;
 * the process's own zone when undefined). Left: what is wrong, in croner's words.
 */
export const parseCron = (
  expression: string,
  timezone: string | undefined,
): Either.Either<CronSpec, string> => {
  if (timezone !== undefined && !isTimeZone(timezone)) {
    return Either.left(`unknown time zone ${JSON.stringify(timezone.slice(0, 64))}`)
  }
  let cron: Cron
  try {
    // Paused, and given no function: croner never arms a timer of its own. It is only asked
    // for the next time; the waiting is done on Effect's clock (see `Schedules`).
    cron = new Cron(expression.trim(), {
      mode: "5-or-6-parts",
      paused: true,
      ...(timezone !== undefined ? { timezone } : {}),
    })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return Either.left(message.replace(/^CronPattern: /, ""))
  }
  const nextAfter = (afterMs: number): number | undefined => {
    const next = cron.nextRun(new Date(afterMs))
    return next === null ? undefined : next.getTime()
  }
  return Either.right({ expression: expression.trim(), timezone, nextAfter })
}

/** The next `count` runs strictly after `afterMs`, fewer when the expression runs out. */
export const nextRuns = (spec: CronSpec, afterMs: number, count: number): ReadonlyArray<number> => {
  const runs: number[] = []
  let after = afterMs
  while (runs.length < count) {
    const next = spec.nextAfter(after)
    if (next === undefined) break
    runs.push(next)
    after = next
  }
  return runs
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/**
 * `YYYYMMDD-HHMMSS` of `atMs` on the wall clock of `timezone` (the process's zone when
 * undefined): the suffix of a scheduled run's runner name, as a person reading `tmux ls`
 * would expect it (a 02:00 job's runner says 020000 in its own zone).
 */
export const runStamp = (atMs: number, timezone: string | undefined): string => {
  const parts = new Intl.DateTimeFormat("en-US", {
    ...(timezone !== undefined ? { timeZone: timezone } : {}),
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
    hourCycle: "h23",
  }).formatToParts(new Date(atMs))
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((p) => p.type === type)?.value ?? "0")
  return `${pad(part("year"), 4)}${pad(part("month"))}${pad(part("day"))}-${pad(part("hour"))}${pad(part("minute"))}${pad(part("second"))}`
}
