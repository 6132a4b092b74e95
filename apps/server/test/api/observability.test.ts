import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { redactUrl } from "../../src/observability/logger.js"
import { createServerMetrics } from "../../src/observability/metrics.js"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

/** One sample's value from Prometheus text: the first line of `name` whose labels include `labels`. */
const sample = (
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined => {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    )
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3])
  }
  return undefined
}

describe("GET /metrics", () => {
  let server: TestServer
  const metrics = createServerMetrics()

  beforeAll(async () => {
    server = await startServer({ metrics })
  })
  afterAll(async () => {
    await server?.close()
  })

  const scrape = async (): Promise<string> => {
    const reply = await server.get("/metrics", "operator")
    expect(reply.statusCode, reply.body).toBe(200)
    return reply.body
  }

  it("is for operators only", async () => {
    const none = await server.get("/metrics", "none")
    expect(none.statusCode).toBe(401)
    expect(none.json().error.code).toBe("AuthenticationError")
    const viewer = await server.get("/metrics", "viewer")
    expect(viewer.statusCode).toBe(403)
    expect(viewer.json().error.code).toBe("ForbiddenError")
    const operator = await server.get("/metrics", "operator")
    expect(operator.statusCode).toBe(200)
    expect(operator.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(operator.headers["cache-control"]).toBe("no-store")
    // The process's own metrics (memory, event-loop lag) come with the app's.
    expect(sample(operator.body, "process_resident_memory_bytes")).toBeGreaterThan(0)
    expect(sample(operator.body, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0)
  })

  it("counts runners, streamed bytes, viewers, event deliveries and tmux commands", async () => {
    const events = await WsClient.open(`${server.wsOrigin}/api/events`, bearer("viewer"))
    await events.nextJson((m) => m.type === "runners", "the runner list")
    const runner = await server.start({ provider: "shell", command: ["sh"] })
    await events.nextJson(
      (m) => m.type === "runner" && (m.runner as { id?: string } | undefined)?.id === runner.id,
      "the new runner on the events socket",
    )

    const terminal = await WsClient.open(
      `${server.wsOrigin}/api/runners/${runner.id}/terminal`,
      bearer("operator"),
    )
    await terminal.nextJson((m) => m.type === "snapshot", "the snapshot")
    terminal.send({ type: "input", data: "echo METRIC-$((40+2))\r" })
    await waitFor(
      () => terminal.binary().some((f) => f.bytes.includes("METRIC-42")),
      "the echo on the terminal",
    )

    const text = await scrape()
    expect(sample(text, "geppetto_runners", { status: "running", provider: "shell" })).toBe(1)
    expect(text).toContain("# TYPE geppetto_runners_waiting_for_input gauge")
    const streamed = terminal.binary().reduce((n, f) => n + f.bytes.length, 0)
    expect(sample(text, "geppetto_terminal_output_bytes_total")).toBeGreaterThanOrEqual(streamed)
    expect(streamed).toBeGreaterThan(0)
    expect(sample(text, "geppetto_terminal_viewers", { role: "admin" })).toBe(1)
    expect(sample(text, "geppetto_event_watchers")).toBe(1)
    expect(
      sample(text, "geppetto_event_delivery_seconds_count", { type: "runner" }),
    ).toBeGreaterThan(0)
    // The typed input went through the control client's `send-keys`.
    expect(
      sample(text, "geppetto_tmux_command_duration_seconds_count", {
        command: "send-keys",
        outcome: "ok",
      }),
    ).toBeGreaterThan(0)
    expect(sample(text, "geppetto_log_bytes")).toBeGreaterThan(0)

    await terminal.close()
    await events.close()
    // The gauges follow the sockets down.
    await waitFor(async () => {
      const after = await scrape()
      return (
        sample(after, "geppetto_terminal_viewers", { role: "admin" }) === 0 &&
        sample(after, "geppetto_event_watchers") === 0
      )
    }, "the viewer and watcher gauges back to 0")

    await server.post(`/api/runners/${runner.id}/terminate`)
    await waitFor(async () => {
      const after = await scrape()
      return (
        sample(after, "geppetto_runners", { status: "running", provider: "shell" }) === undefined &&
        (sample(after, "geppetto_runners", { provider: "shell" }) ?? 0) === 1
      )
    }, "the runner to leave the running count")
  })
})

describe("the server log", () => {
  let server: TestServer
  const lines: string[] = []

  beforeAll(async () => {
    server = await startServer({ logger: { stream: { write: (line) => lines.push(line) } } })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("is JSON with request ids, and holds no token, cookie or terminal contents", async () => {
    const { operator, viewer } = server.tokens
    const canary = `canary-${randomUUID()}`
    const typed = `typed-${randomUUID()}`

    const login = await server.app.inject({
      method: "POST",
      url: "/api/login",
      payload: { token: operator },
    })
    expect(login.statusCode).toBe(200)
    const cookie = String(login.headers["set-cookie"]).split(";")[0] ?? ""
    const cookieValue = cookie.slice(cookie.indexOf("=") + 1)
    expect(cookieValue.length).toBeGreaterThan(10)
    const me = await server.app.inject({ method: "GET", url: "/api/me", headers: { cookie } })
    expect(me.statusCode).toBe(200)
    const link = await server.app.inject({ method: "GET", url: `/?token=${viewer}` })
    expect(link.statusCode).toBe(303)
    // REST refuses `?token=`; it is logged all the same, and must be stripped.
    const listed = await server.app.inject({
      method: "GET",
      url: `/api/runners?token=${encodeURIComponent(operator)}&x=1`,
      headers: bearer("viewer"),
    })
    expect(listed.statusCode).toBe(200)
    const requestId = listed.headers["x-request-id"]
    expect(requestId).toEqual(expect.any(String))

    const runner = await server.start({ provider: "shell", command: ["sh"] })
    const terminal = await WsClient.open(
      `${server.wsOrigin}/api/runners/${runner.id}/terminal?token=${encodeURIComponent(operator)}`,
    )
    await terminal.nextJson((m) => m.type === "snapshot", "the snapshot")
    terminal.send({ type: "input", data: `echo ${canary}\r` })
    await waitFor(
      () => terminal.binary().some((f) => f.bytes.includes(canary)),
      "the canary on the terminal",
    )
    const input = await server.post(`/api/runners/${runner.id}/input`, { data: `${typed}\r` })
    expect(input.statusCode).toBe(204)
    await terminal.close()
    await waitFor(
      () => lines.some((l) => l.includes("terminal socket closed")),
      "the terminal close line",
    )
    expect((await server.post(`/api/runners/${runner.id}/terminate`)).statusCode).toBe(200)

    const log = lines.join("")
    for (const secret of [operator, viewer, cookieValue, canary, typed]) {
      expect(log).not.toContain(secret)
    }
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const requests = entries.filter((e) => e.msg === "incoming request")
    expect(requests.length).toBeGreaterThan(5)
    for (const e of requests) expect(e.reqId).toEqual(expect.any(String))
    const urls = requests.map((e) => (e.req as { url: string }).url)
    expect(urls).toContain("/?token=[redacted]")
    expect(urls).toContain("/api/runners?token=[redacted]&x=1")
    expect(urls).toContain(`/api/runners/${runner.id}/terminal?token=[redacted]`)
    // The response header names the request's log lines.
    expect(entries.filter((e) => e.reqId === requestId).map((e) => e.msg)).toEqual([
      "incoming request",
      "request completed",
    ])
    expect(entries.find((e) => e.msg === "runner started")).toMatchObject({
      runnerId: runner.id,
      provider: "shell",
    })
    expect(entries.find((e) => e.msg === "terminal socket opened")).toMatchObject({
      runnerId: runner.id,
      role: "admin",
      reqId: expect.any(String),
    })
    expect(entries.find((e) => e.msg === "terminal socket closed")).toMatchObject({
      runnerId: runner.id,
      role: "admin",
      code: expect.any(Number),
    })
    expect(entries.find((e) => e.msg === "runner terminated")).toMatchObject({
      runnerId: runner.id,
      action: "terminate",
    })
  })
})

describe("redactUrl", () => {
  it("replaces every token value, however the key is spelled, and nothing else", () => {
    expect(redactUrl("/api/events")).toBe("/api/events")
    expect(redactUrl("/api/events?token=abc")).toBe("/api/events?token=[redacted]")
    expect(redactUrl("/x?a=1&token=abc&b=2&token=def")).toBe(
      "/x?a=1&token=[redacted]&b=2&token=[redacted]",
    )
    expect(redactUrl("/x?%74oken=abc")).toBe("/x?%74oken=[redacted]")
    // As the router reads a query: from the first `?` or `#`, a value up to the next `&`.
    expect(redactUrl("/x?TOKEN=abc#frag")).toBe("/x?TOKEN=[redacted]")
    expect(redactUrl("/api/events#token=abc")).toBe("/api/events#token=[redacted]")
    expect(redactUrl("/x#a=1?token=abc")).toBe("/x#a=1?token=abc")
    expect(redactUrl("/x#a=1&token=abc")).toBe("/x#a=1&token=[redacted]")
    expect(redactUrl("/x?tokens=abc&mytoken=1")).toBe("/x?tokens=abc&mytoken=1")
    expect(redactUrl("/x?token")).toBe("/x?token=[redacted]")
    expect(redactUrl("/x?%zz=1")).toBe("/x?%zz=1")
  })
})
