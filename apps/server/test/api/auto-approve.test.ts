import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AuditResponse, RunnerDetail } from "@geppetto/protocol"
import { runnerEnvironment } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

/*
 * Auto-approve end to end: a real server, real tmux, and a fake `claude` on the runner's PATH
 * that draws Claude Code's recorded permission dialog for each command it is given and prints
 * the key that answered it. What is allowed is answered once with the rule's yes; what is not
 * stays waiting for a person, with what it asks for on the summary.
 */

let server: TestServer
let bin: string

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "geppetto-approve-bin-"))
  mkdirSync(bin, { recursive: true })
  copyFileSync(new URL("../fixtures/approve-agent.sh", import.meta.url), join(bin, "claude"))
  server = await startServer({
    runner: {
      environment: runnerEnvironment({ ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` }),
    },
  })
})
afterAll(async () => {
  await server?.close()
  rmSync(bin, { recursive: true, force: true })
})

const text = async (id: string) => (await server.log(id)).bytes.toString("utf8")

describe("auto-approve", () => {
  it("answers an allowed dialog once with its yes, and leaves one it does not allow to a person", async () => {
    const events = await WsClient.open(`${server.wsOrigin}/api/events`, {
      authorization: `Bearer ${server.tokens.viewer}`,
    })
    try {
      const runner = await server.start({
        provider: "claude",
        cwd: server.dataDir,
        env: { APPROVE_AGENT_COMMANDS: "npm test;rm -rf build" },
        autoApprove: { allow: ["npm (?:test|run lint)"] },
      })
      expect(runner.autoApprove).toEqual({ allow: ["npm (?:test|run lint)"] })

      // The first dialog is answered with "1" (Claude's "Yes"), for `npm test`.
      await waitFor(
        async () => (await text(runner.id)).includes("answered 1 for npm test"),
        () => `the npm test dialog answered; screen: ${server.capture(runner.name)}`,
      )
      const reply = await events.nextJson(
        (m) =>
          m.type === "event" &&
          m.runnerId === runner.id &&
          (m.event as { type: string }).type === "auto-reply",
        "the auto-reply event",
      )
      expect(reply.event).toMatchObject({
        detail: "npm test",
        label: "Yes",
        pattern: "npm (?:test|run lint)",
        attentionId: expect.stringMatching(/^a\d+$/),
      })

      // The second asks for something not allowed: it waits, saying what it asks for.
      const waiting = await waitFor(
        async () => {
          const now = await server.runner(runner.id)
          return now.waitingForInput && now.attentionDetail === "rm -rf build" ? now : undefined
        },
        () => `the rm dialog waiting; screen: ${server.capture(runner.name)}`,
      )
      expect(waiting.attentionReason).toBe("permission")
      expect(waiting.attentionId).not.toBe((reply.event as { attentionId: string }).attentionId)
      expect(await text(runner.id)).not.toContain("for rm -rf build")

      const trail = await server.get(`/api/audit?runner=${runner.id}`, "operator")
      const entries = AuditResponse.parse(trail.json()).entries
      expect(entries.filter((e) => e.action === "runner.auto-approve")).toEqual([
        expect.objectContaining({
          user: "auto-approve",
          detail: "npm test (Yes; allowed by npm (?:test|run lint))",
        }),
      ])

      // A person answers it ("No") by its id; the answer is theirs, not auto-approve's.
      const detail = RunnerDetail.parse((await server.get(`/api/runners/${runner.id}`)).json())
      const no = detail.answers?.find((a) => a.label === "No")
      expect(no).toBeDefined()
      const answered = await server.post(`/api/runners/${runner.id}/reply`, {
        attentionId: waiting.attentionId,
        label: "No",
      })
      expect(answered.statusCode, answered.body).toBe(204)
      await waitFor(async () => (await text(runner.id)).includes("all done"), "the agent's end")
      const autoReplies = events
        .json()
        .filter(
          (m) =>
            m.type === "event" &&
            m.runnerId === runner.id &&
            (m.event as { type: string }).type === "auto-reply",
        )
      expect(autoReplies).toHaveLength(1)
    } finally {
      await events.close()
    }
  })

  it("takes an account's patterns from config.json unless the start gives its own", async () => {
    const configured = await startServer({
      config: { accounts: { ci: { provider: "shell", autoApprove: { allow: ["npm test"] } } } },
    })
    try {
      const inherited = await configured.start({
        provider: "shell",
        command: ["true"],
        accountId: "ci",
      })
      expect(inherited.autoApprove).toEqual({ allow: ["npm test"] })
      const own = await configured.start({
        provider: "shell",
        command: ["true"],
        accountId: "ci",
        autoApprove: { allow: ["make"] },
      })
      expect(own.autoApprove).toEqual({ allow: ["make"] })
      const none = await configured.start({ provider: "shell", command: ["true"] })
      expect(none.autoApprove).toBeUndefined()
    } finally {
      await configured.close()
    }
  })

  it("refuses patterns that do not compile, with 400 and no runner", async () => {
    const before = (await server.get("/api/runners")).json().length
    for (const allow of [["("], [], ["a".repeat(501)]]) {
      const reply = await server.post("/api/runners", {
        provider: "shell",
        command: ["true"],
        autoApprove: { allow },
      })
      expect(reply.statusCode, reply.body).toBe(400)
    }
    expect((await server.get("/api/runners")).json().length).toBe(before)
  })
})
