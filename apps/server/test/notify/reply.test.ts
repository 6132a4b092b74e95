import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

let server: TestServer

beforeAll(async () => {
  server = await startServer({
    config: { attention: { debounceMs: 300, confirmMs: 100, recheckMs: 100 } },
  })
})
afterAll(async () => {
  await server?.close()
})

const waitingOn = async (id: string) =>
  waitFor(async () => {
    const detail = await server.runner(id)
    return detail.waitingForInput && detail.attentionId !== undefined ? detail : undefined
  }, "the runner waiting on a prompt")

describe("POST /api/runners/:id/reply", () => {
  it("types the answer's keys while that prompt waits, records runner.reply; a stale prompt gets 409 and nothing typed", async () => {
    const runner = await server.start({
      provider: "shell",
      command: [
        "sh",
        "-c",
        "printf 'Continue? [y/N] '; read a; echo \"first=$a\"; printf 'Deploy? [y/N] '; read b; echo \"second=$b\"; exec sleep 600",
      ],
    })
    const first = await waitingOn(runner.id)
    expect(first.answers?.map((a) => a.label)).toEqual(["Yes", "No"])
    const pane = `=${runner.name}:`

    // Bad input: 400, nothing typed.
    for (const body of [
      {},
      { attentionId: first.attentionId },
      { attentionId: first.attentionId, label: "" },
      { attentionId: first.attentionId, label: "Yes", extra: 1 },
      { attentionId: first.attentionId, label: "Maybe" },
    ]) {
      const reply = await server.post(`/api/runners/${runner.id}/reply`, body)
      expect(reply.statusCode, JSON.stringify(body)).toBe(400)
      expect(reply.json().error.code).toBe("ValidationError")
    }
    // A viewer may not answer.
    const viewer = await server.post(
      `/api/runners/${runner.id}/reply`,
      { attentionId: first.attentionId, label: "Yes" },
      "viewer",
    )
    expect(viewer.statusCode).toBe(403)
    // Another prompt's id: 409.
    const stale = await server.post(`/api/runners/${runner.id}/reply`, {
      attentionId: "a999",
      label: "Yes",
    })
    expect(stale.statusCode).toBe(409)
    expect(stale.json().error.code).toBe("ConflictError")
    expect(server.capture(pane)).not.toMatch(/first=/)

    const ok = await server.post(`/api/runners/${runner.id}/reply`, {
      attentionId: first.attentionId,
      label: "Yes",
    })
    expect(ok.statusCode, ok.body).toBe(204)
    await waitFor(() => /first=y/.test(server.capture(pane)), "the first answer typed")

    // The next prompt: the first one's notification is stale now and must press nothing.
    const second = await waitFor(async () => {
      const d = await server.runner(runner.id)
      return d.waitingForInput && d.attentionId !== first.attentionId ? d : undefined
    }, "the second prompt")
    const late = await server.post(`/api/runners/${runner.id}/reply`, {
      attentionId: first.attentionId,
      label: "No",
    })
    expect(late.statusCode).toBe(409)
    expect(server.capture(pane)).not.toMatch(/second=/)
    const audit = await server.get(`/api/audit?runner=${runner.id}&action=runner.reply`, "operator")
    expect(audit.json().entries).toEqual([
      expect.objectContaining({
        user: "owner",
        action: "runner.reply",
        runnerId: runner.id,
        detail: "Yes",
      }),
    ])
    expect(second.attentionId).toBeDefined()
  })

  it("a runner that waits for nothing, or does not exist: 409 / 404", async () => {
    const busy = await server.start({ provider: "shell", command: ["sh", "-c", "exec sleep 600"] })
    const notWaiting = await server.post(`/api/runners/${busy.id}/reply`, {
      attentionId: "a1",
      label: "Yes",
    })
    expect(notWaiting.statusCode).toBe(409)
    const missing = await server.post("/api/runners/no-such-runner/reply", {
      attentionId: "a1",
      label: "Yes",
    })
    expect(missing.statusCode).toBe(404)
  })
})
