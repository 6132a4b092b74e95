import { Effect } from "effect"
import type { GitOperationError } from "../domain/git-errors.js"
import type { GitCommandRunner } from "./git-command.js"
import { currentBranch, headCommit } from "./refs.js"

/** Where a folder lies in git, as `inspect` tells it. */
export interface WorkTreeInfo {
  /** The main work tree's top folder (for a linked worktree, the repository's own). */
  readonly repo: string
  /** This work tree's top folder. */
  readonly path: string
  /** The branch checked out here; `""` on a detached HEAD. */
  readonly branch: string
  /** HEAD's commit; `""` on a branch with no commit yet. */
  readonly headCommit: string
}

/** A folder outside any work tree: not in a repository at all, or in a bare one (or `.git`). */
export type Probe =
  | { readonly kind: "outside" }
  | { readonly kind: "bare" }
  | { readonly kind: "work-tree"; readonly info: WorkTreeInfo }

/** One entry of `git worktree list --porcelain -z`. */
export interface WorktreeEntry {
  readonly path: string
  readonly head: string
  /** `refs/heads/...`, absent when detached or bare. */
  readonly branch?: string
  readonly bare: boolean
  readonly prunable: boolean
}

/** Parses `git worktree list --porcelain -z`: NUL-ended attributes, an empty one ends a record. */
export const parseWorktreeList = (text: string): ReadonlyArray<WorktreeEntry> => {
  const entries: Array<WorktreeEntry> = []
  let current: { -readonly [K in keyof WorktreeEntry]: WorktreeEntry[K] } | undefined
  for (const field of text.split("\0")) {
    if (field === "") {
      if (current !== undefined) entries.push(current)
      current = undefined
      continue
    }
    const space = field.indexOf(" ")
    const key = space < 0 ? field : field.slice(0, space)
    const value = space < 0 ? "" : field.slice(space + 1)
    if (key === "worktree") {
      if (current !== undefined) entries.push(current)
      current = { path: value, head: "", bare: false, prunable: false }
    } else if (current !== undefined) {
      if (key === "HEAD") current.head = value
      else if (key === "branch") current.branch = value
      else if (key === "bare") current.bare = true
      else if (key === "prunable") current.prunable = true
    }
  }
  if (current !== undefined) entries.push(current)
  return entries
}

export const listWorktrees = (git: GitCommandRunner, cwd: string) =>
  git.run(cwd, ["worktree", "list", "--porcelain", "-z"]).pipe(Effect.map(parseWorktreeList))

/** The non-empty lines of a `rev-parse` answer. */
const lines = (text: string) => text.split("\n").filter((l) => l !== "")

/**
 * Where `cwd` lies in git. Outside a repository (or in a folder that does not exist) git exits
 * 128 with one of two messages; any other failure is a real error.
 */
export const probe = (
  git: GitCommandRunner,
  cwd: string,
): Effect.Effect<Probe, GitOperationError> =>
  Effect.gen(function* () {
    const where = yield* git
      .run(cwd, ["rev-parse", "--is-bare-repository", "--is-inside-work-tree"])
      .pipe(
        Effect.map(lines),
        Effect.catchIf(
          (e) => e.exitCode === 128 && /not a git repository|cannot change to/i.test(e.stderr),
          () => Effect.succeed(undefined),
        ),
      )
    if (where === undefined) return { kind: "outside" }
    const [bare, inside] = where
    if (bare === "true") return { kind: "bare" }
    if (inside !== "true") return { kind: "outside" }
    const [path = ""] = lines(
      yield* git.run(cwd, ["rev-parse", "--path-format=absolute", "--show-toplevel"]),
    )
    const worktrees = yield* listWorktrees(git, path)
    const repo = worktrees[0]?.path ?? path
    const branch = yield* currentBranch(git, path)
    const head = yield* headCommit(git, path)
    return { kind: "work-tree", info: { repo, path, branch, headCommit: head ?? "" } }
  })

/**
 * Whether the work tree at `path` has changes to tracked files (staged or not). Untracked files
 * do not count: a merge that would overwrite one is refused by git itself, before any change.
 * `includeUntracked` counts them too (the runner's own work tree before a merge: its work
 * must all be committed).
 */
export const hasChanges = (
  git: GitCommandRunner,
  path: string,
  includeUntracked: boolean,
): Effect.Effect<boolean, GitOperationError> =>
  git
    .run(path, [
      "status",
      "--porcelain=v2",
      "-z",
      `--untracked-files=${includeUntracked ? "all" : "no"}`,
      "--ignore-submodules=none",
    ])
    .pipe(Effect.map((out) => out !== ""))
