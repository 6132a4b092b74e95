import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { git, snapshot, world, write } from "./helpers.js"

/** A world with one isolated workspace `geppetto/feature` that changed `feature.txt`, committed. */
const withFeature = Effect.gen(function* () {
  const w = yield* world
  const ws = yield* w.ws.create({ cwd: w.repo, runnerId: "r1", name: "feature" })
  write(join(ws.path, "feature.txt"), "feature\n")
  yield* w.ws.commit(ws, "Add the feature")
  return { ...w, workspace: ws }
})

describe("workspaces: commit", () => {
  it.scopedLive("commit stages everything (ignored excluded) with the message from stdin", () =>
    Effect.gen(function* () {
      const { repo, ws } = yield* world
      write(join(repo, ".gitignore"), "*.log\n")
      git(repo, "add", ".gitignore")
      git(repo, "commit", "--quiet", "-m", "ignore")
      const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "c" })
      write(join(w.path, "new.txt"), "new\n")
      write(join(w.path, "README.md"), "changed\n")
      write(join(w.path, "x.log"), "ignored\n")
      const message = "--amend -m evil\n\nbody with 'quotes' and $(not a shell)"
      const { commit } = yield* ws.commit(w, message)
      expect(commit).toBe(git(w.path, "rev-parse", "HEAD"))
      expect(git(w.path, "log", "-1", "--format=%B")).toBe(message)
      expect(git(w.path, "show", "--name-only", "--format=", "HEAD").split("\n").sort()).toEqual([
        "README.md",
        "new.txt",
      ])
      expect(git(w.path, "status", "--porcelain")).toBe("")
      expect(git(w.path, "log", "-1", "--format=%an <%ae>")).toBe("Test <test@example.com>")
      const nothing = yield* Effect.flip(ws.commit(w, "again"))
      expect(nothing).toMatchObject({ _tag: "GitOperationError" })
      expect(nothing.message).toContain("nothing to commit")
      const empty = yield* Effect.flip(ws.commit(w, "  \n"))
      expect(empty).toMatchObject({ _tag: "ValidationError", field: "message" })
    }),
  )

  it.scopedLive("without an identity in git's config, Geppetto's is used", () =>
    Effect.gen(function* () {
      const { repo, ws } = yield* world
      git(repo, "config", "--unset", "user.name")
      git(repo, "config", "--unset", "user.email")
      const saved = { ...process.env }
      yield* Effect.addFinalizer(() => Effect.sync(() => Object.assign(process.env, saved)))
      process.env.GIT_CONFIG_GLOBAL = "/dev/null"
      process.env.GIT_CONFIG_NOSYSTEM = "1"
      const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "anon" })
      write(join(w.path, "a.txt"), "a\n")
      yield* ws.commit(w, "anonymous")
      expect(git(w.path, "log", "-1", "--format=%an <%ae>")).toBe("Geppetto <geppetto@localhost>")
    }),
  )
})

describe("workspaces: merge", () => {
  it.scopedLive("merge into the branch checked out in the main work tree: updated and clean", () =>
    Effect.gen(function* () {
      const { repo, ws, workspace } = yield* withFeature
      const mainBefore = git(repo, "rev-parse", "main")
      const { commit } = yield* ws.merge(workspace)
      expect(git(repo, "rev-parse", "main")).toBe(commit)
      expect(git(repo, "rev-parse", `${commit}^1`)).toBe(mainBefore)
      expect(git(repo, "rev-parse", `${commit}^2`)).toBe(git(workspace.path, "rev-parse", "HEAD"))
      expect(git(repo, "log", "-1", "--format=%s", commit)).toBe(
        "Merge branch 'geppetto/feature' into main",
      )
      expect(readFileSync(join(repo, "feature.txt"), "utf8")).toBe("feature\n")
      expect(git(repo, "status", "--porcelain=v2", "--untracked-files=all")).toBe("")
      const again = yield* Effect.flip(ws.merge(workspace))
      expect(again.message).toContain("nothing to merge")
    }),
  )

  it.scopedLive("squash into the checked-out branch: one commit, one parent", () =>
    Effect.gen(function* () {
      const { repo, ws, workspace } = yield* withFeature
      write(join(workspace.path, "more.txt"), "more\n")
      yield* ws.commit(workspace, "More")
      const mainBefore = git(repo, "rev-parse", "main")
      const { commit } = yield* ws.merge(workspace, { strategy: "squash" })
      expect(git(repo, "rev-parse", "main")).toBe(commit)
      expect(git(repo, "rev-list", "--parents", "-1", commit).split(" ")).toEqual([
        commit,
        mainBefore,
      ])
      expect(git(repo, "log", "-1", "--format=%B", commit)).toBe(
        "Squashed geppetto/feature into main\n\n* More\n* Add the feature",
      )
      expect(existsSync(join(repo, "more.txt"))).toBe(true)
      expect(git(repo, "status", "--porcelain=v2", "--untracked-files=all")).toBe("")
    }),
  )

  it.scopedLive("into a branch checked out nowhere: no work tree is touched", () =>
    Effect.gen(function* () {
      const { repo, ws, workspace } = yield* withFeature
      git(repo, "branch", "release")
      const before = snapshot(repo)
      for (const strategy of ["merge", "squash"] as const) {
        const releaseBefore = git(repo, "rev-parse", "release")
        const { commit } = yield* ws.merge(workspace, { into: "release", strategy })
        expect(git(repo, "rev-parse", "release")).toBe(commit)
        expect(git(repo, "rev-parse", `${commit}^1`)).toBe(releaseBefore)
        expect(git(repo, "show", `${commit}:feature.txt`)).toBe("feature")
        if (strategy === "merge") git(repo, "branch", "-f", "release", "main")
      }
      const after = snapshot(repo)
      expect(after.worktrees).toEqual(before.worktrees)
      expect(git(repo, "reflog", "-1", "--format=%gs", "refs/heads/release")).toBe(
        "geppetto: squash geppetto/feature into release",
      )
    }),
  )

  it.scopedLive("a conflict changes nothing: HEADs, indexes and work trees byte-identical", () =>
    Effect.gen(function* () {
      const { repo, ws } = yield* world
      git(repo, "branch", "release")
      const w = yield* ws.create({ cwd: repo, runnerId: "r1", name: "clash" })
      write(join(w.path, "README.md"), "from the runner\n")
      write(join(w.path, "other.txt"), "other\n")
      yield* ws.commit(w, "runner's change")
      for (const branch of ["main", "release"]) {
        if (branch === "release") git(repo, "checkout", "--quiet", "release")
        write(join(repo, "README.md"), `from ${branch}\n`)
        git(repo, "commit", "--quiet", "-am", `${branch}'s change`)
        if (branch === "release") git(repo, "checkout", "--quiet", "main")
      }
      // main is checked out in the repo's work tree, release nowhere: both refused alike.
      for (const into of ["main", "release"]) {
        for (const strategy of ["merge", "squash"] as const) {
          const before = snapshot(repo)
          const error = yield* Effect.flip(ws.merge(w, { into, strategy }))
          expect(error).toMatchObject({ _tag: "GitOperationError", conflicts: ["README.md"] })
          expect(error.message).toContain("nothing was changed")
          expect(snapshot(repo)).toEqual(before)
        }
      }
    }),
  )

  it.scopedLive(
    "a target checked out with uncommitted changes, or a runner with uncommitted work, is refused",
    () =>
      Effect.gen(function* () {
        const { repo, ws, workspace } = yield* withFeature
        write(join(repo, "README.md"), "edited in main, not committed\n")
        let before = snapshot(repo)
        const dirtyTarget = yield* Effect.flip(ws.merge(workspace))
        expect(dirtyTarget.message).toBe(
          `main is checked out in ${repo} with uncommitted changes: commit or stash them first`,
        )
        expect(snapshot(repo)).toEqual(before)
        git(repo, "checkout", "--quiet", "--", "README.md")
        write(join(workspace.path, "wip.txt"), "not committed\n")
        before = snapshot(repo)
        const dirtySource = yield* Effect.flip(ws.merge(workspace))
        expect(dirtySource.message).toContain("has uncommitted changes: commit them first")
        expect(snapshot(repo)).toEqual(before)
      }),
  )

  it.scopedLive("an untracked file the merge would overwrite stops it before any change", () =>
    Effect.gen(function* () {
      const { repo, ws, workspace } = yield* withFeature
      writeFileSync(join(repo, "feature.txt"), "the user's own, untracked\n")
      const before = snapshot(repo)
      const error = yield* Effect.flip(ws.merge(workspace))
      expect(error).toMatchObject({
        _tag: "GitOperationError",
        stderr: expect.stringContaining(
          "Untracked working tree file 'feature.txt' would be overwritten",
        ),
      })
      expect(error.message).toContain("nothing was changed")
      expect(snapshot(repo)).toEqual(before)
    }),
  )

  it.scopedLive(
    "into: required when the base is a commit; hostile, missing or the same branch refused",
    () =>
      Effect.gen(function* () {
        const { repo, ws, workspace } = yield* withFeature
        const fromCommit = { ...workspace, base: workspace.baseCommit }
        const needInto = yield* Effect.flip(ws.merge(fromCommit))
        expect(needInto).toMatchObject({ _tag: "ValidationError", field: "into" })
        expect(needInto.message).toContain("say which branch to merge into")
        for (const into of ["-x", "a..b", "--upload-pack=x", "a b", "x".repeat(10 * 1024)]) {
          const error = yield* Effect.flip(ws.merge(workspace, { into }))
          expect(error).toMatchObject({ _tag: "ValidationError", field: "into" })
        }
        const missing = yield* Effect.flip(ws.merge(workspace, { into: "nope" }))
        expect(missing).toMatchObject({ _tag: "ValidationError", field: "into" })
        const self = yield* Effect.flip(ws.merge(workspace, { into: "geppetto/feature" }))
        expect(self).toMatchObject({ _tag: "ValidationError", field: "into" })
        const merged = yield* ws.merge(fromCommit, { into: "main" })
        expect(git(repo, "rev-parse", "main")).toBe(merged.commit)
      }),
  )
})
