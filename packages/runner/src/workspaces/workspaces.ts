import { join, resolve } from "node:path"
import type { Workspace } from "@geppetto/protocol"
import { Effect } from "effect"
import { RunnerConfig } from "../config.js"
import { ValidationError } from "../domain/errors.js"
import { GitOperationError } from "../domain/git-errors.js"
import { commitAll } from "./commit.js"
import { type DiffLimits, diffWorkspace } from "./diff.js"
import { GitCommandRunnerLive, GitCommandRunnerPort } from "./git-command.js"
import { type MergeOptions, mergeWorkspace } from "./merge.js"
import { shown } from "./refs.js"
import { probe } from "./repo.js"
import {
  type CreateWorkspaceRequest,
  createWorktree,
  discardWorktree,
  folderExists,
  removeWorktree,
} from "./worktree.js"

/** What `Workspaces.diff` takes. */
export interface DiffOptions {
  /** The file list only: `patch` is `""`. */
  readonly stat?: boolean
  /** Bounds of the patch (tests and benchmarks); default 2 MB in all, 512 KB per file. */
  readonly limits?: DiffLimits
}

/**
 * Git workspaces of runners: a worktree and branch per isolated runner under
 * `DATA_DIR/worktrees/`, the diff of a workspace against its base commit, commit and merge.
 * Every git call goes through `GitCommandRunnerPort`; a refusal changes nothing.
 */
export class Workspaces extends Effect.Service<Workspaces>()("geppetto/Workspaces", {
  effect: Effect.gen(function* () {
    const git = yield* GitCommandRunnerPort
    const { dataDir } = yield* RunnerConfig
    const tmpDir = join(resolve(dataDir), "tmp")
    // One create at a time: the cleanup of a failed one must never take a branch that a
    // concurrent create of the same name made.
    const creating = yield* Effect.makeSemaphore(1)

    /**
     * Where `cwd` lies in git: `undefined` outside any work tree (not in a repository, in a bare
     * one, or a folder that does not exist).
     */
    const inspect = Effect.fn("Workspaces.inspect")(function* (cwd: string) {
      const where = yield* probe(git, cwd)
      return where.kind === "work-tree" ? where.info : undefined
    })

    /**
     * The workspace of a runner started (or adopted) in an existing work tree: not isolated,
     * measured against where HEAD is now (its branch, or its commit when detached).
     */
    const describe = Effect.fn("Workspaces.describe")(function* (cwd: string) {
      const info = yield* inspect(cwd)
      if (info === undefined)
        return yield* new ValidationError({
          field: "cwd",
          message: `cwd ${shown(cwd)} is not in a git work tree`,
        })
      if (info.headCommit === "")
        return yield* new GitOperationError({
          command: "git rev-parse --verify HEAD^{commit}",
          stderr: "",
          message: `the repository at ${info.path} has no commit yet`,
        })
      const workspace: Workspace = {
        repo: info.repo,
        path: info.path,
        branch: info.branch,
        base: info.branch === "" ? info.headCommit : info.branch,
        baseCommit: info.headCommit,
        isolated: false,
      }
      return workspace
    })

    /** A new worktree and branch for a runner (see `createWorktree`). */
    const create = Effect.fn("Workspaces.create")(function* (request: CreateWorkspaceRequest) {
      return yield* creating.withPermits(1)(createWorktree(git, dataDir, request))
    })

    /** The workspace against its base commit: committed, uncommitted and untracked. */
    const diff = Effect.fn("Workspaces.diff")(function* (
      workspace: Workspace,
      options: DiffOptions = {},
    ) {
      return yield* diffWorkspace(git, tmpDir, workspace, options)
    })

    /** Stages everything in the workspace and commits it; nothing to commit is a refusal. */
    const commit = Effect.fn("Workspaces.commit")(function* (
      workspace: Workspace,
      message: string,
    ) {
      return yield* commitAll(git, workspace.path, message)
    })

    /** Merges the workspace's committed work into a branch (see `mergeWorkspace`). */
    const merge = Effect.fn("Workspaces.merge")(function* (
      workspace: Workspace,
      options: MergeOptions = {},
    ) {
      return yield* mergeWorkspace(git, workspace, options)
    })

    /** Removes an isolated workspace's folder (its branch stays); prunes a folder gone by hand. */
    const remove = Effect.fn("Workspaces.remove")(function* (workspace: Workspace) {
      return yield* removeWorktree(git, dataDir, workspace)
    })

    /** Undoes `create` for a runner that never started (folder, and the untouched branch). */
    const discard = Effect.fn("Workspaces.discard")(function* (workspace: Workspace) {
      return yield* discardWorktree(git, dataDir, workspace)
    })

    /** Whether the workspace's folder is there (for `missing`). */
    const exists = Effect.fn("Workspaces.exists")(function* (workspace: Workspace) {
      return yield* folderExists(workspace.path)
    })

    return { inspect, describe, create, diff, commit, merge, remove, discard, exists } as const
  }),
  dependencies: [GitCommandRunnerLive],
}) {}
