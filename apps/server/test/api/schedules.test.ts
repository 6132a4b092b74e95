import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import {
  AuditResponse,
  CreatedSchedule,
  RunnerSummary,
  Schedule,
  type ScheduleRun,
} from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { z } from "zod"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

const schedules = async (): Promise<ReadonlyArray<Schedule>> => {
  const reply = await server.get("/api/schedules")
  expect(reply.statusCode, reply.body).toBe(200)
  return z.array(Schedule).parse(reply.json())
}

const schedule = async (id: string): Promise<Schedule> => {
  const reply = await server.get(`/api/schedules/${id}`)
  expect(reply.statusCode, reply.body).toBe(200)
  return Schedule.parse(reply.json())
}

const runners = async (): Promise<ReadonlyArray<RunnerSummary>> =>
  z.array(RunnerSummary).parse((await server.get("/api/runners")).json())

const ofSchedule = async (id: string) => (await runners()).filter((r) => r.scheduleId === id)

const audit = async (query: string) => {
  const reply = await server.get(`/api/audit?${query}`, "operator")
  expect(reply.statusCode, reply.body).toBe(200)
  return AuditResponse.parse(reply.json()).entries
}

const FINAL = new Set(["completed", "failed"])

/** What a run list says, oldest first, for a failure message. */
const outcomes = (runs: ReadonlyArray<ScheduleRun>) =>
  runs
    .map((r) => `${new Date(r.at).toISOString().slice(11, 19)} ${r.outcome} ${r.status ?? ""}`)
    .reverse()
    .join(", ")

describe("schedules against a real server and tmux", () => {
  it("every second: starts a real shell runner in tmux with scheduleId, skips while it lives, survives a restart, and is removed", {
    timeout: 120_000,
  }, async () => {
    const added = await server.post("/api/schedules", {
      name: "tick",
      cron: "*/1 * * * * *",
      timezone: "UTC",
      start: { provider: "shell", command: ["sh", "-c", "sleep 2"] },
    })
    expect(added.statusCode, added.body).toBe(201)
    const { id, nextRunAt } = CreatedSchedule.parse(added.json())
    expect(nextRunAt).toBeGreaterThan(Date.now() - 1000)
    expect(nextRunAt).toBeLessThanOrEqual(Date.now() + 1000)

    // The first run: a runner named tick-YYYYMMDD-HHMMSS, carrying the schedule's id, in tmux.
    const first = await waitFor(async () => (await ofSchedule(id))[0], "the first run's runner")
    expect(first.name).toMatch(/^tick-[0-9]{8}-[0-9]{6}$/)
    expect(first.provider).toBe("shell")
    await waitFor(() => server.sessions().includes(first.name), `tmux session ${first.name}`)
    expect((await server.runner(first.id)).scheduleId).toBe(id)

    /** The runs as last read, for a failure's message. */
    let seen: ReadonlyArray<ScheduleRun> = []
    // While it sleeps, the next seconds are skipped: never two of its runners alive at once.
    const skipped = await waitFor(
      async () => {
        const live = (await ofSchedule(id)).filter((r) => !FINAL.has(r.status))
        expect(live.length).toBeLessThanOrEqual(1)
        seen = (await schedule(id)).runs
        return seen.find((r) => r.outcome === "skipped")
      },
      () => `a skipped run (runs: ${outcomes(seen)})`,
    )
    expect(skipped.reason).toContain(first.name)
    // Once it ended, another starts.
    const second = await waitFor(
      async () => {
        seen = (await schedule(id)).runs
        return (await ofSchedule(id)).find((r) => r.id !== first.id)
      },
      () => `a second run (runs: ${outcomes(seen)})`,
    )
    expect(FINAL.has((await server.runner(first.id)).status)).toBe(true)
    expect(second.name).not.toBe(first.name)

    const shown = await schedule(id)
    expect(shown).toMatchObject({ name: "tick", cron: "*/1 * * * * *", overlap: "skip" })
    expect(shown.start).toEqual({ provider: "shell", command: ["sh", "-c", "sleep 2"] })
    const firstRun = shown.runs.find((r) => r.runnerId === first.id)
    expect(firstRun).toMatchObject({ outcome: "started", runnerName: first.name })
    expect(firstRun?.status).toBe("completed")
    // Listed too, with its newest runs.
    const listed = (await schedules()).find((s) => s.id === id)
    expect(listed?.runs.length).toBeGreaterThan(0)
    expect(listed?.runs.length).toBeLessThanOrEqual(5)

    // The trail: the operator added it; each run's start is the schedule's own.
    expect((await audit("action=schedule.add"))[0]).toMatchObject({
      user: "owner",
      action: "schedule.add",
    })
    const starts = await audit(`action=runner.start&runner=${first.id}`)
    expect(starts[0]).toMatchObject({ user: "schedule:tick", runnerId: first.id })

    // The file: 0600, whole JSON.
    const file = join(server.dataDir, "schedules.json")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(file, "utf8")).schedules[0]).toMatchObject({ id, name: "tick" })

    // A restart: the schedule comes back, what fell due meanwhile is recorded as missed (not
    // made up), and runs go on.
    await server.stop()
    // Down until at least one run has fallen due (a restart can take less than a second).
    const dueWhileDown =
      (await waitFor(async () => {
        const content = JSON.parse(readFileSync(file, "utf8")).schedules[0]
        return content?.runs?.[0]?.at as number | undefined
      }, "the last run in the file")) + 1000
    await waitFor(() => Date.now() > dueWhileDown, "a run to fall due while the server is down")
    server = await startServer({ reuse: { dataDir: server.dataDir, socket: server.socket } })
    const after = await schedule(id)
    // Recorded once, at start-up (runs may already have gone on since).
    expect(
      after.runs.filter((r) => r.outcome === "missed").map((r) => r.at),
      outcomes(after.runs),
    ).toEqual([dueWhileDown])
    expect(after.runs.find((r) => r.runnerId === first.id)?.status).toBe("completed")
    expect((await server.runner(first.id)).scheduleId).toBe(id)
    const restarted = Date.now()
    await waitFor(
      async () => {
        seen = (await schedule(id)).runs
        return seen.find((r) => r.outcome === "started" && r.at >= restarted)
      },
      () => `a run after the restart (runs: ${outcomes(seen)})`,
    )

    // Removed: gone from the API and the file, audited; its runners stay listed.
    const removed = await server.request("operator", {
      method: "DELETE",
      url: `/api/schedules/${id}`,
    })
    expect(removed.statusCode, removed.body).toBe(204)
    expect((await server.get(`/api/schedules/${id}`)).statusCode).toBe(404)
    expect(await schedules()).toEqual([])
    expect(JSON.parse(readFileSync(file, "utf8")).schedules).toEqual([])
    expect((await audit("action=schedule.remove"))[0]?.detail).toContain("tick")
    expect((await ofSchedule(id)).map((r) => r.id)).toContain(first.id)
    // Its last runner may still be alive: the test's tmux server goes at close.
  })

  it("pause and resume: no next run while paused; both audited", async () => {
    const added = await server.post("/api/schedules", {
      name: "yearly",
      cron: "0 0 1 1 *",
      timezone: "Europe/Berlin",
      start: { provider: "shell", command: ["true"] },
    })
    expect(added.statusCode, added.body).toBe(201)
    const { id, nextRunAt } = CreatedSchedule.parse(added.json())
    // Midnight of 1 January in Berlin is 23:00 UTC on 31 December.
    expect(new Date(nextRunAt).toISOString()).toMatch(/-12-31T23:00:00\.000Z$/)
    const paused = await server.post(`/api/schedules/${id}/pause`)
    expect(paused.statusCode, paused.body).toBe(200)
    expect(Schedule.parse(paused.json())).toMatchObject({ paused: true })
    expect(Schedule.parse(paused.json()).nextRunAt).toBeUndefined()
    const resumed = await server.post(`/api/schedules/${id}/resume`)
    expect(Schedule.parse(resumed.json())).toMatchObject({ paused: false, nextRunAt })
    expect((await audit("action=schedule.pause"))[0]?.detail).toContain("yearly")
    expect((await audit("action=schedule.resume"))[0]?.detail).toContain("yearly")
    const removed = await server.request("operator", {
      method: "DELETE",
      url: `/api/schedules/${id}`,
    })
    expect(removed.statusCode).toBe(204)
  })

  it("refuses bad schedules with 400 and keeps nothing; unknown ids are 404", async () => {
    const base = {
      name: "ok",
      cron: "0 3 * * *",
      start: { provider: "shell", command: ["true"] },
    }
    const namesBefore = (await schedules()).map((s) => s.name)
    const kept = await server.post("/api/schedules", base)
    expect(kept.statusCode, kept.body).toBe(201)
    const file = join(server.dataDir, "schedules.json")
    const before = readFileSync(file, "utf8")
    const bad: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
      [{ cron: "* * * *" }, /cron/],
      [{ cron: "* * * * * * *" }, /cron/],
      [{ cron: "61 * * * *" }, /cron/],
      [{ cron: "0 0 30 2 *" }, /never runs/],
      [{ timezone: "Mars/Olympus" }, /timezone/],
      [{ name: "ok" }, /already exists/],
      [{ name: "-flag" }, /name/],
      [{ name: "x".repeat(45) }, /name/],
      [{ overlap: "sometimes" }, /overlap/],
      [{ start: { provider: "nope" } }, /provider/],
      [{ start: { provider: "shell", cwd: "/no/such/folder" } }, /cwd/],
      [{ start: { provider: "shell", worktree: { branch: "fixed" } } }, /worktree/],
      [{ start: { provider: "shell", promt: "typo" } }, /start/],
      [{ extra: 1 }, /extra|key/i],
    ]
    for (const [change, message] of bad) {
      const reply = await server.post("/api/schedules", { ...base, name: "fresh", ...change })
      expect(reply.statusCode, `${JSON.stringify(change)}: ${reply.body}`).toBe(400)
      expect(reply.json().error.code).toBe("ValidationError")
      expect(reply.json().error.message, JSON.stringify(change)).toMatch(message)
    }
    expect((await schedules()).map((s) => s.name).sort()).toEqual([...namesBefore, "ok"].sort())
    expect(readFileSync(file, "utf8")).toBe(before)

    for (const [method, url] of [
      ["GET", "/api/schedules/sch-nope"],
      ["DELETE", "/api/schedules/sch-nope"],
      ["POST", "/api/schedules/sch-nope/pause"],
      ["POST", "/api/schedules/sch-nope/resume"],
    ] as const) {
      const reply = await server.request("operator", { method, url })
      expect(reply.statusCode, `${method} ${url}`).toBe(404)
      expect(reply.json().error.code).toBe("NotFoundError")
    }
    expect((await server.get("/api/schedules/..%2Fetc")).statusCode).toBe(400)
  })

  it("shows env names to viewers, never the values", async () => {
    const added = await server.post("/api/schedules", {
      name: "secretive",
      cron: "0 4 * * *",
      start: { provider: "shell", command: ["true"], env: { API_KEY: "s3cret-value" } },
    })
    expect(added.statusCode, added.body).toBe(201)
    const { id } = CreatedSchedule.parse(added.json())
    const shown = await server.get(`/api/schedules/${id}`, "viewer")
    expect(shown.body).not.toContain("s3cret-value")
    expect(Schedule.parse(shown.json()).start.envNames).toEqual(["API_KEY"])
    expect((await server.get("/api/schedules", "viewer")).body).not.toContain("s3cret-value")
  })
})
