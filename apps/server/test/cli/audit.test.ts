import { AuditEntry } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliServer, cliEnv, runCli, startCli, startCliServer, waitFor } from "./harness.js"

// Every step is a real `node` child through tsx: seconds each on a loaded 2-core machine.
describe("geppetto audit", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  it("prints the trail oldest first, filtered by runner (id, name, or a removed one's id) and user", async () => {
    const started = await runCli(
      ["run", "--name", "audited", "shell", "--", "sh", "-c", "exec sleep 600"],
      env,
    )
    expect(started.code, started.stderr).toBe(0)
    const id = /\b(run-[A-Za-z0-9]+)\b/.exec(started.out + started.stderr)?.[1] ?? ""
    expect(id).not.toBe("")
    expect((await runCli(["send", "audited", "hello"], env)).code).toBe(0)

    const byName = await runCli(["audit", "--runner", "audited"], env)
    expect(byName.code, byName.stderr).toBe(0)
    const lines = byName.out.trimEnd().split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  owner\\s+runner\\.start\\s+${id}\\s+audited \\(shell, interactive\\)$`,
      ),
    )
    expect(lines[1]).toMatch(/owner\s+runner\.input\s+\S+\s+\d+ bytes$/)
    expect(lines.join("\n")).not.toContain("hello")

    expect((await runCli(["rm", "audited"], env)).code).toBe(0)
    const removed = await runCli(["audit", "--runner", id, "--json"], env)
    expect(removed.code, removed.stderr).toBe(0)
    const entries = removed.out
      .trimEnd()
      .split("\n")
      .map((l) => AuditEntry.parse(JSON.parse(l)))
    expect(entries.map((e) => e.action).slice(0, 2)).toEqual(["runner.start", "runner.input"])
    expect(entries.at(-1)?.action).toBe("runner.remove")

    const limited = await runCli(["audit", "-n", "1", "--user", "owner"], env)
    expect(limited.out.trimEnd().split("\n")).toHaveLength(1)
    expect(limited.out).toContain("runner.remove")
    expect((await runCli(["audit", "--user", "nobody"], env)).out).toBe("")
  })

  it("refuses bad flags with exit 2 and a viewer with exit 4", async () => {
    for (const args of [
      ["audit", "-n", "0"],
      ["audit", "-n", "1001"],
      ["audit", "--action", "runner.explode"],
      ["audit", "extra"],
    ]) {
      const result = await runCli(args, env)
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2)
    }
    const viewer = await runCli(["audit"], { ...env, GEPPETTO_TOKEN: world.viewer })
    expect(viewer.code).toBe(4)
  })

  it("follows: the newest entries, then each new one as it happens", async () => {
    const live = startCli(["audit", "-f", "-n", "1"], env)
    try {
      await waitFor(() => live.stdout().toString().split("\n").length >= 2, "the backlog line")
      const started = await runCli(["run", "--name", "followed", "shell", "--", "true"], env)
      expect(started.code, started.stderr).toBe(0)
      await waitFor(
        () => /runner\.start\s+\S+\s+followed/.test(live.stdout().toString()),
        () => `the new entry; got ${live.stdout().toString()} ${live.stderr()}`,
      )
      expect(live.stdout().toString().trimEnd().split("\n")).toHaveLength(2)
    } finally {
      live.child.kill("SIGINT")
      await live.exited
    }
  })
})
