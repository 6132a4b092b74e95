import { lstat, mkdir, realpath, rm, stat } from "node:fs/promises"
import { isAbsolute, join, relative, resolve, sep } from "node:path"
import { BranchName, type Workspace } from "@geppetto/protocol"
import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import { GitOperationError } from "../domain/git-errors.js"
import type { GitCommandRunner } from "./git-command.js"
import {
  branchCommit,
  defaultBranchFor,
  resolveCommit,
  shown,
  validateBranchName,
  validateRunnerId,
} from "./refs.js"
import { listWorktrees, probe } from "./repo.js"

/** What `Workspaces.create` takes: the runner's folder and id, and the branch to make. */
export interface CreateWorkspaceRequest {
  /** A folder in the repository's work tree (the runner's requested `cwd`). */
  readonly cwd: string
  /** Names the worktree folder `DATA_DIR/worktrees/<runnerId>`. */
  readonly runnerId: string
  /** The runner's name: the default branch is `geppetto/NAME`. */
  readonly name: string
  readonly branch?: string
  /** A branch or commit to start from; default: the branch HEAD is on, else HEAD's commit. */
  readonly base?: string
}

const invalid = (field: string, message: string) =>
  Effect.fail(new ValidationError({ field, message }))

/** `DATA_DIR/worktrees`, where every isolated workspace lives. */
export const worktreesDir = (dataDir: string) => join(resolve(dataDir), "worktrees")

const isInside = (parent: string, child: string) => {
  const rel = relative(parent, child)
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) && !rel.includes(`..${sep}`)
}

/** `path` lies strictly inside `DATA_DIR/worktrees` (as given, or with symlinks resolved). */
export const isOwnWorktreePath = (dataDir: string, path: string) =>
  Effect.promise(async () => {
    const dir = worktreesDir(dataDir)
    if (isInside(dir, resolve(path))) return true
    const real = await realpath(dir).catch(() => undefined)
    return real !== undefined && isInside(real, resolve(path))
  })

/** Whether the folder is there (a worktree folder deleted by hand is `missing`). */
export const folderExists = (path: string) =>
  Effect.promise(() =>
    stat(path).then(
      (s) => s.isDirectory(),
      () => false,
    ),
  )

/**
 * Creates a worktree of the repository `request.cwd` lies in, on a new branch, at
 * `DATA_DIR/worktrees/<runnerId>`. Every name is checked before git sees it. Nothing is left
 * behind on failure: the worktree is removed and the branch deleted (only the one made here).
 */
export const createWorktree = (
  git: GitCommandRunner,
  dataDir: string,
  request: CreateWorkspaceRequest,
): Effect.Effect<Workspace, ValidationError | GitOperationError> =>
  Effect.gen(function* () {
    const { cwd } = request
    const runnerId = yield* validateRunnerId(request.runnerId)
    if (cwd.includes("\0") || !isAbsolute(cwd))
      return yield* invalid("cwd", `cwd ${shown(cwd)} must be an absolute path`)
    if (request.branch !== undefined && !BranchName.safeParse(request.branch).success)
      return yield* invalid(
        "branch",
        `branch ${shown(request.branch)} is not a valid git branch name (git check-ref-format --branch)`,
      )
    if (request.base !== undefined && !BranchName.safeParse(request.base).success)
      return yield* invalid("base", `base ${shown(request.base)} is not a valid branch or commit`)

    const where = yield* probe(git, cwd)
    if (where.kind === "outside")
      return yield* invalid("cwd", `cwd ${shown(cwd)} is not in a git work tree`)
    if (where.kind === "bare")
      return yield* invalid(
        "cwd",
        `cwd ${shown(cwd)} is a bare repository: a worktree needs a repository with a work tree`,
      )
    const info = where.info
    if (info.headCommit === "")
      return yield* invalid(
        "cwd",
        `the repository at ${info.path} has no commit yet: commit once before giving a runner its own worktree`,
      )

    const branch = yield* validateBranchName(
      git,
      info.path,
      "branch",
      request.branch ?? defaultBranchFor(request.name) ?? `geppetto/${runnerId}`,
    )
    const base = request.base ?? (info.branch !== "" ? info.branch : info.headCommit)
    const baseCommit = yield* resolveCommit(git, info.path, base)
    if (baseCommit === undefined)
      return yield* invalid("base", `base ${shown(base)} is not a commit in ${info.repo}`)
    if ((yield* branchCommit(git, info.path, branch)) !== undefined) {
      return yield* new GitOperationError({
        command: `git worktree add -b ${branch}`,
        stderr: "",
        message: `branch ${branch} already exists in ${info.repo}: choose another branch name`,
      })
    }

    const dir = worktreesDir(dataDir)
    const path = join(dir, runnerId)
    const taken = yield* Effect.promise(() =>
      lstat(path).then(
        () => true,
        () => false,
      ),
    )
    if (taken) {
      return yield* new GitOperationError({
        command: "git worktree add",
        stderr: "",
        message: `the worktree folder ${path} of runner ${runnerId} already exists`,
      })
    }
    yield* Effect.tryPromise({
      try: () => mkdir(dir, { recursive: true, mode: 0o700 }),
      catch: (cause) =>
        new GitOperationError({
          command: "mkdir",
          stderr: "",
          message: `could not create ${dir}: ${cause instanceof Error ? cause.message : String(cause)}`,
        }),
    })

    // From here on a failure may have left a folder, a worktree entry or the branch behind.
    const cleanup = Effect.gen(function* () {
      yield* Effect.ignore(git.run(info.path, ["worktree", "remove", "--force", "--", path]))
      yield* Effect.promise(() => rm(path, { recursive: true, force: true }).catch(() => {}))
      yield* Effect.ignore(git.run(info.path, ["worktree", "prune"]))
      // Only a branch still at the base and checked out nowhere: never one another call made.
      const inUse = yield* Effect.orElseSucceed(
        listWorktrees(git, info.path).pipe(
          Effect.map((ws) => ws.some((w) => w.branch === `refs/heads/${branch}`)),
        ),
        () => true,
      )
      const now = yield* Effect.orElseSucceed(branchCommit(git, info.path, branch), () => undefined)
      if (!inUse && now === baseCommit)
        yield* Effect.ignore(
          git.run(info.path, ["update-ref", "-d", `refs/heads/${branch}`, baseCommit]),
        )
    })
    const top = yield* Effect.gen(function* () {
      yield* git.run(info.path, [
        "worktree",
        "add",
        "--quiet",
        "-b",
        branch,
        "--",
        path,
        baseCommit,
      ])
      const out = yield* git.run(path, ["rev-parse", "--path-format=absolute", "--show-toplevel"])
      return out.trim()
    }).pipe(Effect.onError(() => cleanup))

    return { repo: info.repo, path: top, branch, base, baseCommit, isolated: true }
  })

/**
 * Removes an isolated workspace's worktree (`--force`: the runner's uncommitted work goes with
 * it; its branch stays), then prunes git's record of it. A folder already deleted by hand is
 * only pruned. A non-isolated workspace is the user's own work tree: nothing is removed.
 */
export const removeWorktree = (
  git: GitCommandRunner,
  dataDir: string,
  workspace: Workspace,
): Effect.Effect<void, ValidationError | GitOperationError> =>
  Effect.gen(function* () {
    if (!workspace.isolated) return
    if (!(yield* isOwnWorktreePath(dataDir, workspace.path)))
      return yield* invalid(
        "workspace.path",
        `${shown(workspace.path)} is not a worktree folder under ${worktreesDir(dataDir)}`,
      )
    if (!(yield* folderExists(workspace.repo))) {
      // The repository itself is gone: nothing left to tell; the folder is ours to delete.
      yield* deleteFolder(workspace.path)
      return
    }
    const registered = (yield* listWorktrees(git, workspace.repo)).some(
      (w) => resolve(w.path) === resolve(workspace.path),
    )
    if (registered && (yield* folderExists(workspace.path)))
      yield* git.run(workspace.repo, ["worktree", "remove", "--force", "--", workspace.path])
    // git no longer knows the folder (pruned already): it is ours to delete.
    else yield* deleteFolder(workspace.path)
    yield* git.run(workspace.repo, ["worktree", "prune"])
  })

/** `rm -rf` of a worktree folder of ours; a file we may not delete is a typed refusal. */
const deleteFolder = (path: string) =>
  Effect.tryPromise({
    try: () => rm(path, { recursive: true, force: true }),
    catch: (cause) =>
      new GitOperationError({
        command: "rm -rf",
        stderr: "",
        message: `could not delete ${shown(path)}: ${cause instanceof Error ? cause.message : String(cause)}`,
      }),
  })

/**
 * Undoes `createWorktree` for a runner that never started: its folder removed, and its branch
 * deleted while it is still at the base commit and checked out nowhere (nothing was done on
 * it). Best effort: every step is tried.
 */
export const discardWorktree = (
  git: GitCommandRunner,
  dataDir: string,
  workspace: Workspace,
): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Effect.ignore(removeWorktree(git, dataDir, workspace))
    const inUse = yield* Effect.orElseSucceed(
      listWorktrees(git, workspace.repo).pipe(
        Effect.map((ws) => ws.some((w) => w.branch === `refs/heads/${workspace.branch}`)),
      ),
      () => true,
    )
    const now = yield* Effect.orElseSucceed(
      branchCommit(git, workspace.repo, workspace.branch),
      () => undefined,
    )
    if (!inUse && workspace.branch !== "" && now === workspace.baseCommit) {
      yield* Effect.ignore(
        git.run(workspace.repo, [
          "update-ref",
          "-d",
          `refs/heads/${workspace.branch}`,
          workspace.baseCommit,
        ]),
      )
    }
  })
