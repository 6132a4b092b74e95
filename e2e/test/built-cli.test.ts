import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot, TestServer, waitFor } from "./helpers/server.js"

const dist = join(repoRoot, "apps/server/dist")

/**
 * The built `geppetto` command line as users run it (`pnpm geppetto`, the Docker image). The
 * server's CLI tests run the build only when it is newer than the sources, and the sources
 * otherwise: this file always runs the build, so a bundle whose chunks do not load and find
 * each other fails here whatever the state of the checkout.
 */
describe("the built command line", () => {
  const server = new TestServer()
  const home = mkdtempSync(join(tmpdir(), "geppetto-built-cli-"))

  const geppetto = (args: ReadonlyArray<string>) => {
    const result = spawnSync(process.execPath, [join(dist, "main.js"), ...args], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        HOME: home,
        GEPPETTO_URL: server.url,
        GEPPETTO_TOKEN: server.operatorToken,
      },
      timeout: 60_000,
    })
    return { code: result.status, out: result.stdout, err: result.stderr }
  }

  beforeAll(() => server.start())
  afterAll(async () => {
    await server.stop()
    rmSync(home, { recursive: true, force: true })
  })

  it("is split by command: main.js is small and loads a command's chunk when it runs", () => {
    const main = statSync(join(dist, "main.js")).size
    const chunks = readdirSync(dist).filter((f) => f.endsWith(".js") && f !== "main.js")
    // One file held the whole server (6 MB) and every command compiled it: `ls` took twice
    // as long. The dispatcher alone is a few kB.
    expect(main).toBeLessThan(100_000)
    expect(chunks.length).toBeGreaterThan(1)
    expect(geppetto(["--version"])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^geppetto \d/),
    })
  })

  it("starts a runner, lists it and prints its output, through the server", async () => {
    const run = geppetto([
      "run",
      "--name",
      "built-cli",
      "shell",
      "--",
      "sh",
      "-c",
      "echo built-cli-ok; sleep 60",
    ])
    expect(run.err).toBe("")
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/^run-\S+ built-cli\n$/)

    const listed = geppetto(["ls", "--json"])
    expect(listed.code).toBe(0)
    const runners = JSON.parse(listed.out) as Array<{ name: string; status: string }>
    expect(runners.map((r) => r.name)).toEqual(["built-cli"])

    const logs = await waitFor(() => {
      const out = geppetto(["logs", "built-cli"])
      return out.out.includes("built-cli-ok") && out
    }, "the runner's output in `geppetto logs`")
    expect(logs.code).toBe(0)

    expect(geppetto(["rm", "built-cli"]).code).toBe(0)
    expect(JSON.parse(geppetto(["ls", "--json"]).out)).toEqual([])
  })
})
