import { RunnerDetail } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliServer, cliEnv, runCli, startCliServer } from "./harness.js"

describe("geppetto run --auto-approve", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  it("sends each pattern (repeatable) and refuses one that does not compile with exit 2", async () => {
    const started = await runCli(
      [
        "run",
        "--json",
        "--auto-approve",
        "npm (test|run lint)",
        "--auto-approve",
        "make",
        "shell",
        "--",
        "true",
      ],
      env,
    )
    expect(started.code, started.stderr).toBe(0)
    expect(RunnerDetail.parse(JSON.parse(started.out)).autoApprove).toEqual({
      allow: ["npm (test|run lint)", "make"],
    })
    const bad = await runCli(["run", "--auto-approve", "(", "shell", "--", "true"], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--auto-approve")
  })
})
