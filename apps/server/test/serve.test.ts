import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { brotliCompressSync } from "node:zlib"
import { HealthResponse } from "@geppetto/protocol"
import { afterEach, describe, expect, it } from "vitest"
import { buildApp } from "../src/app.js"
import { ConfigError, defaultDataDir, parseServeArgs } from "../src/config.js"
import { serve } from "../src/serve.js"
import { testAuth } from "./helpers/auth.js"

describe("serve flags", () => {
  it("uses the contract's defaults", () => {
    expect(parseServeArgs([], { HOME: "/home/u" })).toEqual({
      host: "127.0.0.1",
      port: 7420,
      tmuxSocket: undefined,
      dataDir: defaultDataDir({ HOME: "/home/u" }),
    })
    expect(defaultDataDir({ XDG_STATE_HOME: "/state" })).toBe("/state/geppetto")
  })

  it("takes env, and flags over env", () => {
    const env = {
      GEPPETTO_HOST: "0.0.0.0",
      GEPPETTO_PORT: "8000",
      GEPPETTO_TMUX_SOCKET: "envsock",
      GEPPETTO_DATA_DIR: "/env/data",
    }
    expect(parseServeArgs([], env)).toEqual({
      host: "0.0.0.0",
      port: 8000,
      tmuxSocket: "envsock",
      dataDir: "/env/data",
    })
    expect(
      parseServeArgs(
        ["--host", "::1", "--port", "9000", "--tmux-socket", "flagsock", "--data-dir", "/flag"],
        env,
      ),
    ).toEqual({ host: "::1", port: 9000, tmuxSocket: "flagsock", dataDir: "/flag" })
  })

  it("refuses a bad port, a bad socket name and unknown flags", () => {
    expect(() => parseServeArgs(["--port", "70000"], {})).toThrow(ConfigError)
    expect(() => parseServeArgs(["--port", "http"], {})).toThrow(ConfigError)
    expect(() => parseServeArgs(["--tmux-socket", "../x"], {})).toThrow(ConfigError)
    expect(() => parseServeArgs(["--tmux-socket", "-L"], {})).toThrow(ConfigError)
    expect(() => parseServeArgs(["--nope"], {})).toThrow()
  })
})

describe("app", () => {
  it("answers unknown routes with the one error shape", async () => {
    const app = await buildApp({ tmuxVersion: "3.3a", auth: testAuth })
    const reply = await app.inject({ method: "GET", url: "/api/nothing?token=secret" })
    expect(reply.statusCode).toBe(404)
    expect(reply.json()).toEqual({
      error: { code: "NotFoundError", message: "no route GET /api/nothing" },
    })
    await app.close()
  })
})

describe("dashboard", () => {
  it("serves the built SPA with caching headers and falls back to index.html off the API", async () => {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-dash-"))
    mkdirSync(join(dir, "_app", "immutable"), { recursive: true })
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>Geppetto Runners</title>")
    writeFileSync(join(dir, "_app", "immutable", "start.abc123.js"), "export {}")
    const app = await buildApp({ tmuxVersion: "3.3a", dashboardDir: dir, auth: testAuth })
    try {
      const index = await app.inject({ method: "GET", url: "/" })
      expect(index.statusCode).toBe(200)
      expect(index.body).toContain("Geppetto Runners")
      expect(index.headers["cache-control"]).toBe("no-cache")
      const asset = await app.inject({ method: "GET", url: "/_app/immutable/start.abc123.js" })
      expect(asset.statusCode).toBe(200)
      expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable")
      const route = await app.inject({ method: "GET", url: "/runners/run-1" })
      expect(route.statusCode).toBe(200)
      expect(route.body).toContain("Geppetto Runners")
      const api = await app.inject({ method: "GET", url: "/api/nothing" })
      expect(api.statusCode).toBe(404)
      expect(api.json()).toMatchObject({ error: { code: "NotFoundError" } })
      const traversal = await app.inject({ method: "GET", url: "/..%2f..%2f..%2fetc%2fpasswd" })
      expect(traversal.body).not.toContain("root:")
      // A climbing path is not looked up: the SPA shell, as for any unknown path.
      const climb = await app.inject({ method: "GET", url: "/_app/%2e%2e/%2e%2e/%2e%2e/secret" })
      expect(climb.statusCode).toBe(200)
      expect(climb.body).toContain("Geppetto Runners")
      expect((await app.inject({ method: "POST", url: "/" })).statusCode).toBe(404)
      expect((await app.inject({ method: "HEAD", url: "/api/nothing" })).statusCode).toBe(404)
      const head = await app.inject({ method: "HEAD", url: "/_app/immutable/start.abc123.js" })
      expect(head.statusCode).toBe(200)
      expect(head.body).toBe("")
      // The build's precompressed copy, to a browser that takes it.
      writeFileSync(join(dir, "_app", "immutable", "start.abc123.js.br"), "brotli-bytes")
      const br = await app.inject({
        method: "GET",
        url: "/_app/immutable/start.abc123.js",
        headers: { "accept-encoding": "br, gzip" },
      })
      expect(br.headers["content-encoding"]).toBe("br")
      expect(br.body).toBe("brotli-bytes")
      // Dotfiles are not served (the secret below stays on disk).
      writeFileSync(join(dir, ".env"), "SECRET=1")
      expect((await app.inject({ method: "GET", url: "/.env" })).body).not.toContain("SECRET")
    } finally {
      await app.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("serves files and client routes over real sockets with no listener warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-dash-"))
    mkdirSync(join(dir, "_app", "immutable"), { recursive: true })
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>Geppetto Runners</title>")
    const names = ["a", "b", "c", "d", "e", "f"].map((n) => `_app/immutable/${n}.js`)
    const text = `export const x = "${"x".repeat(100_000)}"`
    // Half with a precompressed copy, half without (as small files of a build are).
    names.forEach((name, i) => {
      writeFileSync(join(dir, name), text)
      if (i % 2 === 0) writeFileSync(join(dir, `${name}.br`), brotliCompressSync(text))
    })
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`)
    process.on("warning", onWarning)
    // With the request log on, as `serve` has it: its hooks hold a listener of their own.
    const lines: string[] = []
    const app = await buildApp({
      tmuxVersion: "3.3a",
      dashboardDir: dir,
      auth: testAuth,
      logger: { level: "info", stream: { write: (line: string) => lines.push(line) } },
    })
    try {
      const url = await app.listen({ host: "127.0.0.1", port: 0 })
      for (const encoding of ["br", "identity"]) {
        const bodies = await Promise.all(
          names.map(async (name) => {
            const response = await fetch(`${url}/${name}`, {
              headers: { "accept-encoding": encoding },
            })
            expect(response.status).toBe(200)
            expect(response.headers.get("content-encoding") ?? "identity").toBe(
              encoding === "br" && names.indexOf(name) % 2 === 0 ? "br" : "identity",
            )
            return await response.text()
          }),
        )
        expect(bodies).toEqual(names.map(() => text))
      }
      // Client-side routes: no file, so the not-found handler's SPA shell, after the file route.
      for (const route of ["/runners/run-1", "/schedules", "/activity?user=alice"]) {
        const response = await fetch(`${url}${route}`, { headers: { "accept-encoding": "gzip" } })
        expect(await response.text()).toContain("Geppetto Runners")
      }
      // Node emits a warning on the next tick of the loop.
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings).toEqual([])
    } finally {
      process.off("warning", onWarning)
      await app.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("answers API only when there is no build", async () => {
    const app = await buildApp({
      tmuxVersion: "3.3a",
      dashboardDir: join(tmpdir(), "no-such-build"),
      auth: testAuth,
    })
    expect((await app.inject({ method: "GET", url: "/" })).statusCode).toBe(404)
    await app.close()
  })
})

describe("geppetto serve", () => {
  const cleanups: Array<() => void | Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it("listens on a loopback port and reports the real tmux version", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "geppetto-serve-")), "state")
    const socket = `geppetto-serve-test-${process.pid}`
    cleanups.push(() => rmSync(join(dataDir, ".."), { recursive: true, force: true }))
    cleanups.push(() => {
      spawnSync("tmux", ["-L", socket, "kill-server"])
      rmSync(join("/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), { force: true })
    })
    const server = await serve({ host: "127.0.0.1", port: 0, tmuxSocket: socket, dataDir }, {})
    cleanups.push(server.close)
    const response = await fetch(`${server.url}/api/health`)
    expect(response.status).toBe(200)
    const health = HealthResponse.parse(await response.json())
    const tmuxVersion = spawnSync("tmux", ["-V"], { encoding: "utf8" }).stdout.trim()
    expect(`tmux ${health.tmux.version}`).toBe(tmuxVersion)
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)

    // Tokens were generated into the data dir, and the banner's link logs the browser in.
    expect(statSync(join(dataDir, "tokens.json")).mode & 0o777).toBe(0o600)
    expect(statSync(join(dataDir, "session-secret")).mode & 0o777).toBe(0o600)
    const link = `${server.url}/?token=${server.tokens.tokens.operator}`
    expect(server.banner).toContain(link)
    expect(server.banner).toContain(`-L ${socket}`)
    expect(server.banner).toContain(dataDir)
    const api = await fetch(`${server.url}/api/me`)
    expect(api.status).toBe(401)
    const login = await fetch(link, { redirect: "manual" })
    expect(login.status).toBe(303)
    expect(login.headers.get("location")).toBe("/")
    const cookie = login.headers.get("set-cookie")?.split(";")[0] ?? ""
    const me = await fetch(`${server.url}/api/me`, { headers: { cookie } })
    expect(await me.json()).toEqual({ user: "owner", role: "admin" })
  })

  it("prints no login link for a token the user set in the environment", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "geppetto-serve-")), "state")
    const socket = `geppetto-serve-env-${process.pid}`
    cleanups.push(() => rmSync(join(dataDir, ".."), { recursive: true, force: true }))
    cleanups.push(() => {
      spawnSync("tmux", ["-L", socket, "kill-server"])
      rmSync(join("/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), { force: true })
    })
    const env = {
      GEPPETTO_TOKEN: "operator-token-from-env-0123456789",
      GEPPETTO_VIEWER_TOKEN: "viewer-token-from-env-0123456789",
    }
    const server = await serve({ host: "127.0.0.1", port: 0, tmuxSocket: socket, dataDir }, env)
    cleanups.push(server.close)
    expect(server.banner).not.toContain(env.GEPPETTO_TOKEN)
    expect(server.banner).not.toContain(env.GEPPETTO_VIEWER_TOKEN)
    expect(server.banner).toContain("GEPPETTO_TOKEN")
    const me = await fetch(`${server.url}/api/me`, {
      headers: { authorization: `Bearer ${env.GEPPETTO_VIEWER_TOKEN}` },
    })
    expect(await me.json()).toEqual({ user: "viewer", role: "viewer" })
  })
})
