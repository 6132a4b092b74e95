import { readFileSync } from "node:fs"
import { join } from "node:path"
import { UserInfo } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { z } from "zod"
import { type CliServer, cliEnv, runCli, startCliServer } from "./harness.js"

// Every step is a real `node` child through tsx: seconds each on a loaded 2-core machine.
describe("geppetto users", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  const me = async (token: string) =>
    fetch(`${world.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  it("adds a user (token and login link printed once), lists, changes the role, removes", async () => {
    const added = await runCli(["users", "add", "alice", "--role", "operator"], env)
    expect(added.stderr).toContain("shown this once")
    expect(added.code).toBe(0)
    const token = /^token: (\S+)$/m.exec(added.out)?.[1] ?? ""
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(added.out).toContain(`login: ${world.url}/?token=${token}`)
    expect(await (await me(token)).json()).toEqual({ user: "alice", role: "operator" })
    // Only its hash is on disk.
    expect(readFileSync(join(world.dataDir, "users.json"), "utf8")).not.toContain(token)

    const listed = await runCli(["users", "ls"], env)
    expect(listed.code).toBe(0)
    expect(listed.out.split("\n")[0]).toMatch(/^NAME\s+ROLE\s+ADDED\s+LAST SEEN$/)
    expect(listed.out).toMatch(/^alice\s+operator\s/m)
    expect(listed.out).toMatch(/^owner \(built-in\)\s+admin\s/m)
    const json = await runCli(["users", "ls", "--json"], env)
    const users = z.array(UserInfo).parse(JSON.parse(json.out))
    expect(users.map((u) => u.name).sort()).toEqual(["alice", "owner", "viewer"])

    const role = await runCli(["users", "role", "alice", "viewer"], env)
    expect(role.code).toBe(0)
    expect(role.out).toBe("alice is now viewer\n")
    expect(await (await me(token)).json()).toEqual({ user: "alice", role: "viewer" })

    // A viewer (and so now alice) cannot manage users: exit 4.
    const asAlice = await runCli(["users", "ls"], { ...env, GEPPETTO_TOKEN: token })
    expect(asAlice.code).toBe(4)
    expect(asAlice.stderr).toContain("forbidden")

    const removed = await runCli(["users", "rm", "alice"], env)
    expect(removed.code).toBe(0)
    expect((await me(token)).status).toBe(401)
    const gone = await runCli(["users", "rm", "alice"], env)
    expect(gone.code).toBe(5)
  })

  it("refuses bad names, roles and verbs (2) and a taken name (1)", async () => {
    for (const args of [
      ["users", "add", "../x", "--role", "viewer"],
      ["users", "add", "bob"],
      ["users", "add", "bob", "--role", "root"],
      ["users", "frob"],
      ["users"],
      ["users", "rm", "owner"],
    ]) {
      const result = await runCli(args, env)
      expect(result.code, args.join(" ")).toBe(2)
    }
    expect((await runCli(["users", "add", "bob", "--role", "viewer"], env)).code).toBe(0)
    const taken = await runCli(["users", "add", "bob", "--role", "viewer"], env)
    expect(taken.code).toBe(1)
    expect(taken.stderr).toContain("exists")
  })
})
