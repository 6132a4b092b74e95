import { BranchName, type CommitResult, type Workspace } from "@geppetto/protocol"
import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import { GitOperationError } from "../domain/git-errors.js"
import { identityArgs } from "./commit.js"
import type { GitCommandRunner } from "./git-command.js"
import {
  branchCommit,
  currentBranch,
  isAncestor,
  requireHeadCommit,
  shown,
  validateBranchName,
} from "./refs.js"
import { hasChanges, listWorktrees } from "./repo.js"

/** What `Workspaces.merge` takes (`MergeRequest` of the protocol). */
export interface MergeOptions {
  /** The branch to merge into; default: the workspace's `base` when that is a branch. */
  readonly into?: string
  /** `merge`: a merge commit (never a fast-forward); `squash`: one commit of all the changes. */
  readonly strategy?: "merge" | "squash"
}

const refused = (command: string, message: string, conflicts?: ReadonlyArray<string>) =>
  new GitOperationError({
    command,
    stderr: "",
    message,
    ...(conflicts === undefined ? {} : { conflicts }),
  })

/** The branch to merge into: the one asked for, else the workspace's base if it is a branch. */
const targetBranch = (git: GitCommandRunner, workspace: Workspace, into: string | undefined) =>
  Effect.gen(function* () {
    if (into !== undefined) return yield* validateBranchName(git, workspace.path, "into", into)
    const base = workspace.base
    const isBranch =
      BranchName.safeParse(base).success &&
      (yield* branchCommit(git, workspace.path, base)) !== undefined
    if (!isBranch)
      return yield* new ValidationError({
        field: "into",
        message: `the workspace's base ${shown(base)} is not a branch: say which branch to merge into`,
      })
    return base
  })

/** A squash commit's message: what was squashed, and the subjects of its commits. */
const squashMessage = (
  git: GitCommandRunner,
  cwd: string,
  source: string,
  into: string,
  range: string,
) =>
  git
    .run(cwd, ["log", "--format=* %s", "--max-count=50", "--end-of-options", range])
    .pipe(Effect.map((log) => `Squashed ${source} into ${into}\n\n${log.trim()}\n`))

/**
 * Merges the workspace's committed work into `into`. The merge is made without any work tree
 * (`git merge-tree --write-tree`, then `commit-tree`), so a conflict changes nothing at all.
 * Then the branch moves: where it is checked out nowhere, by `update-ref` with its old value
 * (a branch that moved meanwhile is not overwritten); where it is checked out, that work tree
 * must be clean, a dry run (`read-tree -m -u -n`) must find no untracked file in the way, and
 * it is fast-forwarded (`merge --ff-only`), so it is left updated and clean.
 */
export const mergeWorkspace = (
  git: GitCommandRunner,
  workspace: Workspace,
  options: MergeOptions = {},
): Effect.Effect<CommitResult, ValidationError | GitOperationError> =>
  Effect.gen(function* () {
    const { path } = workspace
    const strategy = options.strategy ?? "merge"
    const into = yield* targetBranch(git, workspace, options.into)
    const intoCommit = yield* branchCommit(git, path, into)
    if (intoCommit === undefined)
      return yield* new ValidationError({
        field: "into",
        message: `branch ${into} does not exist in ${workspace.repo}`,
      })
    const branch = yield* currentBranch(git, path)
    if (branch === into)
      return yield* new ValidationError({
        field: "into",
        message: `the workspace at ${path} is on ${into} itself: merge into another branch`,
      })
    const sourceCommit = yield* requireHeadCommit(git, path)
    const source = branch === "" ? sourceCommit.slice(0, 12) : branch
    if (yield* hasChanges(git, path, true))
      return yield* refused(
        "git status",
        `${path} has uncommitted changes: commit them first (a merge takes committed work only)`,
      )
    if (yield* isAncestor(git, path, sourceCommit, intoCommit))
      return yield* refused(
        "git merge-base --is-ancestor",
        `nothing to merge: ${source} is already in ${into}`,
      )

    const checkedOut = (yield* listWorktrees(git, path)).find(
      (w) => w.branch === `refs/heads/${into}` && !w.prunable,
    )
    if (checkedOut !== undefined && (yield* hasChanges(git, checkedOut.path, false)))
      return yield* refused(
        "git status",
        `${into} is checked out in ${checkedOut.path} with uncommitted changes: commit or stash them first`,
      )

    const merged = yield* git.exec(
      path,
      [
        "merge-tree",
        "--write-tree",
        "-z",
        "--name-only",
        "--no-messages",
        "--end-of-options",
        intoCommit,
        sourceCommit,
      ],
      { okExitCodes: [0, 1] },
    )
    const [tree = "", ...paths] = merged.stdout.split("\0")
    if (merged.exitCode === 1) {
      const conflicts = [...new Set(paths.filter((p) => p !== ""))]
      return yield* refused(
        `git merge-tree --write-tree ${into} ${source}`,
        `merging ${source} into ${into} conflicts in ${conflicts.length} file(s): ${conflicts.slice(0, 10).join(", ")}; nothing was changed`,
        conflicts,
      )
    }

    if (checkedOut !== undefined) {
      // A dry run of the work tree's update: an untracked file in the way refuses it here,
      // before `merge --ff-only` would write even ORIG_HEAD.
      yield* git
        .run(checkedOut.path, ["read-tree", "-m", "-u", "--dry-run", intoCommit, tree])
        .pipe(
          Effect.mapError(
            (e) =>
              new GitOperationError({
                ...e,
                message: `${into} is checked out in ${checkedOut.path}, where the merge would overwrite files git does not track: move them away first; nothing was changed`,
              }),
          ),
        )
    }
    const message =
      strategy === "merge"
        ? `Merge branch '${source}' into ${into}\n`
        : yield* squashMessage(git, path, source, into, `${intoCommit}..${sourceCommit}`)
    const parents =
      strategy === "merge" ? ["-p", intoCommit, "-p", sourceCommit] : ["-p", intoCommit]
    const identity = yield* identityArgs(git, path)
    const commit = (yield* git.run(
      path,
      [...identity, "commit-tree", ...parents, "-F", "-", tree.trim()],
      {
        input: message,
      },
    )).trim()

    if (checkedOut === undefined) {
      yield* git.run(path, [
        "update-ref",
        "-m",
        `geppetto: ${strategy} ${source} into ${into}`,
        `refs/heads/${into}`,
        commit,
        intoCommit,
      ])
    } else {
      yield* git.run(checkedOut.path, [
        "merge",
        "--ff-only",
        "--quiet",
        "--no-edit",
        "--end-of-options",
        commit,
      ])
    }
    return { commit }
  })
