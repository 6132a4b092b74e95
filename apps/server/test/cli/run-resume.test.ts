import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliServer, cliEnv, runCli, startCliServer, waitFor } from "./harness.js"

// A fake `claude` that prints its argv, on the PATH the server gives its runners.
describe("geppetto run --resume", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv
  let bin: string

  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), "geppetto-cli-resume-bin-"))
    copyFileSync(new URL("../fixtures/argv-agent.sh", import.meta.url), join(bin, "claude"))
    const path = process.env.PATH
    process.env.PATH = `${bin}:${path ?? ""}`
    try {
      world = await startCliServer()
    } finally {
      process.env.PATH = path
    }
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
    rmSync(bin, { recursive: true, force: true })
  })

  const api = async (path: string) =>
    (
      await fetch(`${world.url}${path}`, {
        headers: { authorization: `Bearer ${world.operator}` },
      })
    ).json() as Promise<{ id: string; status: string; parentId?: string }>
  const logOf = async (id: string) =>
    (
      await fetch(`${world.url}/api/runners/${id}/log`, {
        headers: { authorization: `Bearer ${world.operator}` },
      })
    ).text()

  it("starts a runner that forks the parent's session, linked to it", async () => {
    const first = await runCli(["run", "--name", "parent", "claude", "first"], env)
    expect(first.code, first.stderr).toBe(0)
    const parentId = first.out.split(" ")[0] ?? ""
    await waitFor(
      async () => (await api(`/api/runners/${parentId}`)).status === "completed",
      "parent to end",
    )
    const session = /arg:--session-id\r?\narg:([0-9a-f-]{36})/.exec(await logOf(parentId))?.[1]
    expect(session).toBeDefined()

    const forked = await runCli(["run", "--resume", "parent", "--fork", "next step"], env)
    expect(forked.code, forked.stderr).toBe(0)
    const childId = forked.out.split(" ")[0] ?? ""
    expect((await api(`/api/runners/${childId}`)).parentId).toBe(parentId)
    await waitFor(async () => (await logOf(childId)).includes("ARGV-END"), "the child's argv")
    const log = (await logOf(childId)).replace(/\r/g, "")
    expect(log).toContain(`arg:--resume\narg:${session}\narg:--fork-session\narg:--session-id\n`)
    expect(log).toContain("arg:--\narg:next step\n")
  })

  it("refuses --fork without --resume, and --cwd or a command with it (exit 2)", async () => {
    for (const args of [
      ["run", "--fork", "claude"],
      ["run", "--resume", "parent", "--cwd", "/tmp"],
      ["run", "--resume", "parent", "--", "sh"],
    ]) {
      expect((await runCli(args, env)).code, args.join(" ")).toBe(2)
    }
  })
})
