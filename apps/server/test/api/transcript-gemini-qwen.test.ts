import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runnerEnvironment } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { printedArgv, transcriptOf as transcriptOfRun } from "../helpers/fake-agents.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

/*
 * Gemini CLI and Qwen Code transcripts end to end: a real server and tmux, and a fake
 * `gemini` / `qwen` on the runners' PATH writing its session file where the real one does,
 * under an id it picks itself; the server finds it by folder and start time.
 */

let server: TestServer
let bin: string
let homes: string

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "geppetto-gq-bin-"))
  homes = mkdtempSync(join(tmpdir(), "geppetto-gq-homes-"))
  for (const name of ["gemini", "qwen"])
    copyFileSync(new URL("../fixtures/gemini-qwen-agent.sh", import.meta.url), join(bin, name))
  server = await startServer({
    runner: {
      environment: runnerEnvironment({
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        GEMINI_CLI_HOME: join(homes, "gemini"),
        QWEN_HOME: join(homes, "qwen"),
      }),
    },
  })
}, 60_000)
afterAll(async () => {
  await server?.close()
  rmSync(bin, { recursive: true, force: true })
  rmSync(homes, { recursive: true, force: true })
})

describe.each(["gemini", "qwen"])("%s transcript", (provider) => {
  it("is found by folder and time, read, and its usage is on the summary", async () => {
    const cwd = mkdtempSync(join(server.dataDir, `${provider}-`))
    const runner = await server.start({ provider, cwd })
    // The agent writes its file line by line and says so when done: read it after that, or a
    // read between two lines sees part of the turn.
    await waitFor(
      () => / written/.test(server.capture(runner.name)),
      () => `the agent's session file written; screen: ${server.capture(runner.name)}`,
    )
    const transcript = await transcriptOfRun(
      server,
      runner.id,
      () => `a transcript; screen: ${server.capture(runner.name)}`,
    )
    expect(transcript.provider).toBe(provider)
    expect(server.capture(runner.name)).toContain(`session ${transcript.sessionId} written`)
    expect(transcript.entries.map((e) => [e.kind, e.tool ?? e.text])).toEqual([
      ["user", "list the files"],
      ["assistant", "I'll list them."],
      ["tool-call", "run_shell_command"],
      ["tool-result", "run_shell_command"],
    ])
    const usage = { inputTokens: 400, outputTokens: 50, cacheReadTokens: 800, cacheWriteTokens: 0 }
    // Neither has a built-in price: all of it is unpriced.
    expect(transcript.usage).toEqual({ ...usage, unpricedTokens: 400 + 50 + 800 })
    await waitFor(
      async () => (await server.runner(runner.id)).usage?.cacheReadTokens === 800,
      "usage on the summary",
    )
    writeFileSync(join(cwd, "stop"), "")
  })

  it("continues a finished session with --resume=ID: the same session, read on in its file", async () => {
    const cwd = mkdtempSync(join(server.dataDir, `${provider}-resume-`))
    // The fake agent writes its session, then ends at once.
    writeFileSync(join(cwd, "stop"), "")
    const parent = await server.start({ provider, cwd, prompt: "first" })
    const { sessionId } = await transcriptOf(parent.id)
    await waitFor(async () => (await server.runner(parent.id)).status !== "running", "the end")

    const prompt = "go on; $(touch /tmp/never) 'quoted'"
    const continued = await server.start({ provider, resume: { runnerId: parent.id }, prompt })
    expect(continued.parentId).toBe(parent.id)
    expect(continued.cwd).toBe(parent.cwd)
    expect(await argvOf(continued.id)).toEqual([
      `--resume=${sessionId}`,
      `--prompt-interactive=${prompt}`,
    ])
    // The continued runner reads the same file, with the line the agent added to it.
    const read = await waitFor(async () => {
      const t = await transcriptOf(continued.id)
      return t.entries.some((e) => e.text === "go on") ? t : undefined
    }, "the continued session's new line")
    expect(read.sessionId).toBe(sessionId)
    // Its usage is what it added (10 in, 5 out), not the session's whole: the first turn is the
    // parent's, counted there (totals and budgets would count it twice).
    const own = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 }
    expect(read.usage).toEqual({ ...own, unpricedTokens: 15 })
    await waitFor(
      async () => (await server.runner(continued.id)).usage?.inputTokens === 10,
      "the continued runner's usage on its summary",
    )
    // The parent's own figure stays its own: read again now (its file has the new turn), the
    // lines after its end are not counted to it, in its transcript or on its summary.
    const parentOwn = { inputTokens: 400, outputTokens: 50, cacheReadTokens: 800 }
    const parentRead = await transcriptOf(parent.id)
    expect(parentRead.entries.some((e) => e.text === "go on")).toBe(true)
    expect(parentRead.usage).toMatchObject(parentOwn)
    expect((await server.runner(parent.id)).usage).toMatchObject(parentOwn)
    // One-shot too; a fork is refused (400), starting nothing.
    const once = await server.start({
      provider,
      mode: "oneshot",
      resume: { runnerId: continued.id },
      prompt: "once",
    })
    expect(await argvOf(once.id)).toEqual([`--resume=${sessionId}`, "--prompt=once"])
  })
})

describe("forks", () => {
  it("gemini has none: 400, starting nothing", async () => {
    const cwd = mkdtempSync(join(server.dataDir, "gemini-fork-"))
    writeFileSync(join(cwd, "stop"), "")
    const parent = await server.start({ provider: "gemini", cwd })
    await transcriptOf(parent.id)
    await waitFor(async () => (await server.runner(parent.id)).status !== "running", "the end")
    const before = ((await server.get("/api/runners")).json() as unknown[]).length
    const fork = await server.post("/api/runners", {
      provider: "gemini",
      resume: { runnerId: parent.id, fork: true },
    })
    expect(fork.statusCode).toBe(400)
    expect(fork.body).toMatch(/gemini cannot fork/)
    expect(((await server.get("/api/runners")).json() as unknown[]).length).toBe(before)
  })

  it("qwen forks into a session of its own, found by what it forked; the parent's is left as it was", async () => {
    const cwd = mkdtempSync(join(server.dataDir, "qwen-fork-"))
    writeFileSync(join(cwd, "stop"), "")
    const parent = await server.start({ provider: "qwen", cwd, prompt: "first" })
    const { sessionId } = await transcriptOf(parent.id)
    await waitFor(async () => (await server.runner(parent.id)).status !== "running", "the end")
    // The session is an hour old (same-length times, so the parent's reader is not thrown off):
    // a fork copies its records with their times, so a fork is not found by time.
    const file = join(homes, "qwen", "projects", cwd.replace(/[^a-zA-Z0-9]/g, "-"), "chats")
    const sessionFile = join(file, `${sessionId}.jsonl`)
    writeFileSync(
      sessionFile,
      readFileSync(sessionFile, "utf8").replace(
        /"timestamp":"([^"]+)"/g,
        (_, at: string) => `"timestamp":"${new Date(Date.parse(at) - 3_600_000).toISOString()}"`,
      ),
    )

    const fork = async () => {
      const forked = await server.start({
        provider: "qwen",
        resume: { runnerId: parent.id, fork: true },
        prompt: "another way",
      })
      expect(forked.parentId).toBe(parent.id)
      expect(await argvOf(forked.id)).toEqual([
        `--resume=${sessionId}`,
        "--fork-session",
        "--prompt-interactive=another way",
      ])
      return waitFor(async () => {
        const t = await transcriptOf(forked.id)
        return t.entries.some((e) => e.text === "go on") ? t : undefined
      }, "the fork's new line")
    }
    const first = await fork()
    // Its own id; the history it was forked with, then its own turn.
    expect(first.sessionId).not.toBe(sessionId)
    expect(first.entries.map((e) => e.tool ?? e.text)).toEqual([
      "list the files",
      "I'll list them.",
      "run_shell_command",
      "run_shell_command",
      "go on",
      "Going on.",
    ])
    // Its usage is its own turn's: the copied records keep their old times.
    const own = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 }
    expect(first.usage).toEqual({ ...own, unpricedTokens: 15 })
    // A second fork of the same session is another file, not the first fork's.
    const second = await fork()
    expect(second.sessionId).not.toBe(sessionId)
    expect(second.sessionId).not.toBe(first.sessionId)
    // The parent's session is as it was.
    const parentRead = await transcriptOf(parent.id)
    expect(parentRead.entries.some((e) => e.text === "go on")).toBe(false)
    expect(parentRead.usage).toMatchObject({ inputTokens: 400, outputTokens: 50 })
  })
})

const transcriptOf = (id: string) => transcriptOfRun(server, id)
const argvOf = (id: string) => printedArgv(server, id)
