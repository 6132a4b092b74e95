import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { FastifyInstance, LightMyRequestResponse } from "fastify"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { type AppOptions, buildApp } from "../../src/app.js"
import { signSession, verifySession } from "../../src/auth/credentials.js"
import { listAuthRoutes } from "../../src/auth/plugin.js"
import { addressKey, FixedWindowLimiter } from "../../src/auth/rate-limit.js"
import { inlineScriptHashes } from "../../src/auth/security-headers.js"
import { bearer, testAuth, testSecret, testTokens } from "../helpers/auth.js"

const apps: Array<FastifyInstance> = []
const dirs: Array<string> = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

type Overrides = Partial<AppOptions["auth"]> & { readonly dashboardDir?: string }

/** The real app plus three test routes, one per auth level that needs credentials. */
const build = async (overrides: Overrides = {}): Promise<FastifyInstance> => {
  const { dashboardDir, ...auth } = overrides
  const app = await buildApp({
    tmuxVersion: "3.3a",
    auth: { ...testAuth, ...auth },
    ...(dashboardDir === undefined ? {} : { dashboardDir }),
  })
  apps.push(app)
  app.get("/api/test/read", { config: { auth: "viewer" } }, async (request) => ({
    role: request.auth.role,
  }))
  app.post("/api/test/write", { config: { auth: "operator" } }, async () => ({ ok: true }))
  app.get("/api/test/ws", { websocket: true, config: { auth: "viewer" } }, (socket, request) => {
    socket.send(JSON.stringify({ role: request.auth.role }))
  })
  return app
}

const setCookie = (reply: LightMyRequestResponse): string => {
  const header = reply.headers["set-cookie"]
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined) throw new Error("no Set-Cookie header")
  return value
}
/** `name=value` of a Set-Cookie header, as a browser would send it back. */
const cookiePair = (reply: LightMyRequestResponse): string => setCookie(reply).split(";")[0] ?? ""

const login = async (app: FastifyInstance, token: string, remoteAddress = "127.0.0.1") =>
  app.inject({ method: "POST", url: "/api/login", payload: { token }, remoteAddress })

describe("bearer tokens and roles", () => {
  it("refuses missing and wrong credentials with 401 and the one error shape", async () => {
    const app = await build()
    const none = await app.inject({ method: "GET", url: "/api/test/read" })
    expect(none.statusCode).toBe(401)
    expect(none.json()).toEqual({
      error: { code: "AuthenticationError", message: expect.stringContaining("Bearer") },
    })
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="geppetto"')
    for (const authorization of [
      "Bearer wrong",
      "Basic dXNlcjpwYXNz",
      "Bearer",
      testTokens.operator,
    ]) {
      const reply = await app.inject({
        method: "GET",
        url: "/api/test/read",
        headers: { authorization },
      })
      expect(reply.statusCode, authorization).toBe(401)
      expect(reply.json().error.code).toBe("AuthenticationError")
    }
  })

  it("lets viewers read, and only operators write (403 ForbiddenError for a viewer)", async () => {
    const app = await build()
    const read = await app.inject({
      method: "GET",
      url: "/api/test/read",
      headers: bearer("viewer"),
    })
    expect(read.statusCode).toBe(200)
    expect(read.json()).toEqual({ role: "viewer" })
    const denied = await app.inject({
      method: "POST",
      url: "/api/test/write",
      headers: bearer("viewer"),
    })
    expect(denied.statusCode).toBe(403)
    expect(denied.json().error.code).toBe("ForbiddenError")
    const write = await app.inject({
      method: "POST",
      url: "/api/test/write",
      headers: bearer("operator"),
    })
    expect(write.statusCode).toBe(200)
    const asOperator = await app.inject({
      method: "GET",
      url: "/api/test/read",
      headers: { authorization: `bearer  ${testTokens.operator}` },
    })
    expect(asOperator.json()).toEqual({ role: "admin" })
  })

  it("answers public routes whatever the credentials", async () => {
    const app = await build()
    for (const headers of [{}, { authorization: "Bearer wrong" }, bearer("viewer")]) {
      expect((await app.inject({ method: "GET", url: "/api/health", headers })).statusCode).toBe(
        200,
      )
    }
  })

  it("does not take ?token= on plain HTTP routes", async () => {
    const app = await build()
    const reply = await app.inject({
      method: "GET",
      url: `/api/test/read?token=${testTokens.operator}`,
    })
    expect(reply.statusCode).toBe(401)
  })
})

describe("login, cookie and logout", () => {
  it("logs in with a token, sets a signed HttpOnly SameSite=Strict cookie, and logs out", async () => {
    const app = await build()
    const reply = await login(app, testTokens.viewer)
    expect(reply.statusCode).toBe(200)
    expect(reply.json()).toEqual({ user: "viewer", role: "viewer" })
    const cookie = setCookie(reply)
    expect(cookie).toMatch(/^geppetto_session=v2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/)
    expect(cookie).toContain("; HttpOnly")
    expect(cookie).toContain("; SameSite=Strict")
    expect(cookie).toContain("; Path=/")
    expect(cookie).toContain(`; Max-Age=${30 * 24 * 3600}`)
    expect(cookie).not.toContain("Secure")
    expect(cookie).not.toContain(testTokens.viewer)

    const headers = { cookie: `other=1; ${cookiePair(reply)}` }
    const me = await app.inject({ method: "GET", url: "/api/me", headers })
    expect(me.json()).toEqual({ user: "viewer", role: "viewer" })
    expect((await app.inject({ method: "POST", url: "/api/test/write", headers })).statusCode).toBe(
      403,
    )

    const out = await app.inject({ method: "POST", url: "/api/logout", headers })
    expect(out.statusCode).toBe(204)
    expect(setCookie(out)).toMatch(/^geppetto_session=; .*Max-Age=0/)
  })

  it("sets Secure on the cookie when the server runs TLS", async () => {
    const app = await build({ tls: true })
    expect(setCookie(await login(app, testTokens.operator))).toContain("; Secure")
  })

  it("refuses a wrong token (401) and a malformed body (400)", async () => {
    const app = await build()
    const wrong = await login(app, "nope")
    expect(wrong.statusCode).toBe(401)
    expect(wrong.headers["set-cookie"]).toBeUndefined()
    for (const payload of [{}, { token: 1 }, { token: testTokens.operator, role: "operator" }]) {
      const reply = await app.inject({ method: "POST", url: "/api/login", payload })
      expect(reply.statusCode, JSON.stringify(payload)).toBe(400)
      expect(reply.json().error.code).toBe("ValidationError")
    }
  })

  it("turns /?token=TOKEN into the cookie and a 303 to / without the token", async () => {
    const app = await build()
    const reply = await app.inject({ method: "GET", url: `/?token=${testTokens.operator}` })
    expect(reply.statusCode).toBe(303)
    expect(reply.headers.location).toBe("/")
    expect(setCookie(reply)).toContain("HttpOnly")
    const me = await app.inject({
      method: "GET",
      url: "/api/me",
      headers: { cookie: cookiePair(reply) },
    })
    expect(me.json()).toEqual({ user: "owner", role: "admin" })

    const kept = await app.inject({ method: "GET", url: `/?a=1&token=${testTokens.viewer}&b=2` })
    expect(kept.headers.location).toBe("/?a=1&b=2")
    const wrong = await app.inject({ method: "GET", url: "/?token=nope" })
    expect(wrong.statusCode).toBe(303)
    expect(wrong.headers.location).toBe("/login?reason=bad-link")
    expect(wrong.headers["set-cookie"]).toBeUndefined()
  })

  it("keeps sessions across a restart with the same secret and tokens", async () => {
    const cookie = cookiePair(await login(await build(), testTokens.operator))
    const restarted = await build()
    const me = await restarted.inject({ method: "GET", url: "/api/me", headers: { cookie } })
    expect(me.json()).toEqual({ user: "owner", role: "admin" })
  })

  it("refuses an expired cookie and clears it", async () => {
    let clock = Date.UTC(2030, 0, 1)
    const app = await build({ now: () => clock })
    const cookie = cookiePair(await login(app, testTokens.operator))
    clock += 29 * 24 * 3600 * 1000
    expect(
      (await app.inject({ method: "GET", url: "/api/me", headers: { cookie } })).statusCode,
    ).toBe(200)
    clock += 2 * 24 * 3600 * 1000
    const expired = await app.inject({ method: "GET", url: "/api/me", headers: { cookie } })
    expect(expired.statusCode).toBe(401)
    expect(expired.json().error.message).toMatch(/expired/)
    expect(setCookie(expired)).toMatch(/^geppetto_session=; .*Max-Age=0/)
  })

  it("refuses forged cookies", async () => {
    const app = await build()
    const value = cookiePair(await login(app, testTokens.viewer)).split("=")[1] ?? ""
    const claims = verifySession(testSecret, value)
    if (claims === undefined) throw new Error("the server's own cookie does not verify")
    const [version, , signature] = value.split(".")
    const promoted = Buffer.from(
      JSON.stringify({ u: "owner", e: claims.expiresAt, f: claims.fingerprint }),
    ).toString("base64url")
    const otherKey = signSession(new Uint8Array(32).fill(9), { ...claims, user: "owner" })
    for (const forged of [
      `${version}.${promoted}.${signature}`,
      otherKey,
      "v1.e30.AAAA",
      "garbage",
      "",
      testTokens.operator,
    ]) {
      const reply = await app.inject({
        method: "GET",
        url: "/api/me",
        headers: { cookie: `geppetto_session=${forged}` },
      })
      expect(reply.statusCode, forged).toBe(401)
    }
  })

  it("refuses cookies made with a token that has since been rotated", async () => {
    const before = await build()
    const operatorCookie = cookiePair(await login(before, testTokens.operator))
    const viewerCookie = cookiePair(await login(before, testTokens.viewer))
    const rotated = await build({
      tokens: { operator: "a-brand-new-operator-token-0123", viewer: testTokens.viewer },
    })
    const stale = await rotated.inject({
      method: "GET",
      url: "/api/me",
      headers: { cookie: operatorCookie },
    })
    expect(stale.statusCode).toBe(401)
    // The viewer token did not change, so viewer sessions live on.
    const kept = await rotated.inject({
      method: "GET",
      url: "/api/me",
      headers: { cookie: viewerCookie },
    })
    expect(kept.json()).toEqual({ user: "viewer", role: "viewer" })
  })
})

/** `GET /api/test/read` with a bearer token, from a client address. */
const readWith = (app: FastifyInstance) => (token: string, remoteAddress: string) =>
  app.inject({
    method: "GET",
    url: "/api/test/read",
    headers: { authorization: `Bearer ${token}` },
    remoteAddress,
  })

describe("login rate limit", () => {
  it("answers 429 with Retry-After past 10 attempts a minute from one address", async () => {
    let clock = Date.UTC(2030, 0, 1)
    const app = await build({ now: () => clock })
    for (let i = 0; i < 10; i++)
      expect((await login(app, "guess", "10.0.0.9")).statusCode).toBe(401)
    const limited = await login(app, testTokens.operator, "10.0.0.9")
    expect(limited.statusCode).toBe(429)
    expect(limited.json().error.code).toBe("RateLimitError")
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0)
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60)
    // The login link counts too.
    const link = await app.inject({
      method: "GET",
      url: `/?token=${testTokens.operator}`,
      remoteAddress: "10.0.0.9",
    })
    expect(link.statusCode).toBe(429)
    // Another address is not affected; the same one is let in again after the window.
    expect((await login(app, testTokens.operator, "10.0.0.10")).statusCode).toBe(200)
    clock += 60_000
    expect((await login(app, testTokens.operator, "10.0.0.9")).statusCode).toBe(200)
  })

  it("counts a wrong bearer token as a failed login, and past the limit refuses even a right one", async () => {
    let clock = Date.UTC(2030, 0, 1)
    const app = await build({ now: () => clock })
    const read = readWith(app)
    for (let i = 0; i < 10; i++)
      expect((await read(`guess-${i}`, "10.0.0.20")).statusCode).toBe(401)
    // A right guess now would be news: it is not looked at.
    const right = await read(testTokens.operator, "10.0.0.20")
    expect(right.statusCode).toBe(429)
    expect(right.json().error.code).toBe("RateLimitError")
    // Nor is a login, nor a token on a socket's address (`?token=`).
    expect((await login(app, testTokens.operator, "10.0.0.20")).statusCode).toBe(429)
    const upgrade = await app.inject({
      method: "GET",
      url: `/api/test/ws?token=${testTokens.viewer}`,
      headers: {
        connection: "upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
      remoteAddress: "10.0.0.20",
    })
    expect(upgrade.statusCode).toBe(429)
    // A right token is not counted: another address's work goes on however much it asks.
    for (let i = 0; i < 20; i++)
      expect((await read(testTokens.viewer, "10.0.0.21")).statusCode).toBe(200)
    clock += 60_000
    expect((await read(testTokens.operator, "10.0.0.20")).statusCode).toBe(200)
  })

  it("counts IPv6 addresses by their /64", async () => {
    const app = await build()
    const read = readWith(app)
    for (let i = 0; i < 10; i++) {
      expect((await read("guess", `2001:db8:1:2::${(i + 1).toString(16)}`)).statusCode).toBe(401)
    }
    expect((await read(testTokens.viewer, "2001:db8:1:2:ffff::9")).statusCode).toBe(429)
    expect((await read(testTokens.viewer, "2001:db8:1:3::1")).statusCode).toBe(200)
  })

  it("keys addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64", () => {
    expect(addressKey("10.0.0.9")).toBe("10.0.0.9")
    expect(addressKey("::ffff:10.0.0.9")).toBe("10.0.0.9")
    expect(addressKey("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64")
    expect(addressKey("2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64")
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64")
    expect(addressKey("::1")).toBe("0:0:0:0::/64")
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64")
    expect(addressKey("64:ff9b::1.2.3.4")).toBe("64:ff9b:0:0::/64")
  })

  it("remembers a bounded number of addresses", () => {
    const limiter = new FixedWindowLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3 })
    for (let i = 0; i < 100; i++) limiter.hit(`10.0.0.${i}`)
    expect(limiter.size).toBe(3)
    expect(limiter.hit("10.0.0.99")).toEqual({ allowed: false, retryAfterSeconds: 60 })
  })
})

describe("route registration", () => {
  it("throws when an /api route, WebSocket or catch-all declares no auth", async () => {
    const app = await build()
    expect(() => app.get("/api/forgot", async () => ({}))).toThrow(/declares no auth/)
    expect(() => app.post("/api/forgot", { config: {} }, async () => ({}))).toThrow(
      /declares no auth/,
    )
    expect(() => app.get("/api/forgot-ws", { websocket: true }, () => undefined)).toThrow(
      /declares no auth/,
    )
    expect(() => app.get("/*", async () => ({}))).toThrow(/declares no auth/)
    expect(() =>
      app.get("/api/odd", { config: { auth: "root" as "public" } }, async () => ({})),
    ).toThrow(/must be "public", "viewer", "operator" or "admin"/)
    // Outside /api a route without a decision is public (the dashboard's static files).
    expect(() => app.get("/robots.txt", async () => "")).not.toThrow()
  })

  it("lists every route with its decision", async () => {
    const app = await build()
    const table = listAuthRoutes(app)
    const find = (method: string, url: string) =>
      table.find((r) => r.method === method && r.url === url)
    expect(find("GET", "/api/health")).toEqual({
      method: "GET",
      url: "/api/health",
      auth: "public",
      websocket: false,
    })
    expect(find("POST", "/api/login")?.auth).toBe("public")
    expect(find("POST", "/api/logout")?.auth).toBe("public")
    expect(find("GET", "/api/me")?.auth).toBe("viewer")
    expect(find("POST", "/api/test/write")?.auth).toBe("operator")
    expect(find("GET", "/api/test/ws")).toMatchObject({ auth: "viewer", websocket: true })
  })
})

describe("Origin checks", () => {
  it("refuses a foreign Origin on non-GET requests and allows the server's own", async () => {
    const app = await build()
    const post = (origin: string | undefined) =>
      app.inject({
        method: "POST",
        url: "/api/test/write",
        headers: {
          ...bearer("operator"),
          host: "localhost:7420",
          ...(origin === undefined ? {} : { origin }),
        },
      })
    expect((await post(undefined)).statusCode).toBe(200)
    expect((await post("http://localhost:7420")).statusCode).toBe(200)
    for (const origin of [
      "http://localhost:3000",
      "https://localhost:7420",
      "http://evil.example",
      "null",
    ]) {
      const reply = await post(origin)
      expect(reply.statusCode, origin).toBe(403)
      expect(reply.json().error.code).toBe("ForbiddenError")
    }
  })

  it("works with injectWS: refused before the upgrade, or upgraded with the caller's role", async () => {
    const app = await build()
    await app.ready()
    await expect(app.injectWS("/api/test/ws")).rejects.toThrow(/401/)
    await expect(
      app.injectWS(`/api/test/ws?token=${testTokens.viewer}`, {
        headers: { origin: "http://evil.example", host: "localhost" },
      }),
    ).rejects.toThrow(/403/)
    // The server speaks first, so listen before the socket opens.
    let resolveMessage: (text: string) => void = () => undefined
    const message = new Promise<string>((resolve) => {
      resolveMessage = resolve
    })
    const socket = await app.injectWS(
      "/api/test/ws",
      { headers: bearer("operator") },
      { onInit: (ws) => ws.once("message", (data) => resolveMessage(String(data))) },
    )
    expect(JSON.parse(await message)).toEqual({ role: "admin" })
    socket.terminate()
  })

  describe("on a real WebSocket upgrade", () => {
    type Outcome = { readonly status: number; readonly message?: string }
    const open = (
      url: string,
      options: { headers?: Record<string, string>; origin?: string } = {},
    ) =>
      new Promise<Outcome>((resolve, reject) => {
        const socket = new WebSocket(url, options)
        socket.once("unexpected-response", (request, response) => {
          resolve({ status: response.statusCode ?? 0 })
          request.destroy()
        })
        socket.once("message", (data) => {
          resolve({ status: 101, message: String(data) })
          socket.close()
        })
        socket.once("error", reject)
      })

    const listen = async () => {
      const app = await build()
      const address = await app.listen({ host: "127.0.0.1", port: 0 })
      return { app, ws: address.replace(/^http/, "ws"), origin: address }
    }

    it("authenticates the upgrade by bearer, ?token= or cookie, before upgrading", async () => {
      const { app, ws } = await listen()
      expect(await open(`${ws}/api/test/ws`)).toEqual({ status: 401 })
      expect(await open(`${ws}/api/test/ws?token=wrong`)).toEqual({ status: 401 })
      expect(await open(`${ws}/api/test/ws?token=${testTokens.viewer}`)).toEqual({
        status: 101,
        message: JSON.stringify({ role: "viewer" }),
      })
      expect(await open(`${ws}/api/test/ws`, { headers: bearer("operator") })).toEqual({
        status: 101,
        message: JSON.stringify({ role: "admin" }),
      })
      const cookie = cookiePair(await login(app, testTokens.viewer))
      expect(await open(`${ws}/api/test/ws`, { headers: { cookie } })).toMatchObject({
        status: 101,
      })
    })

    it("refuses a foreign Origin with 403 and allows its own or none", async () => {
      const { ws, origin } = await listen()
      const url = `${ws}/api/test/ws?token=${testTokens.operator}`
      expect(await open(url, { origin: "http://evil.example" })).toEqual({ status: 403 })
      expect(await open(url, { origin: "http://127.0.0.1:1" })).toEqual({ status: 403 })
      expect(await open(url, { origin: "null" })).toEqual({ status: 403 })
      expect(await open(url, { origin })).toMatchObject({ status: 101 })
      expect(await open(url)).toMatchObject({ status: 101 })
    })
  })
})

describe("security headers", () => {
  const SCRIPT = '\n\t\t\t\t{\n\t\t\t\t\t__sveltekit_x = { base: "" };\n\t\t\t\t}\n\t\t\t'

  const dashboard = () => {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-csp-"))
    dirs.push(dir)
    mkdirSync(join(dir, "runners"))
    writeFileSync(
      join(dir, "index.html"),
      `<!doctype html><html><head><script type="module" src="/_app/x.js"></script></head>` +
        `<body><div style="display: contents"><script>${SCRIPT}</script></div></body></html>`,
    )
    writeFileSync(join(dir, "runners", "page.html"), "<script>console.log(1)</script>")
    return dir
  }

  const sha = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`

  it("sets them on every response, and the CSP allows exactly the inline scripts", async () => {
    const app = await build({ dashboardDir: dashboard() })
    for (const url of ["/", "/api/health", "/api/nothing", "/api/me", "/runners/x"]) {
      const reply = await app.inject({ method: "GET", url })
      expect(reply.headers["x-content-type-options"], url).toBe("nosniff")
      expect(reply.headers["referrer-policy"], url).toBe("no-referrer")
      expect(reply.headers["x-frame-options"], url).toBe("DENY")
      expect(reply.headers["cross-origin-opener-policy"], url).toBe("same-origin")
      const csp = String(reply.headers["content-security-policy"])
      expect(csp, url).toContain("default-src 'self'")
      expect(csp).toContain(
        `script-src 'self' ${[sha(SCRIPT), sha("console.log(1)")].sort().join(" ")};`,
      )
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).toContain("object-src 'none'")
      expect(csp).toContain("base-uri 'none'")
      expect(csp).not.toContain("unsafe-eval")
    }
    const api = await app.inject({ method: "GET", url: "/api/health" })
    expect(api.headers["cache-control"]).toBe("no-store")
  })

  it("hashes inline scripts only, byte for byte", () => {
    expect(inlineScriptHashes(`<script src="/a.js"></script><SCRIPT>x</SCRIPT >`)).toEqual([
      sha("x"),
    ])
    expect(inlineScriptHashes("<p>no scripts</p>")).toEqual([])
  })
})
