import { ErrorResponse, HealthResponse } from "@geppetto/protocol"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { listAuthRoutes } from "../../src/auth/plugin.js"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

/**
 * Generated requests and frames against every route: a client can get a 4xx (or a 2xx for
 * a request that happens to be valid) or an error frame, never a 5xx, a crash or a hang.
 */

let server: TestServer
/** A live runner whose pane swallows whatever is typed (raw mode: no signals, no echo). */
let sink: { id: string; name: string }

beforeAll(async () => {
  server = await startServer()
  const detail = await server.start({
    provider: "shell",
    command: ["sh", "-c", "stty raw -echo; exec cat > /dev/null"],
  })
  sink = { id: detail.id, name: detail.name }
})
afterAll(async () => {
  await server?.close()
})

const RUNS = Number(process.env.GEPPETTO_FUZZ_RUNS ?? 300)

/** Strings that stress parsers: any code points, lone surrogates, NULs, long runs. */
const nasty = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    "-rf",
    "..",
    "../../etc/passwd",
    "%",
    "%00",
    "\u0000",
    "\ud800",
    "a".repeat(65),
    "a".repeat(5000),
    "__proto__",
    "constructor",
    "run-doesnotexist",
    "geppetto-control",
    "=",
    ";kill-server",
    "$(reboot)",
  ),
)

/**
 * A path segment as a client could put it in a URL: an id-shaped string, or anything
 * percent-encoded byte by byte (lone surrogates become U+FFFD, as a browser would send them),
 * or raw text with malformed escapes.
 */
const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/),
  nasty.map((s) =>
    [...Buffer.from(s, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""),
  ),
  fc.constantFrom("%zz", "%E0%A4%A", "%", "a%2", "%C0%AE%C0%AE", "%2e%2e", "a".repeat(101)),
)

const anyJson = fc.jsonValue({ maxDepth: 3 })

const badValue = fc.oneof(
  anyJson,
  nasty,
  fc.constantFrom(-1, 0, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, [], {}, null, true),
)

/** A bad value as query text. `String` throws on a generated `{ "toString": 1 }`. */
const asText = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    return JSON.stringify(value)
  }
}

/** A valid start body with one field replaced by something else (or an unknown key added). */
const startBody = fc.oneof(
  anyJson,
  fc
    .tuple(
      fc.constantFrom(
        "provider",
        "prompt",
        "mode",
        "command",
        "cwd",
        "name",
        "env",
        "maxDurationMs",
        "accountId",
        "cols",
        "rows",
        "extra",
      ),
      badValue,
    )
    .map(([key, value]) => ({
      provider: "shell",
      // What runs if the varied field happens to be valid: nothing that matters.
      command: ["sh", "-c", "exit 0"],
      name: "never-started",
      [key]: value,
    })),
  fc.record(
    {
      provider: fc.oneof(fc.constantFrom("shell", "claude", "nope"), nasty),
      command: fc.array(nasty, { maxLength: 4 }),
      env: fc.dictionary(nasty, badValue, { maxKeys: 3 }),
      // Always out of range, so random argv never runs.
      cols: fc.constantFrom(-1, 0, 1.5, 9, 501, "80", null),
    },
    { requiredKeys: ["provider", "cols"] },
  ),
)

/** A schedule body (the harmless start, on 1 January only) with one field varied. */
const HARMLESS_START = { provider: "shell", command: ["sh", "-c", "exit 0"] }
const scheduleBody = fc.oneof(
  anyJson,
  fc
    .tuple(
      fc.constantFrom("name", "cron", "timezone", "start", "overlap", "extra"),
      fc.oneof(
        badValue,
        // Valid ones run on 31 December at the earliest: never during a test.
        fc.constantFrom("59 23 31 12 *", "0 59 23 31 12 *", "0 0 30 2 *", "61 * * * *", "@daily"),
        fc.constantFrom("UTC", "Europe/Berlin", "Mars/Olympus", "skip", "allow"),
      ),
    )
    .map(([key, value]) => ({
      name: "fuzz-schedule",
      cron: "0 0 1 1 *",
      start: HARMLESS_START,
      [key]: value,
    })),
  fc.record({
    name: fc.constant("fuzz-start"),
    cron: fc.constant("0 0 1 1 *"),
    // The start varied inside; random argv never runs (cols always out of range).
    start: fc.record({
      provider: fc.oneof(fc.constantFrom("shell", "nope"), nasty),
      command: fc.array(nasty, { maxLength: 3 }),
      cols: fc.constantFrom(-1, 0, 9, 501, "80"),
    }),
  }),
)

/** Push endpoints: valid ones go to a closed loopback port (nothing is ever pushed there). */
const pushEndpoint = fc.oneof(
  fc.nat(1000).map((n) => `https://127.0.0.1:9/fuzz-${n}`),
  fc.constantFrom("http://127.0.0.1:9/x", "https://u:p@127.0.0.1:9/", "ftp://x", "https://"),
)

/** A subscription with one field replaced by something else (or an unknown key added). */
const pushBody = fc
  .tuple(
    fc.constantFrom("endpoint", "keys", "p256dh", "auth", "events", "expirationTime", "extra"),
    fc.oneof(badValue, pushEndpoint),
  )
  .map(([key, value]) => {
    const keys = {
      p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString("base64url"),
      auth: Buffer.alloc(16, 2).toString("base64url"),
    }
    const sub: Record<string, unknown> = { endpoint: "https://127.0.0.1:9/fuzz", keys }
    if (key === "p256dh" || key === "auth") sub.keys = { ...keys, [key]: value }
    else sub[key] = value
    return sub
  })

const query = fc
  .array(fc.tuple(fc.constantFrom("from", "pane", "token", "x", ""), nasty), { maxLength: 4 })
  .map((pairs) => new URLSearchParams(pairs).toString())

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "",
)

interface Attempt {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE" | "HEAD"
  readonly url: string
  readonly payload?: string
  readonly headers: Record<string, string>
}

const body = (value: unknown) => (value === undefined ? "" : JSON.stringify(value))

/** What the fuzzer sends to each route; the test checks every REST route has an entry. */
const ATTEMPTS: Readonly<Record<string, fc.Arbitrary<Attempt>>> = {
  "POST /api/login": fc.record({
    method: fc.constant("POST" as const),
    url: fc.constant("/api/login"),
    payload: anyJson.map(body),
    // Its own rate limit would answer 429 after 10 attempts; a fresh address each time.
    headers: fc.constant({ "content-type": "application/json" }),
  }),
  "POST /api/logout": fc.record({
    method: fc.constant("POST" as const),
    url: query.map((q) => `/api/logout?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/health": fc.record({
    method: fc.constant("GET" as const),
    url: query.map((q) => `/api/health?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/me": fc.record({
    method: fc.constant("GET" as const),
    url: query.map((q) => `/api/me?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/providers": fc.record({
    method: fc.constant("GET" as const),
    url: query.map((q) => `/api/providers?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/runners": fc.record({
    method: fc.constant("GET" as const),
    url: query.map((q) => `/api/runners?${q}`),
    headers: fc.constant({}),
  }),
  "POST /api/runners": fc.record({
    method: fc.constant("POST" as const),
    url: fc.constant("/api/runners"),
    payload: startBody.map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "GET /api/runners/:id": fc.record({
    method: fc.constant("GET" as const),
    url: segment.map((id) => `/api/runners/${id}`),
    headers: fc.constant({}),
  }),
  "POST /api/runners/:id/:action": fc.record({
    method: fc.constant("POST" as const),
    url: fc
      .tuple(segment, fc.constantFrom("pause", "resume", "terminate"))
      .map(([id, action]) => `/api/runners/${id}/${action}`),
    payload: anyJson.map(body),
    headers: fc.constant({ "content-type": "application/json" }),
  }),
  "DELETE /api/runners/:id": fc.record({
    method: fc.constant("DELETE" as const),
    url: segment.map((id) => `/api/runners/${id}`),
    headers: fc.constant({}),
  }),
  "POST /api/runners/:id/input": fc.record({
    method: fc.constant("POST" as const),
    url: fc.oneof(fc.constant("SINK"), segment).map((id) => `/api/runners/${id}/input`),
    payload: fc.oneof(anyJson, fc.record({ data: nasty }), fc.record({ data: badValue })).map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "POST /api/runners/:id/reply": fc.record({
    method: fc.constant("POST" as const),
    url: fc.oneof(fc.constant("SINK"), segment).map((id) => `/api/runners/${id}/reply`),
    payload: fc
      .oneof(
        anyJson,
        fc.record({ attentionId: fc.oneof(nasty, badValue), label: fc.oneof(nasty, badValue) }),
        fc.record({
          attentionId: fc.constantFrom("a0", "a1", "a2"),
          label: fc.constantFrom("Yes", "No"),
        }),
      )
      .map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "GET /api/runners/:id/transcript": fc.record({
    method: fc.constant("GET" as const),
    url: fc
      .tuple(fc.oneof(fc.constant("SINK"), segment), query)
      .map(([id, q]) => `/api/runners/${id}/transcript?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/usage": fc.record({
    method: fc.constant("GET" as const),
    url: fc
      .oneof(
        query,
        fc
          .tuple(
            fc.oneof(nasty, fc.constantFrom("2025-01-01", "0", "1700000000000")),
            fc.oneof(nasty, fc.constantFrom("day", "provider", "account")),
          )
          .map(([since, by]) => new URLSearchParams({ since, by }).toString()),
      )
      .map((q) => `/api/usage?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/runners/:id/log": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: fc
      .tuple(fc.oneof(fc.constant("SINK"), segment), query)
      .map(([id, q]) => `/api/runners/${id}/log?${q}`),
    headers: fc.oneof(
      fc.constant({}),
      fc
        .oneof(
          nasty,
          fc
            .tuple(fc.option(fc.nat(100_000)), fc.option(fc.nat(100_000)))
            .map(([a, b]) => `bytes=${a ?? ""}-${b ?? ""}`),
        )
        // Header values are Latin-1 on the wire.
        .map((range) => ({ range: range.replace(/[^\x20-\x7e]/g, "") })),
    ),
  }),
  "GET /api/search": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: fc
      .oneof(
        query,
        fc
          .tuple(
            fc.oneof(nasty, badValue.map(asText)),
            fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/), nasty)),
            fc.option(fc.oneof(fc.integer({ min: -5, max: 2000 }).map(String), nasty)),
          )
          .map(([q, runner, limit]) => {
            const params = new URLSearchParams({ q })
            if (runner !== null) params.set("runner", runner)
            if (limit !== null) params.set("limit", limit)
            return params.toString()
          }),
      )
      .map((q) => `/api/search?${q}`),
    headers: fc.constantFrom({}, { accept: "application/x-ndjson" }),
  }),
  "GET /api/runners/:id/diff": fc.record({
    method: fc.constant("GET" as const),
    url: fc
      .tuple(fc.oneof(fc.constant("SINK"), segment), query)
      .map(([id, q]) => `/api/runners/${id}/diff?${q}`),
    headers: fc.constant({}),
  }),
  "POST /api/runners/:id/commit": fc.record({
    method: fc.constant("POST" as const),
    url: fc.oneof(fc.constant("SINK"), segment).map((id) => `/api/runners/${id}/commit`),
    payload: fc
      .oneof(anyJson, fc.record({ message: nasty }), fc.record({ message: badValue }))
      .map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "POST /api/runners/:id/merge": fc.record({
    method: fc.constant("POST" as const),
    url: fc.oneof(fc.constant("SINK"), segment).map((id) => `/api/runners/${id}/merge`),
    payload: fc
      .oneof(
        anyJson,
        fc.record({ into: fc.oneof(nasty, badValue), strategy: fc.oneof(nasty, badValue) }),
      )
      .map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "GET /api/git": fc.record({
    method: fc.constant("GET" as const),
    url: fc
      .oneof(
        query,
        // Absolute or not; lone surrogates replaced (encodeURIComponent throws on them).
        fc
          .tuple(fc.constantFrom("", "/", "/tmp/"), nasty)
          .map(
            ([lead, cwd]) =>
              `cwd=${encodeURIComponent(`${lead}${cwd}`.replace(/[\uD800-\uDFFF]/g, "?"))}`,
          ),
      )
      .map((q) => `/api/git?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/users": fc.record({
    method: fc.constant("GET" as const),
    url: query.map((q) => `/api/users?${q}`),
    headers: fc.constant({}),
  }),
  "POST /api/users": fc.record({
    method: fc.constant("POST" as const),
    url: fc.constant("/api/users"),
    payload: fc
      .oneof(
        anyJson,
        fc.record({ name: fc.oneof(nasty, badValue), role: fc.oneof(nasty, badValue) }),
      )
      .map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "PATCH /api/users/:name": fc.record({
    method: fc.constant("PATCH" as const),
    url: segment.map((name) => `/api/users/${name}`),
    payload: fc.oneof(anyJson, fc.record({ role: fc.oneof(nasty, badValue) })).map(body),
    headers: fc.constant({ "content-type": "application/json" }),
  }),
  "DELETE /api/users/:name": fc.record({
    method: fc.constant("DELETE" as const),
    url: segment.map((name) => `/api/users/${name}`),
    headers: fc.constant({}),
  }),
  "GET /api/audit": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: fc
      .oneof(
        query,
        fc
          .record({
            user: fc.oneof(nasty, badValue),
            runner: fc.oneof(nasty, badValue),
            action: fc.oneof(fc.constantFrom("login", "runner.input", "nope"), nasty),
            limit: fc.oneof(fc.constantFrom("0", "1", "1000", "1001", "-1", "1e3"), nasty),
          })
          .map((q) =>
            Object.entries(q)
              .map(
                ([k, v]) =>
                  `${k}=${encodeURIComponent(String(v).replace(/[\uD800-\uDFFF]/g, "?"))}`,
              )
              .join("&"),
          ),
      )
      .map((q) => `/api/audit?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/push/key": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: query.map((q) => `/api/push/key?${q}`),
    headers: fc.constant({}),
  }),
  "POST /api/push/subscriptions": fc.record({
    method: fc.constant("POST" as const),
    url: fc.constant("/api/push/subscriptions"),
    payload: fc.oneof(anyJson, pushBody).map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "DELETE /api/push/subscriptions": fc.record({
    method: fc.constant("DELETE" as const),
    url: fc.constant("/api/push/subscriptions"),
    payload: fc
      .oneof(anyJson, fc.record({ endpoint: fc.oneof(nasty, badValue, pushEndpoint) }))
      .map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "POST /api/schedules": fc.record({
    method: fc.constant("POST" as const),
    url: fc.constant("/api/schedules"),
    payload: scheduleBody.map(body),
    headers: contentType.map((t) => (t === "" ? {} : { "content-type": t })),
  }),
  "GET /api/schedules": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: query.map((q) => `/api/schedules?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/schedules/:id": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: segment.map((id) => `/api/schedules/${id}`),
    headers: fc.constant({}),
  }),
  "DELETE /api/schedules/:id": fc.record({
    method: fc.constant("DELETE" as const),
    url: segment.map((id) => `/api/schedules/${id}`),
    headers: fc.constant({}),
  }),
  "POST /api/schedules/:id/:action": fc.record({
    method: fc.constant("POST" as const),
    url: fc
      .tuple(segment, fc.constantFrom("pause", "resume"))
      .map(([id, action]) => `/api/schedules/${id}/${action}`),
    payload: anyJson.map(body),
    headers: fc.constant({ "content-type": "application/json" }),
  }),
  "GET /metrics": fc.record({
    method: fc.constantFrom("GET" as const, "HEAD" as const),
    url: query.map((q) => `/metrics?${q}`),
    headers: fc.constant({}),
  }),
  "GET /api/sessions": fc.record({
    method: fc.constant("GET" as const),
    url: query.map((q) => `/api/sessions?${q}`),
    headers: fc.constant({}),
  }),
  "POST /api/sessions/:name/adopt": fc.record({
    method: fc.constant("POST" as const),
    url: segment.map((name) => `/api/sessions/${name}/adopt`),
    headers: fc.constant({}),
  }),
}

const restRoute = (method: string, url: string) =>
  /^\/api\/runners\/:id\/(pause|resume|terminate)$/.test(url)
    ? "POST /api/runners/:id/:action"
    : /^\/api\/schedules\/:id\/(pause|resume)$/.test(url)
      ? "POST /api/schedules/:id/:action"
      : `${method} ${url}`

describe("fuzzing the REST routes", () => {
  it("has generators for every REST route of the app", () => {
    const routes = new Set(
      listAuthRoutes(server.app)
        .filter((r) => !r.websocket && r.method !== "HEAD")
        .map((r) => restRoute(r.method, r.url)),
    )
    expect([...routes].sort()).toEqual(Object.keys(ATTEMPTS).sort())
  })

  for (const [route, attempt] of Object.entries(ATTEMPTS)) {
    it(`${route}: never a 5xx`, { timeout: 240_000 }, async () => {
      let n = 0
      await fc.assert(
        fc.asyncProperty(
          attempt,
          fc.constantFrom("viewer", "operator") as fc.Arbitrary<"viewer" | "operator">,
          async (a, role) => {
            const reply = await server.app.inject({
              method: a.method,
              url: a.url.replace("/SINK/", `/${sink.id}/`),
              headers: { ...bearer(role), ...a.headers },
              remoteAddress: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n++ & 255}`,
              ...(a.payload !== undefined ? { payload: a.payload } : {}),
            })
            const what = () =>
              `${a.method} ${a.url.slice(0, 300)} ${(a.payload ?? "").slice(0, 300)}: ${reply.statusCode} ${reply.body.slice(0, 300)}`
            expect(reply.statusCode, what()).toBeLessThan(500)
            if (reply.statusCode >= 400 && a.method !== "HEAD") {
              expect(ErrorResponse.safeParse(reply.json()).success, what()).toBe(true)
            }
            if (reply.statusCode === 206) {
              expect(reply.rawPayload.length).toBe(Number(reply.headers["content-length"]))
            }
            // Only the harmless base body can start (when the one field it varies is valid).
            if (route === "POST /api/runners" && reply.statusCode === 201) {
              expect(JSON.parse(a.payload ?? "null").command).toEqual(["sh", "-c", "exit 0"])
            }
            if (route === "POST /api/schedules" && reply.statusCode === 201) {
              expect(JSON.parse(a.payload ?? "null").start).toEqual(HARMLESS_START)
            }
          },
        ),
        { numRuns: RUNS },
      )
    })
  }
})

/** Frames a terminal client might send: JSON of every shape, near-misses, binary. */
const terminalFrame = fc.oneof(
  nasty,
  anyJson.map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        type: fc.oneof(fc.constantFrom("input", "resize", "ack", "snapshot", ""), nasty),
        data: badValue,
        cols: badValue,
        rows: badValue,
        offset: badValue,
      },
      { requiredKeys: ["type"] },
    )
    .map((v) => JSON.stringify(v)),
  fc
    .tuple(fc.integer({ min: -5, max: 600 }), fc.integer({ min: -5, max: 300 }))
    .map(([cols, rows]) => JSON.stringify({ type: "resize", cols, rows })),
  fc.nat().map((offset) => JSON.stringify({ type: "ack", offset })),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
)

describe("fuzzing the WebSockets", () => {
  it("answers generated terminal frames with error frames (or their effect), never closing", {
    timeout: 240_000,
  }, async () => {
    for (const role of ["operator", "viewer"] as const) {
      const client = await WsClient.open(
        `${server.wsOrigin}/api/runners/${sink.id}/terminal`,
        bearer(role),
      )
      await client.nextJson((m) => m.type === "snapshot", "the snapshot")
      // Batches smaller than the socket's message queue, each closed by a sentinel whose error
      // names it: every frame is answered in order, none is dropped for flooding.
      for (let batch = 0; batch < 4; batch++) {
        const before = client.frames.length
        for (const frame of fc.sample(terminalFrame, { numRuns: RUNS })) client.socket.send(frame)
        client.send({ type: "ack", offset: 0, [`sentinel-${batch}`]: 1 })
        const answer = await client.nextJson(
          (m) => m.type === "error" && String(m.message).includes(`sentinel-${batch}`),
          `the sentinel of batch ${batch}`,
          before,
          120_000,
        )
        expect(answer.code).toBe("ValidationError")
      }
      if (role === "operator") {
        client.send({ type: "resize", cols: 77, rows: 21 })
        await client.nextJson(
          (m) => m.type === "resize" && m.cols === 77 && m.rows === 21,
          "the last resize",
        )
      }
      expect(client.closeCode).toBeUndefined()
      for (const m of client.json().filter((f) => f.type === "error")) {
        expect(["ValidationError", "ForbiddenError", "RateLimitError"]).toContain(m.code)
      }
      await client.close()
    }
    // The sink is still alive and its pane follows the last operator resize.
    await waitFor(
      () =>
        server
          .tmux(["display", "-p", "-t", `=${sink.name}:`, "#{pane_width}x#{pane_height}"])
          .stdout.trim() === "77x21",
      "the pane at 77x21",
    )
  })

  it("ignores anything sent on /api/events", async () => {
    const client = await WsClient.open(`${server.wsOrigin}/api/events`, bearer("viewer"))
    await client.nextJson((m) => m.type === "runners", "the board")
    for (const frame of fc.sample(terminalFrame, { numRuns: RUNS })) client.socket.send(frame)
    const marker = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exec sleep 600"],
    })
    await client.nextJson(
      (m) => m.type === "runner" && (m.runner as { id: string }).id === marker.id,
      "frames after the junk",
    )
    expect(client.closeCode).toBeUndefined()
    await client.close()
  })

  it("is healthy afterwards: /api/health answers and a runner still starts and echoes", async () => {
    const health = await server.get("/api/health", "none")
    expect(health.statusCode).toBe(200)
    HealthResponse.parse(health.json())
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    await server.post(`/api/runners/${detail.id}/input`, { data: "echo alive-$((1+1))\r" })
    await waitFor(() => /alive-2/.test(server.capture(`=${detail.name}:`)), "the echo")
    expect((await server.runner(sink.id)).status).toBe("running")
  })
})
