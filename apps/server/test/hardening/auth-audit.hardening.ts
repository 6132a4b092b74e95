import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { serve } from "../../src/serve.js"
import { tmuxOn } from "../helpers/server.js"
import {
  isStarted,
  operatorToken,
  processWorld,
  type ServerProcess,
  viewerToken,
} from "./process-server.js"
import { record } from "./tally.js"

const world = processWorld()
let server: ServerProcess
let inputs = 0
let fiveXx = 0

const call = async (path: string, init: RequestInit = {}) => {
  inputs++
  const response = await fetch(`${server.url}${path}`, { redirect: "manual", ...init })
  if (response.status >= 500) fiveXx++
  return { status: response.status, headers: response.headers, text: await response.text() }
}

beforeAll(async () => {
  const started = await world.start()
  if (!isStarted(started)) throw new Error(`server failed: ${started.failed}`)
  server = started
})
afterAll(async () => {
  record({ inputs, fiveXx })
  await world.close()
})

describe("auth audit", () => {
  it("tokens never reach the server's output, whatever the client sends", async () => {
    const wrong = "wrong-token-that-must-not-be-logged-0123456789"
    for (const token of [operatorToken, viewerToken, wrong]) {
      await call("/api/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      })
      await call("/api/runners", { headers: { authorization: `Bearer ${token}` } })
      await call(`/?token=${encodeURIComponent(token)}`)
      await call(`/api/nothing?token=${encodeURIComponent(token)}`)
      await call("/api/runners", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{not json",
      })
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(
          `${server.url.replace(/^http/, "ws")}/api/events?token=${encodeURIComponent(token)}`,
        )
        ws.on("open", () => ws.close())
        ws.on("error", () => resolve())
        ws.on("close", () => resolve())
      })
    }
    // A clean stop flushes whatever the process would write on the way out.
    server.child.kill("SIGTERM")
    await server.exited
    const output = server.output()
    for (const token of [operatorToken, viewerToken, wrong]) expect(output).not.toContain(token)
    const restarted = await world.start()
    if (!isStarted(restarted)) throw new Error(`restart failed: ${restarted.failed}`)
    server = restarted
  })

  it("login brute force is answered with 429 and a Retry-After", async () => {
    let limited: { status: number; headers: Headers } | undefined
    for (let i = 0; i < 50 && limited === undefined; i++) {
      const reply = await call("/api/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: `guess-${i}-0123456789abcdef0123456789` }),
      })
      if (reply.status === 429) limited = reply
      else expect(reply.status).toBe(401)
    }
    expect(limited?.status).toBe(429)
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0)
  })

  it("a cookie-authenticated write from a foreign Origin is refused with 403; the same from our Origin passes", async () => {
    // From a fresh process: the brute-force test above rate-limited this client's logins.
    server.child.kill("SIGTERM")
    await server.exited
    const fresh = await world.start()
    if (!isStarted(fresh)) throw new Error(`restart failed: ${fresh.failed}`)
    server = fresh
    const login = await fetch(`${server.url}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body: JSON.stringify({ token: operatorToken }),
    })
    expect(login.status).toBe(200)
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? ""
    expect(cookie).not.toBe("")
    const body = JSON.stringify({ provider: "shell", command: ["true"], name: "csrf-probe" })
    for (const origin of [
      "http://evil.example",
      "null",
      server.url.replace("127.0.0.1", "localhost"),
      `${server.url}.evil.example`,
      server.url.replace(/:\d+$/, ":1"),
    ]) {
      const reply = await call("/api/runners", {
        method: "POST",
        headers: { cookie, origin, "content-type": "application/json" },
        body,
      })
      expect(reply.status, origin).toBe(403)
    }
    expect(tmuxOn(world.socket, ["has-session", "-t", "=csrf-probe"]).code).not.toBe(0)
    // Cross-site WebSocket hijacking: the same cookie on an upgrade from a foreign page.
    const hijack = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/api/events`, {
        headers: { cookie, origin: "http://evil.example" },
      })
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
      ws.on("open", () => {
        ws.close()
        resolve(101)
      })
      ws.on("error", () => resolve(0))
    })
    expect(hijack).toBe(403)
    const own = await call("/api/runners", {
      method: "POST",
      headers: { cookie, origin: server.url, "content-type": "application/json" },
      body,
    })
    expect(own.status).toBe(201)
  })
})

describe("secrets at rest", () => {
  const root = mkdtempSync(join(tmpdir(), "geppetto-perm-"))
  const socket = `geppetto-perm-${process.pid}`
  afterAll(() => {
    tmuxOn(socket, ["kill-server"])
    // tmux leaves its socket file behind when killed.
    rmSync(join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), {
      force: true,
    })
    rmSync(root, { recursive: true, force: true })
  })

  it("generated tokens and the cookie key are 0600 in a 0700 data dir, even under a lax umask", async () => {
    const dataDir = join(root, "data")
    const previous = process.umask(0o000)
    try {
      const running = await serve({ host: "127.0.0.1", port: 0, tmuxSocket: socket, dataDir }, {})
      await running.close()
    } finally {
      process.umask(previous)
    }
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    const files = readdirSync(dataDir)
    expect(files).toContain("tokens.json")
    expect(files).toContain("session-secret")
    for (const file of ["tokens.json", "session-secret"]) {
      expect(statSync(join(dataDir, file)).mode & 0o777, file).toBe(0o600)
    }
    const tokens = readFileSync(join(dataDir, "tokens.json"), "utf8")
    expect(tokens.length).toBeGreaterThan(20)
  })
})
