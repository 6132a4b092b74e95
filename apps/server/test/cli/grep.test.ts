import { SearchStreamLine } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliServer, cliEnv, runCli, startCliServer, waitFor } from "./harness.js"

// Every step is a real `node` child through tsx: seconds each on a loaded 2-core machine.
describe("geppetto grep", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  const logOf = async (name: string) => {
    const response = await fetch(`${world.url}/api/runners`, {
      headers: { authorization: `Bearer ${world.operator}` },
    })
    const runners = (await response.json()) as Array<{ id: string; name: string; status: string }>
    return runners.find((r) => r.name === name)
  }

  it("prints runner:offset: line for each hit, the offset being the log's byte", async () => {
    for (const [name, script] of [
      ["greppy", "printf 'one \\033[1mGrep\\033[0mMe here\\n'; echo tail"],
      ["other", "echo 'nothing to see'; echo 'and grepme too'"],
    ] as const) {
      const started = await runCli(["run", "--name", name, "shell", "--", "sh", "-c", script], env)
      expect(started.code, started.stderr).toBe(0)
      await waitFor(async () => (await logOf(name))?.status === "completed", `${name} to end`)
    }
    const all = await runCli(["grep", "grepme"], env)
    expect(all.code, all.stderr).toBe(0)
    const lines = all.out.trimEnd().split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^other:\d+: and grepme too$/)
    expect(lines[1]).toMatch(/^greppy:\d+: one GrepMe here$/)
    const offset = Number(/^greppy:(\d+):/.exec(lines[1] ?? "")?.[1])
    const runner = await logOf("greppy")
    const log = await fetch(`${world.url}/api/runners/${runner?.id}/log?from=${offset}`, {
      headers: { authorization: `Bearer ${world.operator}` },
    })
    expect((await log.text()).startsWith("Grep")).toBe(true)

    const one = await runCli(["grep", "--runner", "greppy", "-n", "1", "GREPME", "--json"], env)
    expect(one.code, one.stderr).toBe(0)
    const json = one.out
      .trimEnd()
      .split("\n")
      .map((l) => SearchStreamLine.parse(JSON.parse(l)))
    expect(json.map((l) => l.type)).toEqual(["hit", "end"])
    expect(json[0]).toMatchObject({ name: "greppy", offset })

    const none = await runCli(["grep", "no such text anywhere"], env)
    expect(none.code).toBe(1)
    expect(none.out).toBe("")
  })

  it("refuses bad arguments with exit 2 and an unknown runner with exit 5", async () => {
    for (const args of [
      ["grep"],
      ["grep", "x"],
      ["grep", "ok", "-n", "0"],
      ["grep", "ok", "-n", "5000"],
    ]) {
      expect((await runCli(args, env)).code, args.join(" ")).toBe(2)
    }
    expect((await runCli(["grep", "--runner", "nobody-here", "ok"], env)).code).toBe(5)
  })
})
