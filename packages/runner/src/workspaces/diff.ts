import { randomUUID } from "node:crypto"
import { copyFile, mkdir, rm } from "node:fs/promises"
import { join } from "node:path"
import type { DiffFile, Workspace, WorkspaceDiff } from "@geppetto/protocol"
import { Effect } from "effect"
import { GitOperationError } from "../domain/git-errors.js"
import { mergeListings, parseNameStatus, parseNumstat, splitPatch } from "./diff-parse.js"
import type { GitCommandRunner } from "./git-command.js"
import { requireHeadCommit } from "./refs.js"

/** Bounds of a diff's patch (the file list is always whole). */
export interface DiffLimits {
  /** The whole patch (default 2 MB). */
  readonly maxPatchBytes: number
  /** One file's part of it (default 512 KB). */
  readonly maxFileBytes: number
}

export const DEFAULT_DIFF_LIMITS: DiffLimits = {
  maxPatchBytes: 2 * 1024 * 1024,
  maxFileBytes: 512 * 1024,
}

/** Past this many files too large to show, no patch is asked for at all (argv stays small). */
const MAX_EXCLUDED = 500

/** Options that keep a user's config from changing what we parse. */
const DIFF_FLAGS = [
  "--no-color",
  "--no-ext-diff",
  "--no-textconv",
  "--no-relative",
  "--src-prefix=a/",
  "--dst-prefix=b/",
  "-M",
]

const fsError = (what: string) => (cause: unknown) =>
  new GitOperationError({
    command: what,
    stderr: "",
    message: `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
  })

/**
 * A temporary index holding the whole work tree at `path` (`git add -A` into a copy of the
 * real index, whose stat data spares rehashing unchanged files). The real index and the work
 * tree are only read; the copy is deleted when the scope closes. `add -A` does write blobs of
 * new content to the object store, where unreachable ones are left to `git gc`.
 */
const temporaryIndex = (git: GitCommandRunner, tmpDir: string, path: string) =>
  Effect.gen(function* () {
    const realIndex = (yield* git.run(path, [
      "rev-parse",
      "--path-format=absolute",
      "--git-path",
      "index",
    ])).trim()
    const file = join(tmpDir, `index-${randomUUID()}`)
    yield* Effect.addFinalizer(() =>
      Effect.promise(() =>
        Promise.all([rm(file, { force: true }), rm(`${file}.lock`, { force: true })]),
      ),
    )
    const copied = yield* Effect.tryPromise({
      try: async () => {
        await mkdir(tmpDir, { recursive: true, mode: 0o700 })
        return copyFile(realIndex, file).then(
          () => true,
          (cause: NodeJS.ErrnoException) => {
            if (cause.code === "ENOENT") return false
            throw cause
          },
        )
      },
      catch: fsError(`copy of the index ${realIndex}`),
    })
    const env = { GIT_INDEX_FILE: file }
    // No real index (never so in a worktree we made): start from HEAD's tree.
    if (!copied) yield* git.run(path, ["read-tree", "HEAD"], { env })
    yield* git.run(path, ["add", "-A", "--", "."], { env })
    return env
  })

/** A file whose patch has at least this many bytes: two per changed line (`+` and `\n`). */
const surelyTooLarge = (file: DiffFile, limits: DiffLimits) =>
  (file.additions + file.deletions) * 2 > limits.maxFileBytes

/**
 * Everything in the workspace against its `baseCommit`: commits, staged and unstaged changes
 * and untracked files (ignored ones excluded), read from a temporary index so that the real
 * one is never written. The patch is bounded: a file past `maxFileBytes`, and every file once
 * the patch reaches `maxPatchBytes`, is listed `omitted` (still counted) and `truncated` set.
 */
export const diffWorkspace = (
  git: GitCommandRunner,
  tmpDir: string,
  workspace: Workspace,
  options: { readonly stat?: boolean; readonly limits?: DiffLimits } = {},
): Effect.Effect<WorkspaceDiff, GitOperationError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const limits = options.limits ?? DEFAULT_DIFF_LIMITS
      const { path, baseCommit } = workspace
      const headCommit = yield* requireHeadCommit(git, path)
      const env = yield* temporaryIndex(git, tmpDir, path)
      const diff = (format: ReadonlyArray<string>, pathspecs: ReadonlyArray<string>) => [
        "-c",
        "core.quotePath=false",
        "diff",
        "--cached",
        ...DIFF_FLAGS,
        ...format,
        "--end-of-options",
        baseCommit,
        "--",
        ...pathspecs,
      ]
      const numstat = yield* git.run(path, diff(["--numstat", "-z"], []), { env })
      const statuses = yield* git.run(path, diff(["--name-status", "-z"], []), { env })
      const files = mergeListings(parseNumstat(numstat), parseNameStatus(statuses))
      if (options.stat === true) return { baseCommit, headCommit, files, patch: "" }

      const tooLarge = files.filter((f) => surelyTooLarge(f, limits))
      if (tooLarge.length > MAX_EXCLUDED) {
        return {
          baseCommit,
          headCommit,
          files: files.map((f) => ({ ...f, omitted: true })),
          patch: "",
          truncated: true,
        }
      }
      const patchOf = (left: ReadonlyArray<DiffFile>) => {
        // A renamed file is left out by both its paths, or its old path would show as deleted.
        const paths = left.flatMap((f) =>
          f.oldPath === undefined ? [f.path] : [f.path, f.oldPath],
        )
        const pathspecs =
          paths.length === 0 ? [] : [".", ...paths.map((p) => `:(exclude,literal)${p}`)]
        // Room for one file dropped for its own size, so that it cannot starve all the others.
        const maxBytes = limits.maxPatchBytes + limits.maxFileBytes
        return git.exec(path, diff(["--patch"], pathspecs), { env, maxBytes, overflow: "truncate" })
      }
      const first = yield* patchOf(tooLarge)
      const bounded = boundPatch(files, tooLarge, first.stdout, first.truncated, limits)
      if (!first.truncated || bounded.oversized.length === 0)
        return { baseCommit, headCommit, ...bounded.diff }
      // Files too large only by their patch ate the room of the others: once more without them.
      const left = [...tooLarge, ...bounded.oversized]
      const second = yield* patchOf(left)
      return {
        baseCommit,
        headCommit,
        ...boundPatch(files, left, second.stdout, second.truncated, limits).diff,
      }
    }),
  )

/**
 * Fits the patch to its bounds, file by file: pieces come in the file list's order (the same
 * diff queue), the `tooLarge` files having been left out of it.
 */
export const boundPatch = (
  files: ReadonlyArray<DiffFile>,
  tooLarge: ReadonlyArray<DiffFile>,
  patch: string,
  cut: boolean,
  limits: DiffLimits,
): {
  readonly diff: Pick<WorkspaceDiff, "files" | "patch" | "truncated">
  /** Files left out for their own patch's size (not for the total bound). */
  readonly oversized: ReadonlyArray<DiffFile>
} => {
  const skipped = new Set(tooLarge)
  const shown = files.filter((f) => !skipped.has(f))
  const pieces = splitPatch(patch)
  if (cut ? pieces.length > shown.length : pieces.length !== shown.length) {
    // Not one piece per file (never seen): keep the patch whole if it fits, else nothing.
    const fits = !cut && Buffer.byteLength(patch) <= limits.maxPatchBytes
    return {
      diff: {
        files: files.map((f) => (skipped.has(f) || !fits ? { ...f, omitted: true } : f)),
        patch: fits ? patch : "",
        ...(fits && skipped.size === 0 ? {} : { truncated: true }),
      },
      oversized: [],
    }
  }
  const kept: Array<string> = []
  const omitted = new Set<DiffFile>(skipped)
  const oversized: Array<DiffFile> = []
  let total = 0
  let full = false
  shown.forEach((file, i) => {
    const piece = pieces[i]
    // The last piece of a cut patch is incomplete.
    const whole = piece !== undefined && !(cut && i === pieces.length - 1)
    const bytes = piece === undefined ? 0 : Buffer.byteLength(piece)
    if (!full && whole && bytes > limits.maxFileBytes) {
      omitted.add(file)
      oversized.push(file)
      return
    }
    if (full || !whole || total + bytes > limits.maxPatchBytes) {
      // Past the total bound, later files are left out too: the patch is a prefix of git's.
      omitted.add(file)
      full = true
      return
    }
    kept.push(piece)
    total += bytes
  })
  return {
    diff: {
      files: files.map((f) => (omitted.has(f) ? { ...f, omitted: true } : f)),
      patch: kept.join(""),
      ...(omitted.size === 0 ? {} : { truncated: true }),
    },
    oversized,
  }
}
