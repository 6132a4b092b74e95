import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NotificationPayload, RunnerSummary } from "@geppetto/protocol"
import { runnerEnvironment } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseNotificationsConfig } from "../../src/notify/config.js"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"
import { WebhookReceiver } from "../notify/receivers.js"

/*
 * A budget crossed while a runner runs: a real server, real tmux, and a fake `claude` on the
 * runner's PATH writing its session file one message per turn. Each message costs $0.00135
 * (sonnet: 100·3 + 50·15 + 1000·0.3 per million), the budget is $0.002 a day: the first turn
 * is under it, the second crosses it. The crossing is a notice (attention `budget`) and one
 * webhook; nothing is killed or typed, a restart announces nothing again, and the Prometheus
 * counters count each message once.
 */

let hooks: WebhookReceiver
let server: TestServer
let bin: string
let claudeHome: string

const startWith = (reuse?: { dataDir: string; socket: string }) =>
  startServer({
    runner: {
      environment: runnerEnvironment({
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        CLAUDE_CONFIG_DIR: claudeHome,
      }),
    },
    config: { budgets: [{ provider: "claude", period: "day", maxUsd: 0.002 }] },
    notify: {
      config: parseNotificationsConfig("config.json", {
        webhooks: [{ url: `${hooks.origin}/hook`, format: "json" }],
      }),
      delivery: { baseDelayMs: 50, maxDelayMs: 200, timeoutMs: 5_000 },
    },
    ...(reuse !== undefined ? { reuse } : {}),
  })

beforeAll(async () => {
  hooks = await WebhookReceiver.start()
  bin = mkdtempSync(join(tmpdir(), "geppetto-budget-bin-"))
  claudeHome = mkdtempSync(join(tmpdir(), "geppetto-budget-claude-"))
  copyFileSync(new URL("../fixtures/budget-agent.sh", import.meta.url), join(bin, "claude"))
  server = await startWith()
})
afterAll(async () => {
  await server?.close()
  await hooks?.close()
  rmSync(bin, { recursive: true, force: true })
  rmSync(claudeHome, { recursive: true, force: true })
})

/** One sample's value from Prometheus text: the line of `name` with exactly these labels. */
const sample = (text: string, name: string, labels: Record<string, string>) => {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",")
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line)
    if (match?.[1] !== name) continue
    if ((match[2] ?? "").split(",").sort().join(",") === want) return Number(match[3])
  }
  return undefined
}
const tokens = async (kind: string) =>
  sample((await server.get("/metrics", "operator")).body, "geppetto_agent_tokens_total", {
    provider: "claude",
    account: "",
    kind,
  })
const cost = async () =>
  sample((await server.get("/metrics", "operator")).body, "geppetto_agent_cost_usd_total", {
    provider: "claude",
    account: "",
  })

const budgetHooks = () =>
  hooks
    .to("/hook")
    .map((r) => NotificationPayload.parse(JSON.parse(r.body.toString("utf8"))))
    .filter((p) => p.reason === "budget")

describe("a budget crossed while running", () => {
  it("raises a notice and one webhook, kills and types nothing, is not announced again after a restart; counters count each message once", async () => {
    const cwd = mkdtempSync(join(server.dataDir, "proj-"))
    const runner = await server.start({ provider: "claude", cwd, name: "spender" })
    await waitFor(
      async () => (await server.runner(runner.id)).usage?.outputTokens === 50,
      () => `the first turn's usage; screen: ${server.capture(runner.name)}`,
    )
    // Under budget: no notice. msg_1's usage is on two lines, counted once.
    expect((await server.runner(runner.id)).attentionReason).not.toBe("budget")
    await waitFor(async () => (await tokens("output")) === 50, "50 output tokens counted")
    expect(await tokens("input")).toBe(100)
    expect(await tokens("cacheRead")).toBe(1000)
    expect(await cost()).toBeCloseTo(0.00135, 9)

    // The second turn crosses the budget: a notice, shown as attention `budget`.
    writeFileSync(join(cwd, "turn2"), "")
    const crossed = await waitFor(async () => {
      const r = await server.runner(runner.id)
      return r.attentionReason === "budget" ? r : undefined
    }, "the budget notice")
    expect(crossed.waitingForInput).toBe(true)
    expect(crossed.attentionId).toMatch(/^budget-/)
    expect(crossed.attentionDetail).toContain("provider claude, per day, max $0.002")
    expect(crossed.usage?.costUsd).toBe(0.0027)
    // No quick answers: it is no prompt.
    expect(crossed.answers ?? []).toEqual([])

    // One webhook, a `waiting` event with reason `budget`, naming the budget.
    await waitFor(() => budgetHooks().length === 1, "the budget webhook")
    expect(budgetHooks()[0]).toMatchObject({
      runnerId: runner.id,
      name: "spender",
      event: "waiting",
      reason: "budget",
      attentionId: crossed.attentionId,
    })
    expect(budgetHooks()[0]?.body).toContain("max $0.002")
    expect(budgetHooks()[0]?.answers).toBeUndefined()

    // /api/events shows it in the runner list.
    const events = await WsClient.open(`${server.wsOrigin}/api/events`, bearer("viewer"))
    const list = await events.nextJson((m) => m.type === "runners", "the runner list")
    const listed = (list.runners as Array<unknown>)
      .map((r) => RunnerSummary.parse(r))
      .find((r) => r.id === runner.id)
    expect(listed).toMatchObject({ waitingForInput: true, attentionReason: "budget" })
    await events.close()

    // A reply to the notice types nothing: it offers no answer.
    const reply = await server.post(`/api/runners/${runner.id}/reply`, {
      attentionId: crossed.attentionId,
      label: "Yes",
    })
    expect(reply.statusCode).toBe(400)

    // Nothing was killed: the agent goes on, and more spend raises nothing new.
    writeFileSync(join(cwd, "turn3"), "")
    await waitFor(
      async () => (await server.runner(runner.id)).usage?.outputTokens === 150,
      () => `the third turn; screen: ${server.capture(runner.name)}`,
    )
    const going = await server.runner(runner.id)
    expect(going.status === "running" || going.status === "idle").toBe(true)
    expect(going.attentionId).toBe(crossed.attentionId)
    expect(server.sessions()).toContain(runner.name)
    expect(server.capture(runner.name)).toContain("budget agent: turn 3 written")
    expect(await tokens("output")).toBe(150)
    await server.app.notifier.queue.idle()
    expect(budgetHooks()).toHaveLength(1)

    // A restart: the notice is kept (same id), and not announced again; the counters start
    // from the history they find rather than adding it again.
    await server.stop()
    server = await startWith({ dataDir: server.dataDir, socket: server.socket })
    const back = await waitFor(async () => {
      const r = await server.runner(runner.id)
      return r.attentionReason === "budget" ? r : undefined
    }, "the notice after the restart")
    expect(back.attentionId).toBe(crossed.attentionId)
    await server.app.notifier.queue.idle()
    expect(budgetHooks()).toHaveLength(1)
    expect(await tokens("output")).toBeUndefined()
    writeFileSync(join(cwd, "turn4"), "")
    await waitFor(async () => (await tokens("output")) === 50, "the fourth turn counted alone")
    expect((await server.runner(runner.id)).usage?.outputTokens).toBe(200)
    expect(await cost()).toBeCloseTo(0.00135, 9)

    // Someone types into the runner: the notice has been seen and goes; the crossing stays
    // raised, so more spend brings no second notice.
    const input = await server.post(`/api/runners/${runner.id}/input`, { data: "seen\r" })
    expect(input.statusCode, input.body).toBeLessThan(300)
    await waitFor(
      async () => (await server.runner(runner.id)).attentionReason !== "budget",
      "the notice dismissed",
    )
    writeFileSync(join(cwd, "turn5"), "")
    await waitFor(
      async () => (await server.runner(runner.id)).usage?.outputTokens === 250,
      "the fifth turn",
    )
    expect((await server.runner(runner.id)).attentionReason).not.toBe("budget")
    await server.app.notifier.queue.idle()
    expect(budgetHooks()).toHaveLength(1)

    writeFileSync(join(cwd, "stop"), "")
    await waitFor(
      async () => (await server.runner(runner.id)).status === "completed",
      "the agent's own exit",
    )
  })
})
