import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { git, makeRepo as makeRepoAt } from "../workspaces/helpers.js"
import { registryWorld } from "./harness.js"

/** A repository with one commit of `README.md` on `main`, in the test's data dir. */
const makeRepo = (dataDir: string) => makeRepoAt(join(dataDir, "repo"))

/** A runner that writes one file into its own cwd and ends. */
const writer = (repo: string, name: string, file: string) => ({
  provider: "shell",
  mode: "oneshot" as const,
  command: ["sh", "-c", `printf '%s\\n' ${name} > ${file}`],
  cwd: repo,
  name,
  worktree: true as const,
})

describe("runner workspaces (real tmux, real git)", () => {
  it.scopedLive(
    "two runners on one repo: each its own worktree and branch, each file only in its own diff; commit, merge, remove",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const repo = makeRepo(world.dataDir)
        const { registry } = yield* world.open()

        const a = yield* registry.startRunner(writer(repo, "alpha", "a.txt"))
        const b = yield* registry.startRunner(writer(repo, "beta", "b.txt"))
        for (const [started, name] of [
          [a, "alpha"],
          [b, "beta"],
        ] as const) {
          expect(started.runner.workspace).toMatchObject({
            repo,
            branch: `geppetto/${name}`,
            base: "main",
            baseCommit: git(repo, "rev-parse", "HEAD"),
            isolated: true,
          })
          expect(started.runner.cwd).toBe(join(world.dataDir, "worktrees", started.runner.id))
          expect(started.runner.workspace?.path).toBe(started.runner.cwd)
        }
        yield* registry.waitForCompletion(a.runner.id)
        yield* registry.waitForCompletion(b.runner.id)
        // Counted once more when the runner ended (after its end, on a fiber of its own).
        const { queue } = yield* registry.subscribe
        let counted = (yield* registry.getRunner(a.runner.id)).runner.workspace
        while (counted?.additions === undefined) {
          const event = yield* queue.take
          if (event.type === "runner" && event.runner.id === a.runner.id) {
            counted = event.runner.workspace
          }
        }
        expect(counted).toMatchObject({ additions: 1, deletions: 0 })

        const diffA = yield* registry.diff(a.runner.id)
        const diffB = yield* registry.diff(b.runner.id)
        expect(diffA.files.map((f) => f.path)).toEqual(["a.txt"])
        expect(diffB.files.map((f) => f.path)).toEqual(["b.txt"])
        expect(diffA.files[0]).toMatchObject({ status: "added", additions: 1, deletions: 0 })
        expect(diffA.patch).toContain("+alpha")
        // The main work tree is untouched by either.
        expect(existsSync(join(repo, "a.txt"))).toBe(false)
        expect(git(repo, "status", "--porcelain")).toBe("")

        const committed = yield* registry.commit(a.runner.id, "add a.txt")
        expect(git(repo, "log", "-1", "--format=%s", committed.commit)).toBe("add a.txt")
        const nothing = yield* Effect.either(registry.commit(a.runner.id, "again"))
        expect(Either.isLeft(nothing) && nothing.left._tag).toBe("GitOperationError")

        const merged = yield* registry.merge(a.runner.id)
        expect(git(repo, "rev-parse", "main")).toBe(merged.commit)
        // `main` is checked out in the repo: updated there and left clean.
        expect(readFileSync(join(repo, "a.txt"), "utf8")).toBe("alpha\n")
        expect(git(repo, "status", "--porcelain")).toBe("")

        // beta's uncommitted file is not merged: refused, nothing changed.
        const head = git(repo, "rev-parse", "main")
        const refused = yield* Effect.either(registry.merge(b.runner.id))
        expect(Either.isLeft(refused) && refused.left._tag).toBe("GitOperationError")
        expect(git(repo, "rev-parse", "main")).toBe(head)

        // Removal takes the folder, keeps the branch.
        yield* registry.removeRunner(b.runner.id)
        expect(existsSync(b.runner.cwd)).toBe(false)
        expect(git(repo, "branch", "--list", "geppetto/beta")).toContain("geppetto/beta")
        expect(git(repo, "worktree", "list", "--porcelain")).not.toContain(b.runner.cwd)
      }),
    60_000,
  )

  it.scopedLive(
    "refusals create nothing: an existing branch, a cwd outside git, a hostile branch name",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const repo = makeRepo(world.dataDir)
        git(repo, "branch", "geppetto/taken")
        const { registry } = yield* world.open()

        const taken = yield* Effect.either(
          registry.startRunner({
            ...writer(repo, "taken", "x"),
            worktree: { branch: "geppetto/taken" },
          }),
        )
        expect(Either.isLeft(taken) && taken.left._tag).toBe("GitOperationError")
        const outside = yield* Effect.either(
          registry.startRunner({ ...writer(world.dataDir, "outside", "x") }),
        )
        expect(Either.isLeft(outside) && outside.left._tag).toBe("ValidationError")
        const hostile = yield* Effect.either(
          registry.startRunner({
            ...writer(repo, "hostile", "x"),
            worktree: { branch: "--upload-pack=x" },
          }),
        )
        expect(Either.isLeft(hostile) && hostile.left._tag).toBe("ValidationError")

        expect(yield* registry.listRunners).toEqual([])
        expect(existsSync(join(world.dataDir, "worktrees", "x"))).toBe(false)
        expect(git(repo, "worktree", "list", "--porcelain").match(/^worktree /gm)).toHaveLength(1)
        expect(git(repo, "branch", "--format=%(refname:short)").split("\n").sort()).toEqual([
          "geppetto/taken",
          "main",
        ])
      }),
    60_000,
  )

  it.scopedLive(
    "a runner started in a work tree gets a workspace that is not isolated; workspaces survive a restart",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const repo = makeRepo(world.dataDir)
        const first = yield* world.open()
        const plain = yield* first.registry.startRunner({
          provider: "shell",
          command: ["sh", "-c", "printf 'changed\\n' >> README.md; sleep 60"],
          cwd: repo,
          name: "plain",
        })
        expect(plain.runner.workspace).toMatchObject({
          repo,
          path: repo,
          branch: "main",
          base: "main",
          isolated: false,
        })
        const own = yield* first.registry.startRunner(writer(repo, "own", "o.txt"))
        yield* first.registry.waitForCompletion(own.runner.id)
        const gone = yield* first.registry.startRunner(writer(repo, "gone", "g.txt"))
        yield* first.registry.waitForCompletion(gone.runner.id)
        // A session of the person's own in the repository, adopted: its work tree, shared.
        world.tmux(["new-session", "-d", "-s", "mine", "-c", repo, "sleep 600"])
        const adopted = yield* first.registry.adoptSession("mine")
        expect(adopted.runner.workspace).toMatchObject({ repo, path: repo, isolated: false })
        yield* first.close

        // A worktree folder deleted by hand while the server was down.
        rmSync(gone.runner.cwd, { recursive: true, force: true })
        const second = yield* world.open()
        const again = yield* second.registry.getRunner(own.runner.id)
        expect(again.runner.workspace).toMatchObject({ isolated: true, branch: "geppetto/own" })
        expect(again.runner.workspace?.missing).toBeUndefined()
        const missing = yield* second.registry.getRunner(gone.runner.id)
        expect(missing.runner.workspace).toMatchObject({ isolated: true, missing: true })
        // Removing it still works: git's record of the worktree is pruned, the branch stays.
        yield* second.registry.removeRunner(gone.runner.id)
        expect(git(repo, "worktree", "list", "--porcelain")).not.toContain(gone.runner.cwd)
        expect(git(repo, "branch", "--list", "geppetto/gone")).toContain("geppetto/gone")
        const diff = yield* second.registry.diff(plain.runner.id)
        expect(diff.files.map((f) => f.path)).toEqual(["README.md"])
        yield* second.registry.terminateRunner(plain.runner.id)
      }),
    60_000,
  )
})
