import { BranchName } from "@geppetto/protocol"
import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import { GitOperationError } from "../domain/git-errors.js"
import type { GitCommandRunner } from "./git-command.js"

const RUNNER_ID = /^[A-Za-z0-9_.-]{1,64}$/

const invalid = (field: string, message: string) =>
  Effect.fail(new ValidationError({ field, message }))

/** `value` cut to a length fit for an error message. */
export const shown = (value: string): string =>
  JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)

/**
 * A runner id fit to name a folder under `DATA_DIR/worktrees/`: `[A-Za-z0-9_.-]{1,64}` and not
 * `.` or `..` (which the pattern alone would let through).
 */
export const validateRunnerId = (runnerId: string) =>
  RUNNER_ID.test(runnerId) && runnerId !== "." && runnerId !== ".."
    ? Effect.succeed(runnerId)
    : invalid("runnerId", `runner id ${shown(runnerId)} must match [A-Za-z0-9_.-]{1,64}`)

/**
 * A branch name checked twice: by the protocol's pattern first (so a hostile name never reaches
 * an argv), then by `git check-ref-format --branch`, which must give it back unchanged.
 */
export const validateBranchName = (
  git: GitCommandRunner,
  cwd: string,
  field: string,
  name: string,
): Effect.Effect<string, ValidationError> => {
  const refused = invalid(
    field,
    `${field} ${shown(name)} is not a valid git branch name (git check-ref-format --branch)`,
  )
  if (!BranchName.safeParse(name).success) return refused
  return git.exec(cwd, ["check-ref-format", "--branch", name], { okExitCodes: [0, 1, 128] }).pipe(
    Effect.catchAll(() => Effect.succeed(undefined)),
    Effect.flatMap((out) =>
      out !== undefined && out.exitCode === 0 && out.stdout.trim() === name
        ? Effect.succeed(name)
        : refused,
    ),
  )
}

/**
 * The branch name that `geppetto/NAME` makes of a runner name: characters git refuses become
 * `-`; `undefined` when nothing is left.
 */
export const defaultBranchFor = (name: string): string | undefined => {
  const slug = name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/^[-.]+|[-.]+$/g, "")
    .replace(/\.lock$/, "")
    .slice(0, 100)
  return slug === "" ? undefined : `geppetto/${slug}`
}

/** The commit `rev` names in `cwd`'s repository, or `undefined` when it names none. */
export const resolveCommit = (
  git: GitCommandRunner,
  cwd: string,
  rev: string,
): Effect.Effect<string | undefined, GitOperationError> =>
  git
    .exec(cwd, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`], {
      okExitCodes: [0, 1],
    })
    .pipe(Effect.map((o) => (o.exitCode === 0 ? o.stdout.trim() : undefined)))

/** The commit `refs/heads/BRANCH` points at, or `undefined` when there is no such branch. */
export const branchCommit = (git: GitCommandRunner, cwd: string, branch: string) =>
  resolveCommit(git, cwd, `refs/heads/${branch}`)

/** HEAD's commit, or `undefined` on a branch with no commit yet. */
export const headCommit = (git: GitCommandRunner, cwd: string) => resolveCommit(git, cwd, "HEAD")

/** The branch HEAD is on (`""` when detached). */
export const currentBranch = (
  git: GitCommandRunner,
  cwd: string,
): Effect.Effect<string, GitOperationError> =>
  git
    .exec(cwd, ["symbolic-ref", "--quiet", "HEAD"], { okExitCodes: [0, 1] })
    .pipe(
      Effect.map((o) =>
        o.exitCode === 0 && o.stdout.startsWith("refs/heads/")
          ? o.stdout.trim().slice("refs/heads/".length)
          : "",
      ),
    )

/** HEAD's commit, failing with a clear message when the branch has none yet. */
export const requireHeadCommit = (git: GitCommandRunner, cwd: string) =>
  headCommit(git, cwd).pipe(
    Effect.flatMap((commit) =>
      commit === undefined
        ? Effect.fail(
            new GitOperationError({
              command: "git rev-parse --verify HEAD^{commit}",
              stderr: "",
              message: `the repository at ${cwd} has no commit yet: commit once first`,
            }),
          )
        : Effect.succeed(commit),
    ),
  )

/** `ancestor` is `descendant` or one of its ancestors. */
export const isAncestor = (
  git: GitCommandRunner,
  cwd: string,
  ancestor: string,
  descendant: string,
): Effect.Effect<boolean, GitOperationError> =>
  git
    .exec(cwd, ["merge-base", "--is-ancestor", "--end-of-options", ancestor, descendant], {
      okExitCodes: [0, 1],
    })
    .pipe(Effect.map((o) => o.exitCode === 0))
