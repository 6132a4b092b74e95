import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import type { RunnerDetail } from "@geppetto/protocol"
import { CreatedUser, UserInfo } from "@geppetto/protocol"
import type { LightMyRequestResponse } from "fastify"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { z } from "zod"
import { REVOKED_CLOSE_CODE } from "../../src/auth/user-sockets.js"
import { testTokens } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

let server: TestServer
let shared: RunnerDetail

beforeAll(async () => {
  server = await startServer()
  shared = await server.start({ provider: "shell", command: ["sh"] })
})
afterAll(async () => {
  await server?.close()
})

/** The server's own token: the built-in user `owner`, an admin. */
const asAdmin = { authorization: `Bearer ${testTokens.operator}` }
const bearerOf = (token: string) => ({ authorization: `Bearer ${token}` })

const call = (
  method: "GET" | "POST" | "PATCH" | "DELETE",
  url: string,
  headers: Record<string, string>,
  payload?: object,
): Promise<LightMyRequestResponse> =>
  server.app.inject({
    method,
    url,
    headers,
    ...(payload !== undefined ? { payload } : {}),
  })

const addUser = async (name: string, role: "viewer" | "operator" | "admin") => {
  const reply = await call("POST", "/api/users", asAdmin, { name, role })
  expect(reply.statusCode, reply.body).toBe(201)
  return CreatedUser.parse(reply.json())
}

const cookieOf = async (token: string): Promise<string> => {
  const reply = await call("POST", "/api/login", {}, { token })
  expect(reply.statusCode, reply.body).toBe(200)
  const header = reply.headers["set-cookie"]
  const value = (Array.isArray(header) ? header[0] : header) ?? ""
  return value.split(";")[0] ?? ""
}

/** Every file under `dir` (recursively), read whole. */
const filesUnder = (dir: string): ReadonlyArray<{ path: string; content: Buffer }> =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => {
      const path = join(d.parentPath, d.name)
      return { path, content: readFileSync(path) }
    })

/** Waits for `client` to close, with a deadline: the time it took, in ms. */
const closedWithin = async (client: WsClient, started: number, ms: number) => {
  const code = await Promise.race([
    client.waitClosed(),
    new Promise<"late">((resolve) => setTimeout(() => resolve("late"), ms).unref()),
  ])
  expect(code, `closed within ${ms} ms`).toBe(REVOKED_CLOSE_CODE)
  return performance.now() - started
}

describe("users: add, list, role, remove", () => {
  it("adds a user whose token and cookie carry their name and role", async () => {
    const alice = await addUser("alice", "operator")
    expect(alice).toMatchObject({ name: "alice", role: "operator" })
    expect(alice.token).toMatch(/^[A-Za-z0-9_-]{43}$/)

    const me = await call("GET", "/api/me", bearerOf(alice.token))
    expect(me.json()).toEqual({ user: "alice", role: "operator" })
    // An operator operates, but manages no users.
    const input = await call("POST", `/api/runners/${shared.id}/input`, bearerOf(alice.token), {
      data: "",
    })
    expect(input.statusCode).toBe(204)
    expect((await call("GET", "/api/users", bearerOf(alice.token))).statusCode).toBe(403)

    const cookie = await cookieOf(alice.token)
    expect(cookie).not.toContain(alice.token)
    expect((await call("GET", "/api/me", { cookie })).json()).toEqual({
      user: "alice",
      role: "operator",
    })

    // The login link works for every user's token.
    const link = await call("GET", `/?token=${alice.token}`, {})
    expect(link.statusCode).toBe(303)
    expect(String(link.headers["set-cookie"])).toMatch(/^geppetto_session=v2\./)

    // A name taken → 409, nothing changed.
    const again = await call("POST", "/api/users", asAdmin, { name: "alice", role: "viewer" })
    expect(again.statusCode).toBe(409)
    expect(again.json().error.code).toBe("ConflictError")
    expect((await call("GET", "/api/me", bearerOf(alice.token))).json().role).toBe("operator")
  })

  it("lists every user, the built-in owner and viewer marked", async () => {
    await addUser("lister", "viewer")
    const reply = await call("GET", "/api/users", asAdmin)
    expect(reply.statusCode).toBe(200)
    const list = z.array(UserInfo).parse(reply.json())
    const byName = new Map(list.map((u) => [u.name, u]))
    expect(byName.get("owner")).toMatchObject({ role: "admin", builtin: true })
    expect(byName.get("viewer")).toMatchObject({ role: "viewer", builtin: true })
    expect(byName.get("lister")).toMatchObject({ role: "viewer" })
    expect(byName.get("lister")?.builtin).toBeUndefined()
    // The admin's own request was seen.
    expect(byName.get("owner")?.lastSeenAt).toBeDefined()
    // Nothing like a token or its hash is listed.
    expect(reply.body).not.toMatch(/token|[0-9a-f]{64}/i)
  })

  it("changes a role from the next request on, and refuses the built-in users", async () => {
    const bob = await addUser("bob", "viewer")
    const cookie = await cookieOf(bob.token)
    expect((await call("GET", "/api/users", { cookie })).statusCode).toBe(403)
    const patched = await call("PATCH", "/api/users/bob", asAdmin, { role: "admin" })
    expect(patched.statusCode, patched.body).toBe(200)
    expect(patched.json()).toMatchObject({ name: "bob", role: "admin" })
    // The cookie said nothing about the role: the store decides, at once.
    expect((await call("GET", "/api/users", { cookie })).statusCode).toBe(200)
    expect((await call("GET", "/api/me", bearerOf(bob.token))).json().role).toBe("admin")

    for (const name of ["owner", "viewer"]) {
      expect(
        (await call("PATCH", `/api/users/${name}`, asAdmin, { role: "viewer" })).statusCode,
      ).toBe(400)
      expect((await call("DELETE", `/api/users/${name}`, asAdmin)).statusCode).toBe(400)
      expect((await call("POST", "/api/users", asAdmin, { name, role: "viewer" })).statusCode).toBe(
        400,
      )
    }
    expect((await call("DELETE", "/api/users/nobody", asAdmin)).statusCode).toBe(404)
    expect((await call("PATCH", "/api/users/nobody", asAdmin, { role: "viewer" })).statusCode).toBe(
      404,
    )
    // The owner is still an admin.
    expect((await call("GET", "/api/me", asAdmin)).json()).toEqual({ user: "owner", role: "admin" })
  })

  it("refuses operators and viewers on every users route with 403", async () => {
    const op = await addUser("plainop", "operator")
    for (const headers of [bearerOf(op.token), bearerOf(server.tokens.viewer)]) {
      for (const [method, url, payload] of [
        ["POST", "/api/users", { name: "sneaky", role: "admin" }],
        ["GET", "/api/users", undefined],
        ["PATCH", "/api/users/plainop", { role: "admin" }],
        ["DELETE", "/api/users/plainop", undefined],
      ] as const) {
        const reply = await call(method, url, headers, payload)
        expect(reply.statusCode, `${method} ${url}`).toBe(403)
        expect(reply.json().error.code).toBe("ForbiddenError")
      }
    }
    expect((await call("GET", "/api/me", bearerOf(op.token))).json().role).toBe("operator")
    expect(server.app.users.get("sneaky")).toBeUndefined()
  })
})

describe("removal takes effect at once", () => {
  it("the removed user's token, cookie and open sockets all stop within 1 s", async () => {
    const carol = await addUser("carol", "operator")
    const cookie = await cookieOf(carol.token)
    const events = await WsClient.open(`${server.wsOrigin}/api/events`, { cookie })
    await events.nextJson((m) => m.type === "runners", "the runner list")
    const terminal = await WsClient.open(
      `${server.wsOrigin}/api/runners/${shared.id}/terminal?token=${carol.token}`,
    )
    await terminal.nextJson((m) => m.type === "snapshot", "snapshot")
    // Someone else's socket stays open.
    const other = await WsClient.open(
      `${server.wsOrigin}/api/events`,
      bearerOf(server.tokens.viewer),
    )
    await other.nextJson((m) => m.type === "runners", "the runner list")

    const started = performance.now()
    const removed = await call("DELETE", "/api/users/carol", asAdmin)
    expect(removed.statusCode).toBe(204)
    const [eventsMs, terminalMs] = await Promise.all([
      closedWithin(events, started, 1000),
      closedWithin(terminal, started, 1000),
    ])
    expect(eventsMs).toBeLessThan(1000)
    expect(terminalMs).toBeLessThan(1000)
    expect(events.closeReason).toMatch(/carol was removed/)
    expect(other.closeCode).toBeUndefined()
    await other.close()

    const byToken = await call("GET", "/api/me", bearerOf(carol.token))
    expect(byToken.statusCode).toBe(401)
    const byCookie = await call("GET", "/api/me", { cookie })
    expect(byCookie.statusCode).toBe(401)
    expect(String(byCookie.headers["set-cookie"])).toMatch(/Max-Age=0/)
    expect((await call("POST", "/api/login", {}, { token: carol.token })).statusCode).toBe(401)

    // Re-adding the name makes a new token: the old cookie and token stay dead.
    const again = await addUser("carol", "operator")
    expect(again.token).not.toBe(carol.token)
    expect((await call("GET", "/api/me", { cookie })).statusCode).toBe(401)
    expect((await call("GET", "/api/me", bearerOf(carol.token))).statusCode).toBe(401)
  })

  it("a demoted operator's next terminal input is refused, and a promoted viewer's is typed", async () => {
    const dave = await addUser("dave", "operator")
    const terminal = await WsClient.open(
      `${server.wsOrigin}/api/runners/${shared.id}/terminal`,
      bearerOf(dave.token),
    )
    await terminal.nextJson((m) => m.type === "snapshot", "snapshot")
    terminal.send({ type: "input", data: "echo DAVE-OPERATES-$((2+3))\r" })
    await waitFor(
      () => server.capture(`=${shared.name}:`).includes("DAVE-OPERATES-5"),
      "dave's echo",
    )

    expect((await call("PATCH", "/api/users/dave", asAdmin, { role: "viewer" })).statusCode).toBe(
      200,
    )
    terminal.send({ type: "input", data: "echo DAVE-DEMOTED-$((3+4))\r" })
    const refused = await terminal.nextJson((m) => m.type === "error", "the viewer's refusal")
    expect(refused).toMatchObject({ code: "ForbiddenError" })
    // Still open: a viewer may watch.
    expect(terminal.closeCode).toBeUndefined()

    expect((await call("PATCH", "/api/users/dave", asAdmin, { role: "operator" })).statusCode).toBe(
      200,
    )
    terminal.send({ type: "input", data: "echo DAVE-AGAIN-$((4+5))\r" })
    const screen = await waitFor(() => {
      const text = server.capture(`=${shared.name}:`)
      return text.includes("DAVE-AGAIN-9") ? text : undefined
    }, "dave's echo after promotion")
    expect(screen).not.toContain("DAVE-DEMOTED-7")
    await terminal.close()
  })
})

describe("what is stored, and hostile names", () => {
  it("keeps only token hashes on disk, in a 0600 users.json in a 0700 data dir", async () => {
    const erin = await addUser("erin", "viewer")
    // lastSeenAt writes in the background: let them land before reading the disk.
    await call("GET", "/api/me", bearerOf(erin.token))
    await server.app.users.flush()
    const file = join(server.dataDir, "users.json")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(server.dataDir).mode & 0o777).toBe(0o700)
    const stored = JSON.parse(readFileSync(file, "utf8"))
    const entry = stored.users.find((u: { name: string }) => u.name === "erin")
    expect(entry).toMatchObject({ name: "erin", role: "viewer", tokenHash: expect.any(String) })
    expect(entry.tokenHash).toMatch(/^[0-9a-f]{64}$/)
    for (const { path, content } of filesUnder(server.dataDir)) {
      expect(content.includes(erin.token), path).toBe(false)
    }
    // No temporary file left behind.
    expect(readdirSync(server.dataDir).filter((f) => f.endsWith(".tmp"))).toEqual([])
  })

  it("refuses hostile names with 400 and writes nothing", async () => {
    const file = join(server.dataDir, "users.json")
    await server.app.users.flush()
    const before = readFileSync(file, "utf8")
    const listed = (await call("GET", "/api/users", asAdmin)).body
    for (const name of [
      "../x",
      "a/b",
      "\u0430dmin", // a Cyrillic а
      "x".repeat(10 * 1024),
      "",
      "Alice",
      "1abc",
      "a\u0000b",
      "a".repeat(33),
      ".hidden",
    ]) {
      const reply = await call("POST", "/api/users", asAdmin, { name, role: "viewer" })
      expect(reply.statusCode, JSON.stringify(name.slice(0, 20))).toBe(400)
      expect(reply.json().error.code).toBe("ValidationError")
    }
    for (const path of ["..%2Fx", "a%2Fb", "%D0%B0dmin", "x".repeat(10 * 1024)]) {
      expect((await call("DELETE", `/api/users/${path}`, asAdmin)).statusCode, path).toBe(400)
      expect(
        (await call("PATCH", `/api/users/${path}`, asAdmin, { role: "admin" })).statusCode,
        path,
      ).toBe(400)
    }
    expect(
      (await call("POST", "/api/users", asAdmin, { name: "ok", role: "root" })).statusCode,
    ).toBe(400)
    expect(readFileSync(file, "utf8")).toBe(before)
    expect((await call("GET", "/api/users", asAdmin)).body).toBe(listed)
  })

  it("keeps users across a restart", async () => {
    const frank = await addUser("frank", "operator")
    await server.stop()
    const again = await startServer({ reuse: { dataDir: server.dataDir, socket: server.socket } })
    server = again
    expect((await call("GET", "/api/me", bearerOf(frank.token))).json()).toEqual({
      user: "frank",
      role: "operator",
    })
    expect((await call("GET", "/api/me", bearerOf(server.tokens.operator))).json()).toEqual({
      user: "owner",
      role: "admin",
    })
  })
})
