import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NotificationPayload } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseServeArgs } from "../../src/config.js"
import {
  loadNotificationsConfig,
  NotifyConfigError,
  parseNotificationsConfig,
} from "../../src/notify/config.js"
import { serve } from "../../src/serve.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WebhookReceiver } from "./receivers.js"

const SECRET = "Bearer hook-secret-0f9a8b7c"
const attention = { debounceMs: 300, confirmMs: 100, recheckMs: 100 }

let hooks: WebhookReceiver
let server: TestServer
const logLines: Array<string> = []

beforeAll(async () => {
  hooks = await WebhookReceiver.start()
  server = await startServer({
    config: { attention },
    logger: { level: "info", stream: { write: (line) => void logLines.push(line) } },
    notify: {
      config: parseNotificationsConfig("config.json", {
        publicUrl: "https://geppetto.example.lan:7420/",
        webhooks: [
          {
            url: `${hooks.origin}/json?key=s3cret`,
            format: "json",
            headers: { authorization: SECRET },
          },
          { url: `${hooks.origin}/ntfy`, format: "ntfy", events: ["waiting", "failed"] },
          { url: `${hooks.origin}/slack`, format: "slack", events: ["completed"] },
          { url: `${hooks.origin}/flaky`, format: "json", events: ["completed"] },
        ],
      }),
      delivery: { baseDelayMs: 50, maxDelayMs: 200, timeoutMs: 5_000 },
    },
  })
})
afterAll(async () => {
  await server?.close()
  await hooks?.close()
})

describe("webhooks from config.json", () => {
  it("a prompt: json (the push payload, with the hook's headers) and ntfy (title, priority, tags, click); not slack", async () => {
    const runner = await server.start({
      provider: "shell",
      command: ["sh", "-c", "printf 'Continue? [y/N] '; read a; exec sleep 600"],
      name: "hooked",
    })
    await waitFor(
      () => hooks.to("/json?key=s3cret").length === 1 && hooks.to("/ntfy").length === 1,
      "json and ntfy",
    )
    const [json] = hooks.to("/json?key=s3cret")
    expect(json?.headers.authorization).toBe(SECRET)
    expect(json?.headers["content-type"]).toBe("application/json")
    const payload = NotificationPayload.parse(JSON.parse(json?.body.toString("utf8") ?? ""))
    expect(payload).toMatchObject({
      runnerId: runner.id,
      name: "hooked",
      event: "waiting",
      reason: "question",
      answers: [{ label: "Yes" }, { label: "No" }],
    })
    expect(payload.attentionId).toBeDefined()
    const [ntfy] = hooks.to("/ntfy")
    expect(ntfy?.headers.title).toContain("hooked")
    expect(ntfy?.headers.priority).toBe("high")
    expect(ntfy?.headers.tags).toBe("bell")
    expect(ntfy?.headers.click).toBe(`https://geppetto.example.lan:7420/runners/${runner.id}`)
    expect(ntfy?.body.toString("utf8")).toContain("Yes")
    expect(hooks.to("/slack")).toHaveLength(0)
    await server.app.notifier.queue.idle()
    // One per transition: still one each after the feed moved on.
    expect(hooks.to("/json?key=s3cret")).toHaveLength(1)
  })

  it("an end: slack's { text } with the link, a 500 retried with backoff until it lands, once", async () => {
    let flaky = 0
    hooks.respond = (r) => (r.path === "/flaky" && ++flaky <= 2 ? 500 : 200)
    const runner = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exit 0"],
      name: "finisher",
    })
    await waitFor(
      () => hooks.to("/slack").length === 1 && hooks.to("/flaky").length === 3,
      "slack, and flaky on its third try",
    )
    const slack = JSON.parse(hooks.to("/slack")[0]?.body.toString("utf8") ?? "") as { text: string }
    expect(Object.keys(slack)).toEqual(["text"])
    expect(slack.text).toContain("finisher completed")
    expect(slack.text).toContain(`https://geppetto.example.lan:7420/runners/${runner.id}`)
    const tries = hooks.to("/flaky").map((r) => r.at)
    // Backoff: at least 3/4 of 50 ms, then of 100 ms (a lower bound: timers never fire early).
    expect((tries[1] ?? 0) - (tries[0] ?? 0)).toBeGreaterThanOrEqual(36)
    expect((tries[2] ?? 0) - (tries[1] ?? 0)).toBeGreaterThanOrEqual(74)
    await server.app.notifier.queue.idle()
    expect(hooks.to("/slack")).toHaveLength(1)
    expect(hooks.to("/flaky")).toHaveLength(3)
  })

  it("never logs a webhook's headers or its URL's path and query", () => {
    const log = logLines.join("\n")
    expect(log).toContain("notification not delivered; retrying")
    expect(log).not.toContain("hook-secret")
    expect(log).not.toContain("s3cret")
  })
})

describe("the notifications config", () => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-notify-config-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("defaults without a file or key; a bad key stops the start with a message naming it", async () => {
    expect((await loadNotificationsConfig(dir)).webhooks).toEqual([])
    const cases: Array<[unknown, RegExp]> = [
      [{ webhooks: [{ url: "ftp://x", format: "json" }] }, /notifications\.webhooks\[0\]\.url/],
      [
        { webhooks: [{ url: "https://x", format: "teams" }] },
        /notifications\.webhooks\[0\]\.format/,
      ],
      [{ webhooks: [{ url: "https://x", format: "json", events: ["exploded"] }] }, /events/],
      [
        { webhooks: [{ url: "https://x", format: "json", headers: { "bad name": "v" } }] },
        /headers/,
      ],
      [
        { webhooks: [{ url: "https://x", format: "json", headers: { a: "line\nbreak" } }] },
        /headers/,
      ],
      [{ publicUrl: "javascript:alert(1)" }, /publicUrl/],
      [{ vapidSubject: "someone" }, /vapidSubject/],
      [{ webhook: [] }, /notifications/],
    ]
    for (const [notifications, message] of cases) {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ notifications }))
      const error = await loadNotificationsConfig(dir).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, JSON.stringify(notifications)).toBeInstanceOf(NotifyConfigError)
      expect((error as Error).message).toMatch(message)
      expect((error as Error).message).toContain(join(dir, "config.json"))
    }
    writeFileSync(
      join(dir, "config.json"),
      JSON.stringify({
        limits: {},
        notifications: { webhooks: [{ url: "https://ntfy.sh/topic", format: "ntfy" }] },
      }),
    )
    const ok = await loadNotificationsConfig(dir)
    expect(ok.webhooks[0]).toEqual({
      url: "https://ntfy.sh/topic",
      format: "ntfy",
      events: ["waiting"],
      headers: {},
    })
  })

  it("geppetto serve refuses to start on a bad notifications key, naming it", async () => {
    const dataDir = join(dir, "serve")
    const args = [
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--tmux-socket",
      `notify-serve-${process.pid}`,
    ]
    const { mkdirSync } = await import("node:fs")
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(
      join(dataDir, "config.json"),
      JSON.stringify({ notifications: { webhooks: [{ url: "https://x", format: "teams" }] } }),
    )
    const env = { GEPPETTO_TOKEN: "t".repeat(40), GEPPETTO_VIEWER_TOKEN: "v".repeat(40) }
    const error = await serve(parseServeArgs(args, env), env).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(NotifyConfigError)
    expect((error as Error).message).toContain("notifications.webhooks[0].format")
  })
})
