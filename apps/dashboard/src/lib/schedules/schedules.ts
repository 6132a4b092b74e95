import { isTimeZone, type ScheduleRun } from "@geppetto/protocol"
import { Cron } from "croner"

/** The next runs of an expression as the server will read it, or why it cannot be read. */
export type CronHint =
  | { readonly ok: true; readonly runs: ReadonlyArray<number> }
  | { readonly ok: false; readonly message: string }

/**
 * The next `count` runs (epoch ms) of `cron` after `from`, in `timezone` (this browser's zone
 * when empty), read the way the server reads it: croner, 5 fields or 6 with leading seconds.
 */
export const cronHint = (cron: string, timezone: string, from: number, count = 3): CronHint => {
  const text = cron.trim()
  if (text === "") return { ok: false, message: "Give a cron expression." }
  const fields = text.split(/\s+/).length
  if (fields !== 5 && fields !== 6) {
    return {
      ok: false,
      message: `${fields} field${fields === 1 ? "" : "s"}: give 5 (minute hour day month weekday), or 6 with a leading seconds field.`,
    }
  }
  const zone = timezone.trim()
  if (zone !== "" && !isTimeZone(zone)) {
    return { ok: false, message: `Unknown time zone ${zone}: use one like Europe/Berlin or UTC.` }
  }
  try {
    const job = new Cron(text, {
      mode: "5-or-6-parts",
      paused: true,
      ...(zone !== "" ? { timezone: zone } : {}),
    })
    const runs = job.nextRuns(count, new Date(from)).map((d) => d.getTime())
    if (runs.length === 0) return { ok: false, message: "This expression never runs again." }
    return { ok: true, runs }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { ok: false, message: message.replace(/^CronPattern: /, "") }
  }
}

/** This browser's IANA time zone, the add form's default. */
export const browserTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone

/** How a run is told, beside its icon: the runner's status for a started one. */
export const runWord = (run: ScheduleRun): string => {
  switch (run.outcome) {
    case "started":
      return run.status ?? "removed"
    case "skipped":
      return "skipped"
    case "missed":
      return "missed"
    case "failed":
      return "could not start"
  }
}

/** The icon (and tone) of a run: a started one's runner status, else what came of it. */
export const runTone = (
  run: ScheduleRun,
): "running" | "ready" | "paused" | "completed" | "failed" | "waiting" | "history" => {
  if (run.outcome === "failed") return "failed"
  if (run.outcome === "missed") return "waiting"
  if (run.outcome === "skipped") return "history"
  switch (run.status) {
    case "running":
      return "running"
    case "idle":
      return "ready"
    case "paused":
      return "paused"
    case "completed":
      return "completed"
    case "failed":
      return "failed"
    default:
      return "history"
  }
}

/** Examples for the add form, with what each means. */
export const CRON_EXAMPLES: ReadonlyArray<{ readonly cron: string; readonly means: string }> = [
  { cron: "0 2 * * *", means: "02:00 every day" },
  { cron: "0 9 * * MON-FRI", means: "09:00 on weekdays" },
  { cron: "*/15 * * * *", means: "every 15 minutes" },
  { cron: "0 */30 * * * *", means: "every 30 minutes, on the second 0 (6 fields)" },
]
