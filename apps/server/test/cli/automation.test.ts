import { RunnerDetail, RunnerSummary, Schedule } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { z } from "zod"
import {
  type CliServer,
  cliEnv,
  runCli,
  SERVER_DIR,
  startCli,
  startCliServer,
  waitFor,
} from "./harness.js"

// Every step is a real `node` child through tsx: seconds each on a loaded 2-core machine.
describe("geppetto wait and geppetto schedule against a live server", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  const api = async (path: string, init: RequestInit = {}) =>
    fetch(`${world.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${world.operator}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...init.headers,
      },
    })
  const runners = async () => z.array(RunnerSummary).parse(await (await api("/api/runners")).json())
  const detail = async (id: string) =>
    RunnerDetail.parse(await (await api(`/api/runners/${id}`)).json())
  const schedules = async () => z.array(Schedule).parse(await (await api("/api/schedules")).json())
  /** Starts `sh -c SCRIPT` through the API; its id. */
  const start = async (name: string, script: string) => {
    const reply = await api("/api/runners", {
      method: "POST",
      body: JSON.stringify({ provider: "shell", name, command: ["sh", "-c", script] }),
    })
    expect(reply.status).toBe(201)
    return RunnerDetail.parse(await reply.json()).id
  }
  /** Sockets open on /api/events now (the server's own gauge): a `wait` that is listening. */
  const eventWatchers = async () => {
    const text = await (await api("/metrics")).text()
    return Number(/^geppetto_event_watchers ([0-9]+)$/m.exec(text)?.[1] ?? "0")
  }
  const type = async (id: string, data: string) => {
    const reply = await api(`/api/runners/${id}/input`, {
      method: "POST",
      body: JSON.stringify({ data }),
    })
    expect(reply.status).toBe(204)
  }

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  it("wait: exit 0 when it completes, 1 when it fails, at once when it has ended", async () => {
    const ok = await start("wait-ok", "read line; exit 0")
    const bad = await start("wait-bad", "read line; exit 3")
    const waitOk = startCli(["wait", "wait-ok"], env)
    const waitBad = startCli(["wait", bad], env)
    // Both listen (and neither runner has ended) before the runners are let go.
    await waitFor(async () => (await eventWatchers()) === 2, "both waits on /api/events")
    expect((await detail(ok)).status).toBe("running")
    await type(ok, "go\n")
    await type(bad, "go\n")
    expect(await waitOk.exited).toBe(0)
    expect(waitOk.stdout().toString()).toBe(`${ok} wait-ok completed\n`)
    expect(await waitBad.exited).toBe(1)
    expect(waitBad.stdout().toString()).toBe(`${bad} wait-bad failed\n`)
    // Already ended: answered from the first message, whatever it waits for.
    const again = await runCli(["wait", "wait-bad", "--for", "waiting"], env)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("failed before it was waiting for input")
    const json = await runCli(["wait", "wait-ok", "--json"], env)
    expect(json.code).toBe(0)
    expect(RunnerSummary.parse(JSON.parse(json.out))).toMatchObject({ id: ok, status: "completed" })
  })

  it("wait --for waiting: returns when the runner asks 'Do you want to proceed?', so a script can answer", async () => {
    const id = await start(
      "wait-asks",
      "sleep 1; printf 'Do you want to proceed? [y/N] '; read a; printf 'got %s\\n' \"$a\"; exit 0",
    )
    const waiting = await runCli(["wait", "wait-asks", "--for", "waiting", "--timeout", "60"], env)
    expect(waiting.stderr).toBe("")
    expect(waiting.code).toBe(0)
    expect(waiting.out).toBe(`${id} wait-asks running question\n`)
    expect((await detail(id)).waitingForInput).toBe(true)
    await type(id, "y\n")
    const done = await runCli(["wait", id], env)
    expect(done.code).toBe(0)
  })

  it("wait --timeout: exit 6 when the state does not come in time", async () => {
    const id = await start("wait-long", "exec sleep 600")
    const began = Date.now()
    const result = await runCli(["wait", id, "--timeout", "1.5"], env)
    expect(result.code).toBe(6)
    expect(result.stderr).toContain("was not done after 1.5 s")
    expect(Date.now() - began).toBeGreaterThanOrEqual(1500)
    expect((await detail(id)).status).toBe("running")
  })

  it("wait reconnects when the server restarts, and still sees the end", async () => {
    const id = await start("wait-restart", "read line; exit 0")
    const waiting = startCli(["wait", "wait-restart"], env)
    await waitFor(async () => (await eventWatchers()) === 1, "the wait on /api/events")
    await world.restart()
    await waitFor(
      () => waiting.stderr().includes("reconnecting"),
      () => `the wait to see the stream drop (stderr: ${waiting.stderr()})`,
    )
    // Listening again, on the new server, before the runner ends.
    await waitFor(async () => (await eventWatchers()) === 1, "the wait back on /api/events")
    await type(id, "go\n")
    expect(await waiting.exited).toBe(0)
    expect(waiting.stdout().toString()).toBe(`${id} wait-restart completed\n`)
  })

  it("wait: exit 5 for an unknown runner, 2 for a bad --for or --timeout", async () => {
    expect((await runCli(["wait", "no-such-runner"], env)).code).toBe(5)
    expect((await runCli(["wait", "x", "--for", "lunch"], env)).code).toBe(2)
    expect((await runCli(["wait", "x", "--timeout", "soon"], env)).code).toBe(2)
  })

  it("schedule add, ls, pause, resume, rm: an every-second schedule starts a runner with scheduleId", async () => {
    const added = await runCli(
      [
        "schedule",
        "add",
        "ticker",
        "--cron",
        "*/1 * * * * *",
        "--tz",
        "UTC",
        "-e",
        "GREETING=hello",
        "shell",
        "--",
        "sh",
        "-c",
        'printf "%s\\n" "$GREETING"; exec sleep 600',
      ],
      env,
    )
    expect(added.stderr).toBe("")
    expect(added.code).toBe(0)
    const [id, name] = added.out.trim().split(" ")
    expect(id).toMatch(/^sch-/)
    expect(name).toBe("ticker")

    const started = await waitFor(
      async () => (await runners()).find((r) => r.scheduleId === id),
      "a runner of the schedule",
    )
    expect(started.name).toMatch(/^ticker-[0-9]{8}-[0-9]{6}$/)
    // --cwd defaults to where `schedule add` ran.
    expect(started.cwd).toBe(SERVER_DIR)
    const kept = (await schedules()).find((s) => s.id === id)
    expect(kept).toMatchObject({
      name: "ticker",
      cron: "*/1 * * * * *",
      timezone: "UTC",
      overlap: "skip",
      start: { provider: "shell", envNames: ["GREETING"] },
    })

    const listed = await runCli(["schedule", "ls"], env)
    expect(listed.code).toBe(0)
    const row = listed.out.split("\n").find((line) => line.startsWith(id ?? "?")) ?? ""
    expect(row).toContain("ticker")
    expect(row).toContain("*/1 * * * * * (UTC)")

    const paused = await runCli(["schedule", "pause", "ticker"], env)
    expect(paused.code).toBe(0)
    expect(paused.out).toBe("ticker is paused\n")
    expect((await schedules()).find((s) => s.id === id)?.paused).toBe(true)
    const resumed = await runCli(["schedule", "resume", id ?? ""], env)
    expect(resumed.code).toBe(0)
    expect(resumed.out).toMatch(/^ticker is active; next run /)

    const removed = await runCli(["schedule", "rm", "ticker"], env)
    expect(removed.code).toBe(0)
    expect((await schedules()).some((s) => s.id === id)).toBe(false)
    // The runner it started stays.
    expect((await detail(started.id)).scheduleId).toBe(id)

    expect((await runCli(["schedule", "rm", "ticker"], env)).code).toBe(5)
    const badCron = await runCli(["schedule", "add", "bad", "--cron", "61 * * * *", "shell"], env)
    expect(badCron.code).toBe(2)
    expect(badCron.stderr).toContain("cron")
    expect((await runCli(["schedule", "add", "nocron", "shell"], env)).code).toBe(2)
    expect(
      (
        await runCli(
          ["schedule", "add", "x", "--cron", "* * * * *", "--overlap", "no", "shell"],
          env,
        )
      ).code,
    ).toBe(2)
    expect((await runCli(["schedule", "frob"], env)).code).toBe(2)
    expect((await schedules()).map((s) => s.name)).toEqual([])
  })
})
