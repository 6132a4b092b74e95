import { RunnerDetail } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliServer, cliEnv, runCli, startCliServer, waitFor } from "./harness.js"

describe("geppetto reply", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  const api = async (path: string, init: RequestInit = {}) =>
    fetch(`${world.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${world.operator}`,
        "content-type": "application/json",
        ...init.headers,
      },
    })
  const detail = async (id: string) =>
    RunnerDetail.parse(await (await api(`/api/runners/${id}`)).json())

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  it("lists a prompt's answers, types the one named, and refuses a runner that waits on none", async () => {
    const started = await api("/api/runners", {
      method: "POST",
      body: JSON.stringify({
        provider: "shell",
        name: "cli-asker",
        command: [
          "sh",
          "-c",
          "printf 'Continue? [y/N] '; read a; echo \"answer=$a\"; exec sleep 600",
        ],
      }),
    })
    expect(started.status).toBe(201)
    const { id } = RunnerDetail.parse(await started.json())
    const first = await waitFor(async () => {
      const d = await detail(id)
      return d.waitingForInput && d.attentionId !== undefined ? d : undefined
    }, "the runner waiting")
    const listed = await runCli(["reply", "cli-asker"], env)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.out).toBe("Yes\nNo\n")
    const wrong = await runCli(["reply", "cli-asker", "maybe"], env)
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('"Yes"')
    const answered = await runCli(["reply", "cli-asker", "yes"], env)
    expect(answered.code, answered.stderr).toBe(0)
    await waitFor(
      async () =>
        !(await detail(id)).waitingForInput || (await detail(id)).attentionId !== first.attentionId,
      "the prompt gone",
    )
    const none = await runCli(["reply", "cli-asker", "yes"], env)
    expect(none.code).toBe(1)
    expect(none.stderr).toContain("not waiting on a prompt")
  })
})
