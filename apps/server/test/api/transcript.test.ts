import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TranscriptResponse, UsageResponse } from "@geppetto/protocol"
import { runnerEnvironment } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

/*
 * Transcripts end to end: a real server, real tmux, and a fake `claude` on the runner's PATH
 * that writes a Claude Code session file under the CLAUDE_CONFIG_DIR the runner env sets,
 * named by the --session-id the server passes. Usage is counted once per message and pushed
 * on the summary as the file grows; a budget spent refuses the next start with 429.
 */

let server: TestServer
let bin: string
let claudeHome: string

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "geppetto-transcript-bin-"))
  claudeHome = mkdtempSync(join(tmpdir(), "geppetto-claude-home-"))
  copyFileSync(new URL("../fixtures/transcript-agent.sh", import.meta.url), join(bin, "claude"))
  server = await startServer({
    runner: {
      environment: runnerEnvironment({
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        CLAUDE_CONFIG_DIR: claudeHome,
      }),
    },
    // sonnet: (100·3 + 50·15 + 1000·0.3) / 1e6 = $0.00135 for the first message.
    config: { budgets: [{ provider: "claude", period: "day", maxUsd: 0.001 }] },
  })
})
afterAll(async () => {
  await server?.close()
  rmSync(bin, { recursive: true, force: true })
  rmSync(claudeHome, { recursive: true, force: true })
})

const transcript = async (id: string, query = "") => {
  const res = await server.get(`/api/runners/${id}/transcript${query}`)
  return { status: res.statusCode, body: res.json() as unknown }
}

describe("transcripts", () => {
  it("reads the agent's session file, follows it live, counts usage once, and refuses a start over budget", async () => {
    const cwd = mkdtempSync(join(server.dataDir, "proj-"))
    mkdirSync(cwd, { recursive: true })
    const runner = await server.start({ provider: "claude", cwd })

    // The agent writes its turn line by line and says so when done: a read between two lines
    // would see part of it.
    await waitFor(
      () => /first turn written/.test(server.capture(runner.name)),
      () => `the first turn written; screen: ${server.capture(runner.name)}`,
    )
    await waitFor(
      async () => (await transcript(runner.id)).status === 200,
      () => `a transcript for ${runner.id}; screen: ${server.capture(runner.name)}`,
    )
    const first = TranscriptResponse.parse((await transcript(runner.id)).body)
    expect(first.provider).toBe("claude")
    expect(first.sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.entries.map((e) => [e.kind, e.text ?? e.tool])).toEqual([
      ["user", "run the tests"],
      ["assistant", "Running **tests**"],
      ["tool-call", "Bash"],
      ["tool-result", "1 failed"],
    ])
    expect(first.entries[2]?.input).toEqual({ command: "npm test" })
    expect(first.entries[3]?.isError).toBe(true)
    // msg_1's usage is on two lines: counted once.
    expect(first.usage).toEqual({
      inputTokens: 100,
      outputTokens: 50,
      cacheReadTokens: 1000,
      cacheWriteTokens: 0,
      costUsd: 0.00135,
    })

    // The summary carries it too, pushed by the follower.
    await waitFor(
      async () => (await server.runner(runner.id)).usage?.outputTokens === 50,
      () => "usage on the summary",
    )

    // The budget (claude, $0.001 a day) is spent: the next start is refused, naming it.
    const refused = await server.post("/api/runners", { provider: "claude", cwd })
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toMatchObject({ error: { code: "TierLimitError" } })
    expect(refused.body).toContain("provider claude, per day, max $0.001")

    // The agent writes more: a live page from `total` has it, and the summary's usage grows.
    writeFileSync(join(cwd, "go"), "")
    await waitFor(
      async () => (await server.runner(runner.id)).usage?.outputTokens === 55,
      () => `usage grown; screen: ${server.capture(runner.name)}`,
    )
    const next = TranscriptResponse.parse(
      (await transcript(runner.id, `?after=${first.total}`)).body,
    )
    expect(next.entries).toEqual([
      { seq: 4, at: Date.parse("2025-10-01T10:00:04Z"), kind: "assistant", text: "done" },
    ])

    const usage = UsageResponse.parse((await server.get("/api/usage?by=provider")).json())
    expect(usage.groups).toEqual([
      {
        key: "claude",
        runners: 1,
        usage: {
          inputTokens: 110,
          outputTokens: 55,
          cacheReadTokens: 1000,
          cacheWriteTokens: 0,
          costUsd: 0.001455,
        },
      },
    ])
    writeFileSync(join(cwd, "stop"), "")
  })

  it("answers 404 for a runner whose agent keeps no transcript, 400 for a bad page", async () => {
    const shell = await server.start({ provider: "shell", command: ["sleep", "30"] })
    expect((await transcript(shell.id)).status).toBe(404)
    expect((await transcript(shell.id, "?limit=0")).status).toBe(400)
    expect((await transcript(shell.id, "?after=1&before=2")).status).toBe(400)
    expect((await transcript("run_nope")).status).toBe(404)
    expect((await server.get("/api/usage?by=week")).statusCode).toBe(400)
  })
})
