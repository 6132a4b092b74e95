import * as z from "zod/mini"

/**
 * A branch name as `git check-ref-format --branch` takes it, checked here for the shapes that
 * are never valid (the server asks git too): no leading `-` (it would read as an option), no
 * `..`, `//`, `@{`, control characters, spaces, `~^:?*[\`, no trailing `/`, `.` or `.lock`.
 */
export const BranchName = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(200),
    z.regex(
      /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\/\.)(?!\.)[^\s~^:?*[\\\p{Cc}]+(?<![/.])(?<!\.lock)$/u,
      "must be a valid git branch name (git check-ref-format --branch)",
    ),
  )
export type BranchName = z.infer<typeof BranchName>

/** A commit or branch to start from: a branch name, or a 4–64 digit hex commit id. */
export const GitRef = BranchName
export type GitRef = z.infer<typeof GitRef>

/** `worktree` on `POST /api/runners`: run in a new git worktree on a new branch. */
export const WorktreeRequest = z.union([
  z.literal(true),
  z.strictObject({ branch: z.optional(BranchName), base: z.optional(GitRef) }),
])
export type WorktreeRequest = z.infer<typeof WorktreeRequest>

/** Where a runner works in git: on every runner whose `cwd` lies in a git work tree. */
export const Workspace = z.object({
  /** The main work tree's top folder. */
  repo: z.string(),
  /** The work tree the runner works in (its own worktree when `isolated`). */
  path: z.string(),
  /** The branch checked out there; empty on a detached HEAD. */
  branch: z.string(),
  /** What the runner's changes are measured against: a branch name, or a commit id. */
  base: z.string(),
  baseCommit: z.string(),
  /** The runner has its own worktree (made for it under the data folder). */
  isolated: z.boolean(),
  /** Lines added and deleted against `baseCommit`, as last computed (the board's `+N −M`). */
  additions: z.optional(z.int().check(z.nonnegative())),
  deletions: z.optional(z.int().check(z.nonnegative())),
  /** Set when the worktree folder is gone (deleted by hand). */
  missing: z.optional(z.boolean()),
})
export type Workspace = z.infer<typeof Workspace>

export const DiffFileStatus = z.enum(["added", "modified", "deleted", "renamed"])
export type DiffFileStatus = z.infer<typeof DiffFileStatus>

/** One file of a workspace diff, with its line counts. */
export const DiffFile = z.object({
  path: z.string(),
  oldPath: z.optional(z.string()),
  status: DiffFileStatus,
  additions: z.int().check(z.nonnegative()),
  deletions: z.int().check(z.nonnegative()),
  binary: z.optional(z.boolean()),
  /** Counted but not in `patch`: too large to show (see `WorkspaceDiff.truncated`). */
  omitted: z.optional(z.boolean()),
})
export type DiffFile = z.infer<typeof DiffFile>

/** `GET /api/runners/:id/diff`: the workspace against its base commit. */
export const WorkspaceDiff = z.object({
  baseCommit: z.string(),
  headCommit: z.string(),
  files: z.array(DiffFile),
  /** Unified diff (`git diff` format) of the files not `omitted`. */
  patch: z.string(),
  /** The patch was cut at its byte bound; files past it are `omitted`. */
  truncated: z.optional(z.boolean()),
})
export type WorkspaceDiff = z.infer<typeof WorkspaceDiff>

/** `GET /api/runners/:id/diff?stat=1`: the file list only, no patch. */
export const DiffQuery = z.strictObject({ stat: z.optional(z.enum(["0", "1"])) })
export type DiffQuery = z.infer<typeof DiffQuery>

export const MAX_COMMIT_MESSAGE_BYTES = 64 * 1024

/** `POST /api/runners/:id/commit`. */
export const CommitRequest = z.strictObject({
  message: z.string().check(
    z.minLength(1),
    z.maxLength(MAX_COMMIT_MESSAGE_BYTES),
    z.refine((s) => s.trim() !== "" && !s.includes("\0"), {
      message: "must have text and no NUL byte",
    }),
  ),
})
export type CommitRequest = z.infer<typeof CommitRequest>

/** `POST /api/runners/:id/merge`. */
export const MergeRequest = z.strictObject({
  into: z.optional(BranchName),
  strategy: z.optional(z.enum(["merge", "squash"])),
})
export type MergeRequest = z.infer<typeof MergeRequest>

/** What `commit` and `merge` answer: the commit they made. */
export const CommitResult = z.object({ commit: z.string() })
export type CommitResult = z.infer<typeof CommitResult>

/** `GET /api/git?cwd=`: whether a folder lies in a git work tree (the start form asks). */
export const GitQuery = z.strictObject({
  cwd: z.string().check(
    z.minLength(1),
    z.maxLength(4096),
    z.refine((s) => s.startsWith("/") && !s.includes("\0"), {
      message: "must be an absolute path",
    }),
  ),
})
export type GitQuery = z.infer<typeof GitQuery>

/** The answer to `GET /api/git`: the work tree's top, the main work tree, the branch. */
export const GitWorkTree = z.object({ repo: z.string(), path: z.string(), branch: z.string() })
export type GitWorkTree = z.infer<typeof GitWorkTree>
