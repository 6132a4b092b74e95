import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AuditResponse, ErrorResponse, GitWorkTree, WorkspaceDiff } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliServer, cliEnv, runCli, startCliServer } from "../cli/harness.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-C", cwd, ...args], { encoding: "utf8" }).trim()

/** A repository with `notes.txt` on `main`, in `dir`. */
const makeRepo = (dir: string) => {
  const repo = join(dir, "repo")
  mkdirSync(repo)
  git(repo, "init", "-q", "-b", "main")
  git(repo, "config", "user.name", "Test")
  git(repo, "config", "user.email", "test@example.com")
  writeFileSync(join(repo, "notes.txt"), "one\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-q", "-m", "initial")
  return repo
}

/** A shell runner in its own worktree that runs `script` there and ends. */
const inWorktree = (repo: string, name: string, script: string) => ({
  provider: "shell",
  mode: "oneshot",
  command: ["sh", "-c", script],
  cwd: repo,
  name,
  worktree: true,
})

describe("workspace routes (real server, tmux and git)", () => {
  let server: TestServer
  let repo: string
  beforeAll(async () => {
    server = await startServer()
    repo = makeRepo(server.dataDir)
  })
  afterAll(async () => {
    await server.close()
  })

  const finished = (id: string) =>
    waitFor(async () => {
      const detail = await server.runner(id)
      return detail.status !== "running" && detail
    }, `runner ${id} to end`)

  it("diff, commit and merge of a runner's own worktree; viewers read but cannot change", async () => {
    const started = await server.start(inWorktree(repo, "writer", "printf 'two\\n' >> notes.txt"))
    expect(started.workspace).toMatchObject({ branch: "geppetto/writer", isolated: true })
    await finished(started.id)
    // Counted once more when the runner ended, just after it.
    const counted = await waitFor(async () => {
      const detail = await server.runner(started.id)
      return detail.workspace?.additions !== undefined && detail.workspace
    }, "the runner's +N -M")
    expect(counted).toMatchObject({ additions: 1, deletions: 0 })

    const diff = await server.get(`/api/runners/${started.id}/diff`, "viewer")
    expect(diff.statusCode).toBe(200)
    const parsed = WorkspaceDiff.parse(diff.json())
    expect(parsed.files).toEqual([
      { path: "notes.txt", status: "modified", additions: 1, deletions: 0 },
    ])
    expect(parsed.patch).toContain("+two")
    const stat = WorkspaceDiff.parse(
      (await server.get(`/api/runners/${started.id}/diff?stat=1`)).json(),
    )
    expect(stat.patch).toBe("")
    expect(stat.files).toHaveLength(1)

    expect(
      (await server.post(`/api/runners/${started.id}/commit`, { message: "x" }, "viewer"))
        .statusCode,
    ).toBe(403)
    expect((await server.post(`/api/runners/${started.id}/merge`, {}, "viewer")).statusCode).toBe(
      403,
    )
    expect(
      (await server.post(`/api/runners/${started.id}/commit`, { message: "" })).statusCode,
    ).toBe(400)
    expect(
      (await server.post(`/api/runners/${started.id}/merge`, { into: "--upload-pack=x" }))
        .statusCode,
    ).toBe(400)

    const committed = await server.post(`/api/runners/${started.id}/commit`, { message: "two" })
    expect(committed.statusCode).toBe(200)
    const again = await server.post(`/api/runners/${started.id}/commit`, { message: "again" })
    expect(again.statusCode).toBe(409)
    expect(ErrorResponse.parse(again.json()).error.code).toBe("GitOperationError")

    const merged = await server.post(`/api/runners/${started.id}/merge`, { strategy: "squash" })
    expect(merged.statusCode).toBe(200)
    expect(git(repo, "rev-parse", "main")).toBe(merged.json().commit)
    expect(readFileSync(join(repo, "notes.txt"), "utf8")).toBe("one\ntwo\n")
    expect(git(repo, "status", "--porcelain")).toBe("")

    // The trail has the commit and the merge (the refused ones are not in it), by the owner.
    const trail = await server.get(`/api/audit?runner=${started.id}`, "operator")
    expect(trail.statusCode, trail.body).toBe(200)
    const entries = AuditResponse.parse(trail.json()).entries
    expect(entries.map((e) => [e.action, e.user])).toEqual([
      ["workspace.merge", "owner"],
      ["workspace.commit", "owner"],
      ["runner.start", "owner"],
    ])
    expect(entries[0]?.detail).toBe(
      `${merged.json().commit.slice(0, 12)} into its base branch (squash)`,
    )
    expect(entries[1]?.detail).toBe(`${committed.json().commit.slice(0, 12)} two`)
  })

  it("a conflicting merge is a 409 that names the files and changes nothing", async () => {
    const started = await server.start(
      inWorktree(
        repo,
        "clash",
        "printf 'mine\\n' > notes.txt && git add -A && git -c user.name=a -c user.email=a@b commit -qm mine",
      ),
    )
    await finished(started.id)
    writeFileSync(join(repo, "notes.txt"), "theirs\n")
    git(repo, "commit", "-qam", "theirs")
    const before = {
      main: git(repo, "rev-parse", "main"),
      branch: git(repo, "rev-parse", "geppetto/clash"),
      index: readFileSync(join(repo, ".git", "index")),
      file: readFileSync(join(repo, "notes.txt"), "utf8"),
    }
    const refused = await server.post(`/api/runners/${started.id}/merge`, {})
    expect(refused.statusCode).toBe(409)
    const body = ErrorResponse.parse(refused.json())
    expect(body.error.code).toBe("GitOperationError")
    expect(body.error.conflicts).toEqual(["notes.txt"])
    expect(git(repo, "rev-parse", "main")).toBe(before.main)
    expect(git(repo, "rev-parse", "geppetto/clash")).toBe(before.branch)
    expect(readFileSync(join(repo, ".git", "index")).equals(before.index)).toBe(true)
    expect(readFileSync(join(repo, "notes.txt"), "utf8")).toBe(before.file)
  })

  it("a runner outside git has no diff (404); GET /api/git tells repositories apart, for operators", async () => {
    const plain = await server.start({
      provider: "shell",
      mode: "oneshot",
      command: ["true"],
      cwd: server.dataDir,
    })
    expect((await server.get(`/api/runners/${plain.id}/diff`)).statusCode).toBe(404)
    const bad = await server
      .start({ ...inWorktree(server.dataDir, "nogit", "true") })
      .catch((e: Error) => e.message)
    expect(bad).toMatch(/^start .*: 400 /)

    const found = await server.get(`/api/git?cwd=${encodeURIComponent(repo)}`, "operator")
    expect(found.statusCode).toBe(200)
    expect(GitWorkTree.parse(found.json())).toEqual({ repo, path: repo, branch: "main" })
    expect(
      (await server.get(`/api/git?cwd=${encodeURIComponent(server.dataDir)}`, "operator"))
        .statusCode,
    ).toBe(404)
    expect(
      (await server.get(`/api/git?cwd=${encodeURIComponent(repo)}`, "viewer")).statusCode,
    ).toBe(403)
    expect((await server.get("/api/git?cwd=relative", "operator")).statusCode).toBe(400)
  })
})

describe("geppetto run --worktree, diff, commit, merge", () => {
  let server: CliServer
  beforeAll(async () => {
    server = await startCliServer()
  })
  afterAll(async () => {
    await server.close()
  })

  it("the CLI verbs drive the same workspace", async () => {
    const repo = makeRepo(server.home.replace(/home$/, ""))
    const env = cliEnv(server.home, { GEPPETTO_URL: server.url, GEPPETTO_TOKEN: server.operator })
    const started = await runCli(
      [
        "run",
        "--cwd",
        repo,
        "--name",
        "cli-ws",
        "--branch",
        "feature/cli",
        "--mode",
        "oneshot",
        "shell",
        "--",
        "sh",
        "-c",
        "printf 'cli\\n' > cli.txt",
      ],
      env,
    )
    expect(started.code, started.stderr).toBe(0)
    await waitFor(async () => {
      const ls = await runCli(["ls", "--json"], env)
      return ls.out.includes('"completed"') && ls
    }, "cli-ws to complete")

    const stat = await runCli(["diff", "--stat", "cli-ws"], env)
    expect(stat.code, stat.stderr).toBe(0)
    expect(stat.out).toContain("A +1 -0")
    expect(stat.out).toContain("cli.txt")
    const patch = await runCli(["diff", "cli-ws"], env)
    expect(patch.out).toContain("+cli")

    expect((await runCli(["commit", "cli-ws"], env)).code).toBe(2)
    const committed = await runCli(["commit", "cli-ws", "-m", "add cli.txt"], env)
    expect(committed.code, committed.stderr).toBe(0)
    expect(git(repo, "log", "-1", "--format=%s", "feature/cli")).toBe("add cli.txt")
    const merged = await runCli(["merge", "cli-ws", "--squash", "--into", "main"], env)
    expect(merged.code, merged.stderr).toBe(0)
    expect(git(repo, "rev-parse", "main")).toBe(merged.out.trim())
    expect(git(repo, "show", "main:cli.txt")).toBe("cli")
  })
})
