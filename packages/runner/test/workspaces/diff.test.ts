import { createWriteStream, readdirSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeGitCommandRunner } from "../../src/workspaces/git-command.js"
import { git, hashTree, snapshot, world, write } from "./helpers.js"

/** Writes `lines` lines of 100 bytes without holding the file in memory. */
const generate = (path: string, lines: number) =>
  Effect.promise(
    () =>
      new Promise<void>((resolve, reject) => {
        const out = createWriteStream(path)
        out.on("error", reject)
        const line = `${"generated ".repeat(9)}ab\n`
        let i = 0
        const more = () => {
          while (i < lines) {
            i++
            if (!out.write(line)) return out.once("drain", more)
          }
          out.end(resolve)
        }
        more()
      }),
  )

describe("workspaces: diff", () => {
  it.scopedLive("two worktrees on one repo: each diff has only its own file", () =>
    Effect.gen(function* () {
      const { repo, ws } = yield* world
      const one = yield* ws.create({ cwd: repo, runnerId: "r1", name: "one" })
      const two = yield* ws.create({ cwd: repo, runnerId: "r2", name: "two" })
      write(join(one.path, "one.txt"), "from one\n")
      write(join(two.path, "two.txt"), "from two\n")
      git(two.path, "add", "two.txt")
      git(two.path, "commit", "--quiet", "-m", "two")
      const d1 = yield* ws.diff(one)
      const d2 = yield* ws.diff(two)
      expect(d1.files).toEqual([{ path: "one.txt", status: "added", additions: 1, deletions: 0 }])
      expect(d2.files).toEqual([{ path: "two.txt", status: "added", additions: 1, deletions: 0 }])
      expect(d1.patch).toContain("+from one")
      expect(d1.patch).not.toContain("two")
      expect(d2.headCommit).toBe(git(two.path, "rev-parse", "HEAD"))
      expect(d2.baseCommit).toBe(two.baseCommit)
      expect((yield* ws.diff(yield* ws.describe(repo))).files).toEqual([])
    }),
  )

  it.scopedLive(
    "committed, staged, unstaged, untracked, deleted, renamed and binary in one diff; ignored left out; the real index untouched",
    () =>
      Effect.gen(function* () {
        const { root, repo, ws } = yield* world
        write(join(repo, ".gitignore"), "*.log\nbuild/\n")
        write(join(repo, "keep.txt"), "a\nb\nc\n")
        write(join(repo, "gone.txt"), "bye\n")
        write(join(repo, "moved.txt"), `${"a stable line of text\n".repeat(20)}`)
        write(join(repo, "moved-by-git.txt"), `${"another stable line\n".repeat(20)}`)
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", "files")
        const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "mixed" })
        write(join(w.path, "committed.txt"), "c1\nc2\n")
        git(w.path, "add", "committed.txt")
        git(w.path, "commit", "--quiet", "-m", "c")
        write(join(w.path, "staged.txt"), "s\n")
        git(w.path, "add", "staged.txt")
        write(join(w.path, "keep.txt"), "a\nB\nc\nd\n")
        write(join(w.path, "untracked", "new.txt"), "u\n")
        rmSync(join(w.path, "gone.txt"))
        // A rename by hand (deleted + untracked) and one through git: both found.
        renameSync(join(w.path, "moved.txt"), join(w.path, "moved-here.txt"))
        git(w.path, "mv", "moved-by-git.txt", "renamed-by-git.txt")
        write(join(w.path, "image.bin"), Buffer.from([0, 1, 2, 3, 0, 255, 0]))
        write(join(w.path, "debug.log"), "ignored\n")
        write(join(w.path, "build", "out.js"), "ignored\n")

        const indexPath = git(w.path, "rev-parse", "--path-format=absolute", "--git-path", "index")
        const before = { ...snapshot(repo), status: git(w.path, "status", "--porcelain=v2", "-z") }
        const diff = yield* ws.diff(w)
        expect({
          ...snapshot(repo),
          status: git(w.path, "status", "--porcelain=v2", "-z"),
        }).toEqual(before)
        expect(hashTree(w.path)).toBe(before.worktrees.find((t) => t.path === w.path)?.tree)
        expect(indexPath).toContain(join(".git", "worktrees"))
        // No temporary index left behind.
        expect(readdirSync(join(root, "data", "tmp"))).toEqual([])

        expect(diff.files).toEqual([
          { path: "committed.txt", status: "added", additions: 2, deletions: 0 },
          { path: "gone.txt", status: "deleted", additions: 0, deletions: 1 },
          { path: "image.bin", status: "added", additions: 0, deletions: 0, binary: true },
          { path: "keep.txt", status: "modified", additions: 2, deletions: 1 },
          {
            path: "moved-here.txt",
            oldPath: "moved.txt",
            status: "renamed",
            additions: 0,
            deletions: 0,
          },
          {
            path: "renamed-by-git.txt",
            oldPath: "moved-by-git.txt",
            status: "renamed",
            additions: 0,
            deletions: 0,
          },
          { path: "staged.txt", status: "added", additions: 1, deletions: 0 },
          { path: "untracked/new.txt", status: "added", additions: 1, deletions: 0 },
        ])
        expect(diff.patch).toContain("diff --git a/keep.txt b/keep.txt")
        expect(diff.patch).toContain("rename from moved.txt")
        expect(diff.patch).toContain("Binary files /dev/null and b/image.bin differ")
        expect(diff.patch).not.toContain("ignored")
        expect(diff.truncated).toBeUndefined()

        const stat = yield* ws.diff(w, { stat: true })
        expect(stat.files).toEqual(diff.files)
        expect(stat.patch).toBe("")
      }),
  )

  it.scopedLive(
    "file names with blanks, tabs, newlines, quotes and non-ASCII come through whole",
    () =>
      Effect.gen(function* () {
        const { repo, ws } = yield* world
        const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "names" })
        const names = [
          "a b.txt",
          "tab\there.txt",
          "new\nline.txt",
          'quo"te.txt',
          "ünï€.txt",
          "-dash.txt",
          ":(glob)x",
        ]
        for (const name of names) write(join(w.path, name), "one line\n")
        const diff = yield* ws.diff(w)
        expect(diff.files.map((f) => f.path).sort()).toEqual([...names].sort())
        expect(diff.files.every((f) => f.status === "added" && f.additions === 1)).toBe(true)
        expect(diff.truncated).toBeUndefined()
        expect(diff.patch.match(/^diff --git /gm)?.length).toBe(names.length)
        // Left out of the patch by a literal pathspec, a name with magic still only means itself.
        const limited = yield* ws.diff(w, { limits: { maxPatchBytes: 10_000, maxFileBytes: 0 } })
        expect(limited.files.every((f) => f.omitted === true)).toBe(true)
        expect(limited.patch).toBe("")
      }),
  )

  it.scopedLive(
    "a 50 MB generated file is counted and omitted; the patch stays within its bounds",
    () =>
      Effect.gen(function* () {
        const { repo, ws } = yield* world
        const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "big" })
        yield* generate(join(w.path, "generated.txt"), 500_000)
        write(join(w.path, "small.txt"), "small\n")
        const diff = yield* ws.diff(w)
        expect(diff.files).toEqual([
          {
            path: "generated.txt",
            status: "added",
            additions: 500_000,
            deletions: 0,
            omitted: true,
          },
          { path: "small.txt", status: "added", additions: 1, deletions: 0 },
        ])
        expect(diff.truncated).toBe(true)
        expect(diff.patch).toContain("+small")
        expect(diff.patch).not.toContain("generated")
        expect(Buffer.byteLength(diff.patch)).toBeLessThan(2 * 1024 * 1024)
      }),
  )

  it.scopedLive(
    "a file past the per-file bound, and every file once the total bound is reached, are omitted",
    () =>
      Effect.gen(function* () {
        const { repo, ws } = yield* world
        const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "bounds" })
        // One line too long for a file's bound, though its line count looks small.
        write(join(w.path, "a-long-line.txt"), `${"x".repeat(2_000)}\n`)
        for (const name of ["b.txt", "c.txt", "d.txt", "e.txt"])
          write(join(w.path, name), `${name}\n`.repeat(100))
        // Each of b..e makes a piece of some 800 bytes: two fit in 2,000.
        const limits = { maxPatchBytes: 2_000, maxFileBytes: 1_500 }
        const diff = yield* ws.diff(w, { limits })
        const omitted = diff.files.filter((f) => f.omitted === true).map((f) => f.path)
        expect(omitted[0]).toBe("a-long-line.txt")
        expect(omitted.length).toBeGreaterThan(1)
        expect(diff.files.filter((f) => f.omitted !== true).map((f) => f.path)).toEqual([
          "b.txt",
          "c.txt",
        ])
        expect(omitted).toEqual(["a-long-line.txt", "d.txt", "e.txt"])
        expect(diff.files.every((f) => f.additions > 0)).toBe(true)
        expect(Buffer.byteLength(diff.patch)).toBeLessThanOrEqual(limits.maxPatchBytes)
        expect(diff.patch.startsWith("diff --git a/b.txt b/b.txt")).toBe(true)
        expect(diff.truncated).toBe(true)
      }),
  )

  it.scopedLive("the runner caps stdout: fail past the bound, or truncate and stop git", () =>
    Effect.gen(function* () {
      const { repo } = yield* world
      yield* generate(join(repo, "big.txt"), 500_000)
      git(repo, "add", "big.txt")
      const runner = makeGitCommandRunner()
      const failed = yield* Effect.flip(
        runner.run(repo, ["diff", "--cached"], { maxBytes: 1024 * 1024 }),
      )
      expect(failed.message).toContain("printed more than 1048576 bytes")
      expect(failed.command).toBe(`git --no-pager -C ${repo} diff --cached`)
      const cut = yield* runner.exec(repo, ["diff", "--cached"], {
        maxBytes: 64 * 1024,
        overflow: "truncate",
      })
      expect(cut.truncated).toBe(true)
      expect(Buffer.byteLength(cut.stdout)).toBe(64 * 1024)
      const before = process.memoryUsage().rss
      yield* runner.exec(repo, ["show", ":big.txt"], { maxBytes: 1024, overflow: "truncate" })
      // The 50 MB blob never sat in our memory (a loose bound: rss moves for other reasons).
      expect(process.memoryUsage().rss - before).toBeLessThan(40 * 1024 * 1024)
    }),
  )

  it.scopedLive("a failing git call carries its command, stderr and exit code", () =>
    Effect.gen(function* () {
      const { repo } = yield* world
      const runner = makeGitCommandRunner()
      const error = yield* Effect.flip(
        runner.run(repo, ["rev-parse", "--verify", "--end-of-options", "nope"]),
      )
      expect(error).toMatchObject({ _tag: "GitOperationError", exitCode: 128 })
      expect(error.stderr).toContain("fatal: Needed a single revision")
      expect(error.message).toContain("git rev-parse failed in")
      const ok = yield* runner.exec(repo, ["diff", "--quiet", "--exit-code", "HEAD"], {
        okExitCodes: [0, 1],
      })
      expect(ok.exitCode).toBe(0)
      const input = yield* runner.run(repo, ["hash-object", "--stdin"], { input: "hello\n" })
      expect(input.trim()).toBe(git(repo, "rev-parse", "HEAD:README.md"))
    }),
  )
})
