import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { NotificationPayload } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseNotificationsConfig } from "../../src/notify/config.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { browserSubscription, PushService, verifyVapid } from "./receivers.js"

/**
 * Web Push against a real push service on loopback (HTTPS, a self-signed certificate made with
 * openssl): each push's VAPID JWT is checked (signature, `aud`, `exp`, `sub`) and its body
 * decrypted with the browser's keys (RFC 8291), by code of this test's own.
 */

/** Attention timing short enough for tests (the defaults wait 1.5 s of silence). */
const attention = { debounceMs: 300, confirmMs: 100, recheckMs: 100 }
/** A build step that asks "Continue? [y/N]" (the generic yes/no rule: answers Yes and No). */
const asker = (extra = "") => [
  "sh",
  "-c",
  `printf 'Continue? [y/N] '; read a; echo "answer=$a"; ${extra} exec sleep 600`,
]

let push: PushService
let server: TestServer

const startWith = (reuse?: { dataDir: string; socket: string }) =>
  startServer({
    config: { attention },
    notify: {
      config: parseNotificationsConfig("config.json", { vapidSubject: "mailto:ops@example.com" }),
      pushAgent: push.agent,
      delivery: { baseDelayMs: 50, maxDelayMs: 200, timeoutMs: 5_000 },
    },
    ...(reuse !== undefined ? { reuse } : {}),
  })

const subscribe = async (
  path: string,
  role: "operator" | "viewer",
  events?: ReadonlyArray<string>,
) => {
  const sub = browserSubscription(`${push.origin}${path}`)
  const reply = await server.post(
    "/api/push/subscriptions",
    { ...sub.json, ...(events !== undefined ? { events } : {}) },
    role,
  )
  expect(reply.statusCode, reply.body).toBe(201)
  return sub
}

const payloads = (path: string, sub: ReturnType<typeof browserSubscription>) =>
  push.to(path).map((r) => NotificationPayload.parse(JSON.parse(sub.decrypt(r.body))))

const publicKey = async () => (await server.get("/api/push/key")).json().publicKey as string

beforeAll(async () => {
  push = await PushService.start()
  server = await startWith()
})
afterAll(async () => {
  await server?.close()
  await push?.close()
})

describe("push subscriptions", () => {
  it("gives the VAPID key, made once into vapid.json (0600)", async () => {
    const key = await publicKey()
    expect(Buffer.from(key, "base64url")).toHaveLength(65)
    expect(statSync(join(server.dataDir, "vapid.json")).mode & 0o777).toBe(0o600)
    expect((await server.get("/api/push/key", "none")).statusCode).toBe(401)
  })

  it("stores a browser's subscription per user, 0600; refuses what is not https: or not keys", async () => {
    const sub = browserSubscription(`${push.origin}/store`)
    const created = await server.post("/api/push/subscriptions", sub.json, "viewer")
    expect(created.statusCode, created.body).toBe(201)
    expect(created.json()).toEqual({ endpoint: sub.json.endpoint, events: ["waiting"] })
    const file = join(server.dataDir, "push-subscriptions.json")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const before = statSync(file).mtimeMs
    for (const bad of [
      { ...sub.json, endpoint: "http://127.0.0.1:1/push" },
      { ...sub.json, endpoint: "https://user:pw@push.example/x" },
      { ...sub.json, endpoint: "not a url" },
      { ...sub.json, keys: { p256dh: "short", auth: sub.json.keys.auth } },
      { ...sub.json, keys: { p256dh: sub.json.keys.p256dh } },
      { ...sub.json, events: ["waiting", "waiting"] },
      { ...sub.json, events: ["exploded"] },
      { ...sub.json, events: [] },
      { ...sub.json, extra: 1 },
    ]) {
      const reply = await server.post("/api/push/subscriptions", bad, "viewer")
      expect(reply.statusCode, JSON.stringify(bad)).toBe(400)
      expect(reply.json().error.code).toBe("ValidationError")
    }
    expect(statSync(file).mtimeMs).toBe(before)
    // Only its own user removes it; removing is idempotent.
    const other = await server.request("operator", {
      method: "DELETE",
      url: "/api/push/subscriptions",
      payload: { endpoint: sub.json.endpoint },
    })
    expect(other.statusCode).toBe(204)
    expect(server.app.notifier).toBeDefined()
    const own = await server.request("viewer", {
      method: "DELETE",
      url: "/api/push/subscriptions",
      payload: { endpoint: sub.json.endpoint },
    })
    expect(own.statusCode).toBe(204)
    const bad = await server.request("viewer", {
      method: "DELETE",
      url: "/api/push/subscriptions",
      payload: { endpoint: "http://x" },
    })
    expect(bad.statusCode).toBe(400)
  })
})

describe("a removed user's subscriptions", () => {
  it("go with the user at once, so a new user of that name gets none of them", async () => {
    const added = await server.post("/api/users", { name: "dora", role: "viewer" }, "operator")
    expect(added.statusCode, added.body).toBe(201)
    const token = added.json().token as string
    const sub = browserSubscription(`${push.origin}/dora`)
    const created = await server.app.inject({
      method: "POST",
      url: "/api/push/subscriptions",
      headers: { authorization: `Bearer ${token}` },
      payload: sub.json,
    })
    expect(created.statusCode, created.body).toBe(201)
    const file = join(server.dataDir, "push-subscriptions.json")
    expect(readFileSync(file, "utf8")).toContain(sub.json.endpoint)
    const removed = await server.request("operator", { method: "DELETE", url: "/api/users/dora" })
    expect(removed.statusCode, removed.body).toBe(204)
    expect(readFileSync(file, "utf8")).not.toContain(sub.json.endpoint)
  })
})

describe("pushes", () => {
  it("a runner that starts waiting: one push per subscription, VAPID-signed, decryptable, answers for operators only", async () => {
    const key = await publicKey()
    const op = await subscribe("/op", "operator")
    const viewer = await subscribe("/viewer", "viewer")
    const endsOnly = await subscribe("/ends", "operator", ["completed", "failed"])
    const runner = await server.start({ provider: "shell", command: asker(), name: "asker-1" })
    await waitFor(
      () => push.to("/op").length === 1 && push.to("/viewer").length === 1,
      "two pushes",
    )
    const [request] = push.to("/op")
    if (request === undefined) throw new Error("no push")
    const claims = verifyVapid(request.headers.authorization, key)
    expect(claims.aud).toBe(push.origin)
    expect(claims.sub).toBe("mailto:ops@example.com")
    const now = Date.now() / 1000
    expect(claims.exp).toBeGreaterThan(now)
    expect(claims.exp).toBeLessThan(now + 24 * 60 * 60)
    expect(request.headers["content-encoding"]).toBe("aes128gcm")
    expect(request.headers.urgency).toBe("high")
    expect(Number(request.headers.ttl)).toBeGreaterThan(0)
    const [payload] = payloads("/op", op)
    const detail = await server.runner(runner.id)
    expect(payload).toMatchObject({
      runnerId: runner.id,
      name: "asker-1",
      event: "waiting",
      reason: "question",
      attentionId: detail.attentionId,
      answers: [{ label: "Yes" }, { label: "No" }],
      url: `/runners/${runner.id}`,
    })
    expect(payload?.title).toContain("asker-1")
    // Nothing of the screen: not even the question's text.
    expect(JSON.stringify(payload)).not.toContain("Continue?")
    const [forViewer] = payloads("/viewer", viewer)
    expect(forViewer?.answers).toBeUndefined()
    expect(forViewer?.runnerId).toBe(runner.id)
    expect(push.to("/ends")).toHaveLength(0)
    void endsOnly
  })

  it("completed and failed go to those who chose them, once each", async () => {
    const ends = browserSubscription(`${push.origin}/ends-2`)
    await server.post("/api/push/subscriptions", { ...ends.json, events: ["completed", "failed"] })
    const ok = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exit 0"],
      name: "ends-ok",
    })
    const bad = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exit 3"],
      name: "ends-bad",
    })
    await waitFor(() => push.to("/ends-2").length === 2, "two end pushes")
    const got = payloads("/ends-2", ends)
    expect(got.find((p) => p.runnerId === ok.id)).toMatchObject({
      event: "completed",
      status: "completed",
    })
    expect(got.find((p) => p.runnerId === bad.id)).toMatchObject({
      event: "failed",
      status: "failed",
      reason: expect.stringContaining("code 3"),
    })
    expect(push.to("/ends-2")[0]?.headers.urgency).toBe("normal")
  })

  it("drops a subscription the push service says is gone (410), and retries a 503", async () => {
    await subscribe("/gone", "operator")
    await subscribe("/flaky", "operator")
    let flaky = 0
    push.respond = (r) => {
      if (r.path === "/gone") return 410
      if (r.path === "/flaky" && ++flaky <= 2)
        return { status: 503, headers: { "retry-after": "0" } }
      return 201
    }
    try {
      await server.start({ provider: "shell", command: asker(), name: "asker-2" })
      await waitFor(() => push.to("/flaky").length === 3, "two 503s, then the push")
      await waitFor(
        () => server.app.notifier !== undefined && push.to("/gone").length === 1,
        "the 410",
      )
      await server.app.notifier.queue.idle()
      const stored = JSON.parse(
        (await import("node:fs")).readFileSync(
          join(server.dataDir, "push-subscriptions.json"),
          "utf8",
        ),
      ) as { subscriptions: Array<{ endpoint: string }> }
      const endpoints = stored.subscriptions.map((s) => s.endpoint)
      expect(endpoints).not.toContain(`${push.origin}/gone`)
      expect(endpoints).toContain(`${push.origin}/flaky`)
      // Gone for good: the next prompt is not pushed there.
      await server.start({ provider: "shell", command: asker(), name: "asker-3" })
      await waitFor(() => push.to("/flaky").length === 4, "the next push")
      expect(push.to("/gone")).toHaveLength(1)
    } finally {
      push.respond = () => 201
    }
  })
})

describe("once per transition", () => {
  it("a restart does not push again what was pushed; a new prompt after it is pushed", async () => {
    const sub = await subscribe("/restart", "operator")
    const runner = await server.start({
      provider: "shell",
      // Asks twice: the second question comes only after the first is answered.
      command: [
        "sh",
        "-c",
        "printf 'Continue? [y/N] '; read a; echo \"answer=$a\"; printf 'Really continue? [y/N] '; read b; echo \"b=$b\"; exec sleep 600",
      ],
      name: "restarted",
    })
    await waitFor(() => push.to("/restart").length === 1, "the first push")
    await server.app.notifier.queue.idle()
    const first = payloads("/restart", sub)[0]
    await server.stop()
    server = await startWith({ dataDir: server.dataDir, socket: server.socket })
    // The runner is rediscovered and still waits on the same prompt: nothing is pushed. The
    // restarted server's feed has settled once the runner is listed as waiting again.
    await waitFor(async () => (await server.runner(runner.id)).waitingForInput, "waiting again")
    await server.app.notifier.queue.idle()
    expect(push.to("/restart")).toHaveLength(1)
    // Answer it: the next question is a new prompt, pushed once.
    const reply = await server.post(`/api/runners/${runner.id}/reply`, {
      attentionId: first?.attentionId,
      label: "Yes",
    })
    expect(reply.statusCode, reply.body).toBe(204)
    await waitFor(() => push.to("/restart").length === 2, "the second prompt's push")
    const second = payloads("/restart", sub)[1]
    expect(second?.attentionId).not.toBe(first?.attentionId)
    await waitFor(() => /answer=y/.test(server.capture(`=${runner.name}:`)), "the answer typed")
  })
})
