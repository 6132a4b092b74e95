import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import {
  type AuditEntry,
  AuditResponse,
  CreatedUser,
  PresenceMessage,
  RunnerDetail,
  type Viewer,
} from "@geppetto/protocol"
import type { LightMyRequestResponse } from "fastify"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { REVOKED_CLOSE_CODE } from "../../src/auth/user-sockets.js"
import { testTokens } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

/** The server's own token: the built-in user `owner`, an admin. */
const asOwner = { authorization: `Bearer ${testTokens.operator}` }
const bearerOf = (token: string) => ({ authorization: `Bearer ${token}` })

const call = (
  method: "GET" | "POST" | "PATCH" | "DELETE",
  url: string,
  headers: Record<string, string>,
  payload?: object,
): Promise<LightMyRequestResponse> =>
  server.app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) })

const addUser = async (name: string, role: "viewer" | "operator" | "admin") => {
  const reply = await call("POST", "/api/users", asOwner, { name, role })
  expect(reply.statusCode, reply.body).toBe(201)
  return CreatedUser.parse(reply.json())
}

const audit = async (query: string): Promise<ReadonlyArray<AuditEntry>> => {
  const reply = await call("GET", `/api/audit?${query}`, asOwner)
  expect(reply.statusCode, reply.body).toBe(200)
  return AuditResponse.parse(reply.json()).entries
}

const startAs = async (token: string, body: object): Promise<RunnerDetail> => {
  const reply = await call("POST", "/api/runners", bearerOf(token), body)
  expect(reply.statusCode, reply.body).toBe(201)
  return RunnerDetail.parse(reply.json())
}

/** Every file of the data dir's audit folder, read whole. */
const trailBytes = (): string =>
  readdirSync(join(server.dataDir, "audit"))
    .map((name) => readFileSync(join(server.dataDir, "audit", name), "latin1"))
    .join("")

const presenceOf = (ws: WsClient, runnerId: string): ReadonlyArray<Viewer> | undefined => {
  const messages = ws
    .json()
    .filter((m) => m.type === "presence" && m.runnerId === runnerId)
    .map((m) => PresenceMessage.parse(m))
  return messages.at(-1)?.viewers
}

const summary = (viewers: ReadonlyArray<Viewer> | undefined) =>
  (viewers ?? []).map((v) => `${v.user}:${v.role}${v.typing ? ":typing" : ""}`).join(",")

describe("the audit trail", () => {
  it("records each action a route takes, by whom, newest first; filters and limits", async () => {
    const alice = await addUser("alice", "operator")
    const login = await call("POST", "/api/login", {}, { token: alice.token })
    expect(login.statusCode).toBe(200)
    const failed = await call("POST", "/api/login", {}, { token: "not-a-token-of-anyone" })
    expect(failed.statusCode).toBe(401)

    const runner = await startAs(alice.token, {
      provider: "shell",
      command: ["sh"],
      name: "alice-sh",
    })
    const id = runner.id
    for (const action of ["pause", "resume", "terminate"]) {
      const reply = await call("POST", `/api/runners/${id}/${action}`, bearerOf(alice.token))
      expect(reply.statusCode, reply.body).toBe(200)
    }
    // A refused action is not in the trail: a viewer's, and one on a runner that is not there.
    expect(
      (await call("DELETE", `/api/runners/${id}`, bearerOf(testTokens.viewer))).statusCode,
    ).toBe(403)
    expect(
      (await call("POST", "/api/runners/no-such-runner/pause", bearerOf(alice.token))).statusCode,
    ).toBe(404)
    const removed = await call("DELETE", `/api/runners/${id}`, bearerOf(alice.token))
    expect(removed.statusCode).toBe(204)

    const typed = await startAs(alice.token, { provider: "shell", command: ["sh"] })
    const input = await call("POST", `/api/runners/${typed.id}/input`, bearerOf(alice.token), {
      data: "echo pass-phrase-42\n",
    })
    expect(input.statusCode).toBe(204)
    expect((await call("PATCH", "/api/users/alice", asOwner, { role: "viewer" })).statusCode).toBe(
      200,
    )
    expect((await call("DELETE", "/api/users/alice", asOwner)).statusCode).toBe(204)

    const mine = await audit("user=alice")
    expect(mine.map((e) => [e.action, e.runnerId, e.detail])).toEqual([
      ["runner.input", typed.id, "20 bytes"],
      ["runner.start", typed.id, `${typed.name} (shell, interactive)`],
      ["runner.remove", id, undefined],
      ["runner.terminate", id, "alice-sh"],
      ["runner.resume", id, "alice-sh"],
      ["runner.pause", id, "alice-sh"],
      ["runner.start", id, "alice-sh (shell, interactive)"],
      ["login", undefined, undefined],
    ])
    expect(mine.at(-1)?.address).toBe("127.0.0.1")
    const times = mine.map((e) => e.at)
    expect([...times].sort((a, b) => b - a)).toEqual(times)

    const owner = await audit("user=owner&action=user.add")
    expect(owner[0]?.detail).toBe("alice as operator")
    expect((await audit("action=user.role"))[0]).toMatchObject({
      user: "owner",
      detail: "alice: operator → viewer",
    })
    expect((await audit("action=user.remove"))[0]).toMatchObject({ user: "owner", detail: "alice" })
    const failures = await audit("action=login.failed")
    expect(failures[0]).toMatchObject({ user: "anonymous", address: "127.0.0.1" })
    expect(failures[0]?.detail).toBeUndefined()

    expect((await audit(`runner=${id}`)).map((e) => e.action)).toEqual([
      "runner.remove",
      "runner.terminate",
      "runner.resume",
      "runner.pause",
      "runner.start",
    ])
    expect((await audit(`runner=${id}&limit=2`)).map((e) => e.action)).toEqual([
      "runner.remove",
      "runner.terminate",
    ])
    // Never what was typed, nor what a failed login offered: only on disk as counts.
    const disk = trailBytes()
    expect(disk).not.toContain("pass-phrase")
    expect(disk).not.toContain("not-a-token-of-anyone")
    expect(disk).not.toContain(alice.token)
  })

  it("is for admins only, and refuses bad queries with 400 and changes nothing", async () => {
    for (const token of [testTokens.viewer]) {
      expect((await call("GET", "/api/audit", bearerOf(token))).statusCode).toBe(403)
    }
    const operator = await addUser("olivia", "operator")
    expect((await call("GET", "/api/audit", bearerOf(operator.token))).statusCode).toBe(403)
    const before = trailBytes()
    for (const query of [
      "limit=0",
      "limit=1001",
      "limit=ten",
      "limit=1e3",
      "action=runner.explode",
      "runner=../../etc",
      "user=",
      `user=${"u".repeat(201)}`,
      "since=0",
    ]) {
      const reply = await call("GET", `/api/audit?${query}`, asOwner)
      expect(reply.statusCode, `${query}: ${reply.body}`).toBe(400)
      expect(reply.json().error.code).toBe("ValidationError")
    }
    expect(trailBytes()).toBe(before)
  })

  it("follows as NDJSON: the backlog oldest first, each new entry once, until the admin is removed", async () => {
    const carol = await addUser("carol", "admin")
    await addUser("dave", "viewer")
    const response = await fetch(`${server.origin}/api/audit?follow=true&limit=2`, {
      headers: bearerOf(carol.token),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/x-ndjson")
    expect(response.headers.get("cache-control")).toBe("no-store")
    const reader = response.body?.getReader()
    if (reader === undefined) throw new Error("no body")
    const lines: Array<AuditEntry> = []
    let ended = false
    let pending = ""
    const pump = (async () => {
      const decoder = new TextDecoder()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        pending += decoder.decode(value, { stream: true })
        let newline = pending.indexOf("\n")
        while (newline !== -1) {
          lines.push(JSON.parse(pending.slice(0, newline)) as AuditEntry)
          pending = pending.slice(newline + 1)
          newline = pending.indexOf("\n")
        }
      }
      ended = true
    })()
    // The backlog: the last two entries, oldest first.
    await waitFor(() => lines.length >= 2, "the backlog")
    expect(lines.slice(0, 2).map((e) => [e.action, e.detail])).toEqual([
      ["user.add", "carol as admin"],
      ["user.add", "dave as viewer"],
    ])
    const started = await startAs(testTokens.operator, { provider: "shell", command: ["true"] })
    await waitFor(
      () => lines.length >= 3,
      () => `the new entry; got ${JSON.stringify(lines)}`,
    )
    expect(lines[2]).toMatchObject({ action: "runner.start", runnerId: started.id, user: "owner" })

    // It ends on its own (how soon is users.test.ts's deadline for sockets; no clock here).
    expect((await call("DELETE", "/api/users/carol", asOwner)).statusCode).toBe(204)
    await waitFor(() => ended, "the stream to end once carol is removed")
    await pump
    // Nothing repeated: the user.remove came after carol was gone, so it is not in her stream.
    expect(lines.map((e) => e.action)).toEqual(["user.add", "user.add", "runner.start"])
  })

  it("survives a restart of the server", async () => {
    const before = await audit("limit=1000")
    expect(before.length).toBeGreaterThan(10)
    // A follower open at shutdown does not hold the server up: its stream ends.
    const follower = await fetch(`${server.origin}/api/audit?follow=true&limit=1`, {
      headers: asOwner,
    })
    const drained = follower.text()
    await server.stop()
    await drained
    server = await startServer({ reuse: { dataDir: server.dataDir, socket: server.socket } })
    const after = await audit("limit=1000")
    expect(after).toEqual(before)
  })
})

describe("presence", () => {
  it("shows who watches each runner and who types, on /api/events and GET /api/runners/:id; the burst is audited", async () => {
    const erin = await addUser("erin", "operator")
    const frank = await addUser("frank", "viewer")
    const runner = await server.start({ provider: "shell", command: ["sh"] })
    const terminal = (token: string) =>
      WsClient.open(`${server.wsOrigin}/api/runners/${runner.id}/terminal`, bearerOf(token))
    const events = await WsClient.open(`${server.wsOrigin}/api/events`, asOwner)
    try {
      const erinTab1 = await terminal(erin.token)
      await waitFor(
        () => summary(presenceOf(events, runner.id)) === "erin:operator",
        () => `erin watching; got ${summary(presenceOf(events, runner.id))}`,
      )
      const frankTab = await terminal(frank.token)
      // A second tab of erin's: still one erin.
      const erinTab2 = await terminal(erin.token)
      await waitFor(
        () => summary(presenceOf(events, runner.id)) === "erin:operator,frank:viewer",
        () => `erin and frank watching; got ${summary(presenceOf(events, runner.id))}`,
      )
      const detail = RunnerDetail.parse((await server.get(`/api/runners/${runner.id}`)).json())
      expect(detail.viewers?.map((v) => v.user)).toEqual(["erin", "frank"])

      // A socket opened now gets everyone's presence after the list.
      const late = await WsClient.open(`${server.wsOrigin}/api/events`, bearerOf(frank.token))
      await waitFor(
        () => summary(presenceOf(late, runner.id)) === "erin:operator,frank:viewer",
        "the presence snapshot",
      )
      await late.close()

      await erinTab1.nextJson((m) => m.type === "snapshot", "erin's snapshot")
      erinTab1.send({ type: "input", data: "echo hi" })
      erinTab1.send({ type: "input", data: "\r" })
      await waitFor(
        () => summary(presenceOf(events, runner.id)) === "erin:operator:typing,frank:viewer",
        () => `erin typing; got ${summary(presenceOf(events, runner.id))}`,
      )
      // Typing stops by itself a few seconds after the last key, and the burst is audited then.
      await waitFor(
        () => summary(presenceOf(events, runner.id)) === "erin:operator,frank:viewer",
        () => `erin done typing; got ${summary(presenceOf(events, runner.id))}`,
      )
      const burst = await waitFor(
        async () => (await audit(`user=erin&action=runner.input`))[0],
        "erin's burst",
      )
      expect(burst).toMatchObject({ runnerId: runner.id, detail: "8 bytes" })

      // A viewer's keys reach nothing and are not audited.
      frankTab.send({ type: "input", data: "rm -rf /\r" })
      await frankTab.nextJson((m) => m.type === "error", "frank's refusal")
      expect(await audit("user=frank&action=runner.input")).toEqual([])

      await frankTab.close()
      await waitFor(() => summary(presenceOf(events, runner.id)) === "erin:operator", "frank gone")

      // Removing erin closes both her tabs (4401); she leaves the runner's viewers.
      expect((await call("DELETE", "/api/users/erin", asOwner)).statusCode).toBe(204)
      expect(await erinTab1.waitClosed()).toBe(REVOKED_CLOSE_CODE)
      expect(await erinTab2.waitClosed()).toBe(REVOKED_CLOSE_CODE)
      await waitFor(() => summary(presenceOf(events, runner.id)) === "", "nobody watching")
      const after = RunnerDetail.parse((await server.get(`/api/runners/${runner.id}`)).json())
      expect(after.viewers).toEqual([])
    } finally {
      await events.close()
    }
  })
})
