import { readdirSync, readFileSync } from "node:fs"
import { HealthResponse } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"
import { isStarted, operatorToken, processWorld, type ServerProcess } from "./process-server.js"
import { record } from "./tally.js"

const world = processWorld()
let server: ServerProcess
let fiveXx = 0

beforeAll(async () => {
  const started = await world.start()
  if (!isStarted(started)) throw new Error(`server failed: ${started.failed}`)
  server = started
})
afterAll(async () => {
  record({ fiveXx })
  await world.close()
})

interface Summary {
  readonly id: string
  readonly status: string
  readonly failureReason?: string
}

const call = async (path: string, init: { method?: string; body?: string } = {}) => {
  const reply = await world.fetchJson(server, path, init)
  if (reply.status >= 500) fiveXx++
  return { status: reply.status, json: JSON.parse(reply.body.toString() || "null") as unknown }
}

const health = async () => {
  const reply = await call("/api/health")
  expect(reply.status).toBe(200)
  return HealthResponse.parse(reply.json)
}

const startTicker = async (name: string) => {
  const reply = await call("/api/runners", {
    method: "POST",
    body: JSON.stringify({
      provider: "shell",
      name,
      // $0 names the process, so the test can tell whether it outlived tmux.
      command: ["sh", "-c", "while :; do echo tick; sleep 0.2; done", tickerMark(name)],
    }),
  })
  expect(reply.status, JSON.stringify(reply.json)).toBe(201)
  return (reply.json as Summary).id
}

const tickerMark = (name: string) => `geppetto-ticker-${process.pid}-${name}`

/** Processes whose command line holds `mark` (a runner's command that outlived its pane). */
const processesMarked = (mark: string) =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(mark)
      } catch {
        return false
      }
    })

const runner = async (id: string) => (await call(`/api/runners/${id}`)).json as Summary

/** Kills the tmux server under live runners, then checks everything the brief asks of it. */
const survive = async (round: number, kill: () => void) => {
  const events = await WsClient.open(`${server.url.replace(/^http/, "ws")}/api/events`, {
    authorization: `Bearer ${operatorToken}`,
  })
  await events.nextJson((f) => f.type === "runners", "the runner list")
  const ids = [await startTicker(`tick-${round}-a`), await startTicker(`tick-${round}-b`)]
  expect((await health()).tmux.ok).toBe(true)
  kill()

  for (const id of ids) {
    let last = ""
    const ended = await waitFor(
      async () => {
        const r = await runner(id)
        last = `${r.status} ${r.failureReason ?? ""}`
        return r.status === "failed" ? r : undefined
      },
      () => `runner ${id} to fail (now ${last})`,
    )
    expect(ended.failureReason).toMatch(/^tmux server gone: session tick-\d-[ab] of run-/)
    // Each runner's event feed says it was tmux, with the domain error's tag.
    await events.nextJson((f) => {
      const event = f.event as { type?: string; error?: { code?: string } } | undefined
      return (
        f.runnerId === id && event?.type === "error" && event.error?.code === "TmuxSessionError"
      )
    }, `runner ${id}'s TmuxSessionError event`)
  }

  // The runners' commands went with their terminals: nothing keeps running unwatched.
  for (const name of [`tick-${round}-a`, `tick-${round}-b`]) {
    await waitFor(
      async () => processesMarked(tickerMark(name)).length === 0,
      () => `${name}'s processes to end (left: ${processesMarked(tickerMark(name)).join(" ")})`,
    )
  }

  // The server is up, says tmux is not, and has not started a tmux server of its own.
  expect(server.child.exitCode).toBeNull()
  const down = await health()
  expect(down.tmux.ok).toBe(false)
  expect(down.tmux.error).toMatch(/is not running/)
  process.stdout.write(
    `tmux-killed ${round}: failureReason ${JSON.stringify((await runner(ids[0] ?? "")).failureReason)}; health ${JSON.stringify(down.tmux)}\n`,
  )
  for (let i = 0; i < 20; i++) expect((await health()).tmux.since).toBe(down.tmux.since)
  expect((await call("/api/runners")).status).toBe(200)
  expect((await call("/api/sessions")).json).toEqual([])
  expect(world.tmux(["list-sessions"]).status).not.toBe(0)

  // A new runner starts a tmux server again; then health is back to ok.
  const reply = await call("/api/runners", {
    method: "POST",
    body: JSON.stringify({ provider: "shell", command: ["sh", "-c", "echo back-again; sleep 30"] }),
  })
  expect(reply.status, JSON.stringify(reply.json)).toBe(201)
  const next = (reply.json as Summary).id
  await waitFor(
    async () =>
      (await world.fetchJson(server, `/api/runners/${next}/log`)).body
        .toString()
        .includes("back-again"),
    "the new runner's output",
  )
  expect((await health()).tmux.ok).toBe(true)
  // The failed ones stay failed.
  for (const id of ids) expect((await runner(id)).status).toBe("failed")
  expect((await call(`/api/runners/${next}/terminate`, { method: "POST" })).status).toBe(200)
  events.socket.close()
  record({ faults: 1 })
}

describe("tmux server killed under the runners", () => {
  it("kill-server: runners fail naming tmux, health says so, a new runner brings tmux back", async () => {
    await survive(1, () => expect(world.tmux(["kill-server"]).status).toBe(0))
  })

  it("SIGKILL of the tmux server (its socket left behind): the same", async () => {
    await survive(2, () => {
      const pid = Number(world.tmux(["display-message", "-p", "#{pid}"]).stdout.trim())
      expect(pid).toBeGreaterThan(1)
      process.kill(pid, "SIGKILL")
    })
  })

  it("the server process never restarted and answered no 5xx", () => {
    expect(server.child.exitCode).toBeNull()
    expect(fiveXx).toBe(0)
  })
})
