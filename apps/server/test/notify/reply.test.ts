import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
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

describe("POST /api/runners/:id/reply while the screen has moved on", () => {
  // A long debounce: the runner's status keeps saying it waits on the prompt for seconds after
  // the screen stopped showing it, as it can for 300 ms in use. The answer must look.
  let slow: TestServer
  let cwd: string
  beforeAll(async () => {
    slow = await startServer({
      config: { attention: { debounceMs: 2500, confirmMs: 100, recheckMs: 60_000 } },
    })
    cwd = mkdtempSync(join(tmpdir(), "geppetto-reply-"))
  })
  afterAll(async () => {
    await slow?.close()
    rmSync(cwd, { recursive: true, force: true })
  })

  it("checks a fresh capture: a prompt its status still names but its screen no longer shows gets 409, nothing typed", async () => {
    const runner = await slow.start({
      provider: "shell",
      cwd,
      command: [
        "sh",
        "-c",
        "printf 'Continue? [y/N] '; while [ ! -e go ]; do sleep 0.05; done; printf '\\033[2J\\033[Hworking on something else\\n'; read a; echo \"got=$a\"; exec sleep 600",
      ],
    })
    const pane = `=${runner.name}:`
    const prompt = await waitFor(async () => {
      const detail = await slow.runner(runner.id)
      return detail.waitingForInput && detail.attentionId !== undefined ? detail : undefined
    }, "the runner waiting on its prompt")
    writeFileSync(join(cwd, "go"), "")
    await waitFor(
      () => slow.capture(pane).includes("working on something else"),
      "the screen moved on",
    )
    // The status has not caught up: it still names the prompt and offers its answers.
    const stale = await slow.runner(runner.id)
    expect(stale.waitingForInput).toBe(true)
    expect(stale.attentionId).toBe(prompt.attentionId)

    const reply = await slow.post(`/api/runners/${runner.id}/reply`, {
      attentionId: prompt.attentionId,
      label: "Yes",
    })
    expect(reply.statusCode, reply.body).toBe(409)
    expect(reply.json().error.code).toBe("ConflictError")
    expect(reply.json().error.message).toContain("no longer shows prompt")
    // Nothing was typed: the first keys `read` gets are the ones sent now.
    const typed = await slow.post(`/api/runners/${runner.id}/input`, { data: "z\r" })
    expect(typed.statusCode).toBe(204)
    await waitFor(() => /got=/.test(slow.capture(pane)), "the marker read")
    expect(/got=(\S*)/.exec(slow.capture(pane))?.[1]).toBe("z")
    const audit = await slow.get(`/api/audit?runner=${runner.id}&action=runner.reply`, "operator")
    expect(audit.json().entries).toEqual([])
  })
})
