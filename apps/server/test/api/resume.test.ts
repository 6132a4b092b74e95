import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TranscriptResponse } from "@geppetto/protocol"
import { runnerEnvironment } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { printedArgv, transcriptOf } from "../helpers/fake-agents.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

/*
 * Resume and fork end to end: a real server and tmux, and a fake `claude` / `codex` on the
 * runners' PATH that prints its argv, so what the new runner ran is read back from its log.
 */

let server: TestServer
let bin: string
let codexHome: string

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "geppetto-resume-bin-"))
  codexHome = mkdtempSync(join(tmpdir(), "geppetto-resume-codex-"))
  copyFileSync(new URL("../fixtures/argv-agent.sh", import.meta.url), join(bin, "claude"))
  copyFileSync(new URL("../fixtures/codex-agent.sh", import.meta.url), join(bin, "codex"))
  server = await startServer({
    runner: {
      environment: runnerEnvironment({
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        CODEX_HOME: codexHome,
      }),
    },
  })
}, 60_000)
afterAll(async () => {
  await server?.close()
  rmSync(bin, { recursive: true, force: true })
  rmSync(codexHome, { recursive: true, force: true })
})

/** The argv the fake agent printed, once the runner has ended (the hooks' arguments left out). */
const argvOf = async (id: string): Promise<string[]> => {
  const argv = await printedArgv(server, id)
  // The hooks: Claude Code's `--settings FILE`, Codex's `-c notify=[...]`.
  return argv[0] === "--settings" || (argv[0] === "-c" && argv[1]?.startsWith("notify=") === true)
    ? argv.slice(2)
    : argv
}

describe("POST /api/runners with resume", () => {
  it("continues a finished Claude session with --resume, and forks it with --fork-session", async () => {
    const parent = await server.start({ provider: "claude", cwd: server.dataDir, prompt: "first" })
    const parentArgv = await argvOf(parent.id)
    const sessionId = parentArgv[parentArgv.indexOf("--session-id") + 1] ?? ""
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/)

    const continued = await server.start({
      provider: "claude",
      resume: { runnerId: parent.id },
      prompt: "go on; $(touch /tmp/never) 'quoted'",
    })
    expect(continued.parentId).toBe(parent.id)
    expect(continued.cwd).toBe(parent.cwd)
    expect(await argvOf(continued.id)).toEqual([
      "--resume",
      sessionId,
      "--",
      "go on; $(touch /tmp/never) 'quoted'",
    ])

    const forked = await server.start({
      provider: "claude",
      resume: { runnerId: parent.id, fork: true },
    })
    expect(forked.parentId).toBe(parent.id)
    const forkArgv = await argvOf(forked.id)
    expect(forkArgv.slice(0, 3)).toEqual(["--resume", sessionId, "--fork-session"])
    expect(forkArgv[3]).toBe("--session-id")
    expect(forkArgv[4]).toMatch(/^[0-9a-f-]{36}$/)
    expect(forkArgv[4]).not.toBe(sessionId)
    // The continued runner keeps the session: it resumes again under the same id.
    const again = await server.start({ provider: "claude", resume: { runnerId: continued.id } })
    expect((await argvOf(again.id)).slice(0, 2)).toEqual(["--resume", sessionId])
    // The link is on the list too.
    const list = (await server.get("/api/runners")).json() as Array<{
      id: string
      parentId?: string
    }>
    expect(list.find((r) => r.id === forked.id)?.parentId).toBe(parent.id)
  })

  it("continues a finished Codex session with `codex resume ID`, the id its rollout was matched by", async () => {
    const parent = await server.start({ provider: "codex", cwd: server.dataDir, prompt: "first" })
    expect(await argvOf(parent.id)).toEqual(["--", "first"])
    // Codex picks its own id: known once the transcript reader has matched its rollout.
    const transcript = await transcriptOf(server, parent.id, "the parent's rollout matched")
    const files = readdirSync(join(codexHome, "sessions"), { recursive: true }).map(String)
    const rollout = files.find((f) => f.endsWith(`-${transcript.sessionId}.jsonl`))
    expect(rollout, files.join(", ")).toBeDefined()
    expect(transcript.sessionId).toMatch(/^[0-9a-f-]{36}$/)

    const prompt = "go on; $(touch /tmp/never) 'quoted'"
    const continued = await server.start({
      provider: "codex",
      resume: { runnerId: parent.id },
      prompt,
    })
    expect(continued.parentId).toBe(parent.id)
    expect(continued.cwd).toBe(parent.cwd)
    expect(await argvOf(continued.id)).toEqual(["resume", transcript.sessionId, "--", prompt])
    // The continued runner keeps the session (and reads the same rollout): it resumes again.
    const again = await server.start({ provider: "codex", resume: { runnerId: continued.id } })
    expect(await argvOf(again.id)).toEqual(["resume", transcript.sessionId])
    const read = await server.get(`/api/runners/${continued.id}/transcript`)
    expect(read.statusCode, read.body).toBe(200)
    expect(TranscriptResponse.parse(read.json()).sessionId).toBe(transcript.sessionId)
    // Codex has no fork.
    const fork = await server.post("/api/runners", {
      provider: "codex",
      resume: { runnerId: parent.id, fork: true },
    })
    expect(fork.statusCode).toBe(400)
  })

  it("refuses what cannot be resumed with 400, starting nothing", async () => {
    const live = await server.start({ provider: "shell", command: ["sh", "-c", "exec sleep 600"] })
    const done = await server.start({ provider: "shell", command: ["sh", "-c", "exit 0"] })
    await waitFor(async () => (await server.runner(done.id)).status === "completed", "done")
    const claudeDone = await server.start({ provider: "claude", cwd: server.dataDir, prompt: "x" })
    await argvOf(claudeDone.id)
    const before = ((await server.get("/api/runners")).json() as unknown[]).length
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ provider: "shell", resume: { runnerId: done.id } }, /shell cannot resume/],
      [{ provider: "claude", resume: { runnerId: "no-such-runner" } }, /no runner/],
      [{ provider: "claude", resume: { runnerId: live.id } }, /shell, not claude|still running/],
      [{ provider: "codex", resume: { runnerId: claudeDone.id, fork: true } }, /codex cannot fork/],
      [{ provider: "codex", resume: { runnerId: claudeDone.id } }, /ran claude, not codex/],
      [
        { provider: "claude", resume: { runnerId: claudeDone.id }, cwd: "/tmp" },
        /cwd cannot be set/,
      ],
      [{ provider: "claude", resume: { runnerId: claudeDone.id, extra: 1 } }, /resume/],
      [{ provider: "claude", resume: { runnerId: "../etc" } }, /resume\.runnerId/],
    ]
    for (const [body, message] of cases) {
      const reply = await server.post("/api/runners", body)
      expect(reply.statusCode, JSON.stringify(body)).toBe(400)
      expect(reply.body, JSON.stringify(body)).toMatch(message)
    }
    expect(((await server.get("/api/runners")).json() as unknown[]).length).toBe(before)
  })
})
