import { describe, expect, it } from "vitest"
import { cronHint, runTone, runWord } from "./schedules"

const at = (iso: string) => Date.parse(iso)
const iso = (runs: ReadonlyArray<number>) => runs.map((ms) => new Date(ms).toISOString())

describe("the add form's next-runs hint (croner, as the server reads it)", () => {
  it("gives the next three runs in the schedule's zone, DST included", () => {
    const hint = cronHint("30 2 * * *", "Europe/Berlin", at("2026-03-28T12:00:00Z"))
    expect(hint.ok && iso(hint.runs)).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
      "2026-03-31T00:30:00.000Z",
    ])
    const seconds = cronHint("*/10 * * * * *", "UTC", at("2026-01-05T10:00:01Z"))
    expect(seconds.ok && iso(seconds.runs)).toEqual([
      "2026-01-05T10:00:10.000Z",
      "2026-01-05T10:00:20.000Z",
      "2026-01-05T10:00:30.000Z",
    ])
  })

  it("says what is wrong: field count, a bad value, a zone, an expression that never runs", () => {
    const now = at("2026-01-05T10:00:00Z")
    for (const [cron, zone, words] of [
      ["", "UTC", /Give a cron/],
      ["* * * *", "UTC", /4 fields/],
      ["* * * * * * *", "UTC", /7 fields/],
      ["61 * * * *", "UTC", /minute/],
      ["* * * * *", "Mars/Olympus", /Unknown time zone/],
      ["0 0 30 2 *", "UTC", /never runs/],
    ] as const) {
      const hint = cronHint(cron, zone, now)
      expect(hint.ok, cron).toBe(false)
      if (!hint.ok) expect(hint.message).toMatch(words)
    }
  })
})

describe("runs in words", () => {
  it("tells a started run by its runner's status, the others by what came of them", () => {
    expect(runWord({ at: 0, outcome: "started", status: "running" })).toBe("running")
    expect(runWord({ at: 0, outcome: "started" })).toBe("removed")
    expect(runWord({ at: 0, outcome: "failed", reason: "x" })).toBe("could not start")
    expect(runTone({ at: 0, outcome: "missed" })).toBe("waiting")
    expect(runTone({ at: 0, outcome: "started", status: "completed" })).toBe("completed")
  })
})
