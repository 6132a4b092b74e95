import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { git, makeRepo, snapshot, world, write } from "./helpers.js"

describe("workspaces: worktrees", () => {
  it.scopedLive(
    "inspect tells the main work tree, a linked one, a subfolder, a bare repo and no repo",
    () =>
      Effect.gen(function* () {
        const { root, repo, ws } = yield* world
        mkdirSync(join(repo, "src", "deep"), { recursive: true })
        const head = git(repo, "rev-parse", "HEAD")
        expect(yield* ws.inspect(join(repo, "src", "deep"))).toEqual({
          repo,
          path: repo,
          branch: "main",
          headCommit: head,
        })
        const created = yield* ws.create({ cwd: repo, runnerId: "r1", name: "one" })
        expect(yield* ws.inspect(created.path)).toEqual({
          repo,
          path: created.path,
          branch: "geppetto/one",
          headCommit: head,
        })
        git(root, "init", "--quiet", "--bare", join(root, "bare.git"))
        expect(yield* ws.inspect(join(root, "bare.git"))).toBeUndefined()
        expect(yield* ws.inspect(join(repo, ".git"))).toBeUndefined()
        expect(yield* ws.inspect(root)).toBeUndefined()
        expect(yield* ws.inspect(join(root, "no-such-folder"))).toBeUndefined()
      }),
  )

  it.scopedLive("describe: a runner in an existing work tree, on a branch or detached", () =>
    Effect.gen(function* () {
      const { repo, ws } = yield* world
      const head = git(repo, "rev-parse", "HEAD")
      expect(yield* ws.describe(repo)).toEqual({
        repo,
        path: repo,
        branch: "main",
        base: "main",
        baseCommit: head,
        isolated: false,
      })
      git(repo, "checkout", "--quiet", "--detach")
      expect(yield* ws.describe(repo)).toMatchObject({ branch: "", base: head, baseCommit: head })
    }),
  )

  it.scopedLive(
    "create: a worktree on geppetto/NAME under DATA_DIR/worktrees, from the current branch",
    () =>
      Effect.gen(function* () {
        const { dataDir, repo, ws } = yield* world
        const head = git(repo, "rev-parse", "HEAD")
        const created = yield* ws.create({ cwd: join(repo), runnerId: "r-1", name: "fix the bug" })
        expect(created).toEqual({
          repo,
          path: join(dataDir, "worktrees", "r-1"),
          branch: "geppetto/fix-the-bug",
          base: "main",
          baseCommit: head,
          isolated: true,
        })
        expect(git(created.path, "rev-parse", "--abbrev-ref", "HEAD")).toBe("geppetto/fix-the-bug")
        expect(yield* ws.exists(created)).toBe(true)
        // From a detached HEAD the base is the commit; an explicit base and branch are kept.
        write(join(repo, "b.txt"), "b\n")
        git(repo, "add", "b.txt")
        git(repo, "commit", "--quiet", "-m", "b")
        git(repo, "checkout", "--quiet", "--detach", "HEAD")
        const second = yield* ws.create({ cwd: repo, runnerId: "r-2", name: "two" })
        expect(second.base).toBe(git(repo, "rev-parse", "HEAD"))
        const third = yield* ws.create({
          cwd: repo,
          runnerId: "r-3",
          name: "x",
          branch: "feature/three",
          base: head,
        })
        expect(third).toMatchObject({ branch: "feature/three", base: head, baseCommit: head })
        expect(existsSync(join(third.path, "b.txt"))).toBe(false)
      }),
  )

  it.scopedLive("an existing branch is refused and nothing is created", () =>
    Effect.gen(function* () {
      const { dataDir, repo, ws } = yield* world
      git(repo, "branch", "geppetto/x")
      const before = snapshot(repo)
      const error = yield* Effect.flip(ws.create({ cwd: repo, runnerId: "r1", name: "x" }))
      expect(error._tag).toBe("GitOperationError")
      expect(error.message).toContain("branch geppetto/x already exists")
      expect(snapshot(repo)).toEqual(before)
      expect(existsSync(join(dataDir, "worktrees", "r1"))).toBe(false)
    }),
  )

  it.scopedLive("hostile branch names, bases and runner ids are refused before git runs", () =>
    Effect.gen(function* () {
      const { repo, ws, log } = yield* world
      const before = snapshot(repo)
      log.calls.length = 0
      const branches = [
        "-x",
        "a..b",
        "--upload-pack=x",
        "a b",
        "x".repeat(10 * 1024),
        "a/",
        "@{-1}",
        "x.lock",
        "a\0b",
      ]
      for (const branch of branches) {
        const error = yield* Effect.flip(
          ws.create({ cwd: repo, runnerId: "r1", name: "n", branch }),
        )
        expect(error).toMatchObject({ _tag: "ValidationError", field: "branch" })
      }
      for (const base of ["--output=/tmp/x", "a..b", "HEAD@{1}"]) {
        const error = yield* Effect.flip(ws.create({ cwd: repo, runnerId: "r1", name: "n", base }))
        expect(error).toMatchObject({ _tag: "ValidationError", field: "base" })
      }
      for (const runnerId of ["..", ".", "../x", "a/b", "", "x".repeat(65)]) {
        const error = yield* Effect.flip(ws.create({ cwd: repo, runnerId, name: "n" }))
        expect(error).toMatchObject({ _tag: "ValidationError", field: "runnerId" })
      }
      expect(log.calls).toEqual([])
      expect(snapshot(repo)).toEqual(before)
    }),
  )

  it.scopedLive(
    "a cwd outside any repo, a bare repo, a repo with no commit and an unknown base are refused",
    () =>
      Effect.gen(function* () {
        const { root, repo, ws } = yield* world
        const outside = yield* Effect.flip(ws.create({ cwd: root, runnerId: "r1", name: "n" }))
        expect(outside).toMatchObject({ _tag: "ValidationError", field: "cwd" })
        expect(outside.message).toContain("not in a git work tree")
        git(root, "init", "--quiet", "--bare", join(root, "bare.git"))
        const bare = yield* Effect.flip(
          ws.create({ cwd: join(root, "bare.git"), runnerId: "r1", name: "n" }),
        )
        expect(bare).toMatchObject({ _tag: "ValidationError", field: "cwd" })
        expect(bare.message).toContain("bare repository")
        git(root, "init", "--quiet", join(root, "empty"))
        const empty = yield* Effect.flip(
          ws.create({ cwd: join(root, "empty"), runnerId: "r1", name: "n" }),
        )
        expect(empty.message).toContain("no commit yet")
        const base = yield* Effect.flip(
          ws.create({ cwd: repo, runnerId: "r1", name: "n", base: "nope" }),
        )
        expect(base).toMatchObject({ _tag: "ValidationError", field: "base" })
        const relative = yield* Effect.flip(ws.create({ cwd: "repo", runnerId: "r1", name: "n" }))
        expect(relative).toMatchObject({ _tag: "ValidationError", field: "cwd" })
        expect(git(repo, "branch", "--list")).toBe("* main")
      }),
  )

  it.scopedLive("a failure after the worktree was made cleans up the folder and the branch", () =>
    Effect.gen(function* () {
      const { dataDir, repo, ws } = yield* world
      const hook = join(repo, ".git", "hooks", "post-checkout")
      writeFileSync(hook, "#!/bin/sh\nexit 1\n", { mode: 0o755 })
      const before = snapshot(repo)
      const error = yield* Effect.flip(ws.create({ cwd: repo, runnerId: "r1", name: "hooked" }))
      expect(error._tag).toBe("GitOperationError")
      expect(existsSync(join(dataDir, "worktrees", "r1"))).toBe(false)
      expect(git(repo, "branch", "--list", "geppetto/hooked")).toBe("")
      expect(snapshot(repo)).toEqual(before)
    }),
  )

  it.scopedLive(
    "remove deletes the folder and keeps the branch; a folder deleted by hand is pruned",
    () =>
      Effect.gen(function* () {
        const { repo, ws } = yield* world
        const one = yield* ws.create({ cwd: repo, runnerId: "r1", name: "one" })
        const two = yield* ws.create({ cwd: repo, runnerId: "r2", name: "two" })
        write(join(one.path, "dirty.txt"), "uncommitted\n")
        yield* ws.remove(one)
        expect(existsSync(one.path)).toBe(false)
        expect(git(repo, "branch", "--list", "geppetto/one")).toContain("geppetto/one")
        rmSync(two.path, { recursive: true, force: true })
        expect(yield* ws.exists(two)).toBe(false)
        expect(git(repo, "worktree", "list", "--porcelain")).toContain("prunable")
        yield* ws.remove(two)
        expect(
          git(repo, "worktree", "list", "--porcelain")
            .split("\n")
            .filter((l) => l.startsWith("worktree ")),
        ).toEqual([`worktree ${repo}`])
        // A folder git no longer knows (its admin entry gone) is ours, deleted all the same.
        const three = yield* ws.create({ cwd: repo, runnerId: "r3", name: "three" })
        rmSync(join(repo, ".git", "worktrees", "r3"), { recursive: true, force: true })
        yield* ws.remove(three)
        expect(existsSync(three.path)).toBe(false)
        // A non-isolated workspace is the user's own folder: remove leaves it alone.
        yield* ws.remove(yield* ws.describe(repo))
        expect(existsSync(join(repo, "README.md"))).toBe(true)
        // A workspace whose path is not ours is refused.
        const stray = yield* Effect.flip(ws.remove({ ...one, path: repo }))
        expect(stray).toMatchObject({ _tag: "ValidationError" })
      }),
  )

  it.scopedLive("a second repo's worktrees live beside the first's", () =>
    Effect.gen(function* () {
      const { root, ws } = yield* world
      const other = makeRepo(join(root, "other"))
      const created = yield* ws.create({ cwd: other, runnerId: "o1", name: "o" })
      expect(created.repo).toBe(other)
    }),
  )
})
