import { CommitRequest } from "@geppetto/protocol"
import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import { GitOperationError } from "../domain/git-errors.js"
import type { GitCommandRunner } from "./git-command.js"
import { requireHeadCommit } from "./refs.js"

const FALLBACK_IDENTITY = { "user.name": "Geppetto", "user.email": "geppetto@localhost" } as const

/**
 * `-c` options for what git's config lacks of an identity, so that a commit never fails for
 * want of `user.name`/`user.email`; a configured identity (or `GIT_AUTHOR_*` in the
 * environment, which wins over `-c`) is kept.
 */
export const identityArgs = (
  git: GitCommandRunner,
  cwd: string,
): Effect.Effect<ReadonlyArray<string>, GitOperationError> =>
  Effect.forEach(Object.entries(FALLBACK_IDENTITY), ([key, fallback]) =>
    git
      .exec(cwd, ["config", "--get", key], { okExitCodes: [0, 1] })
      .pipe(
        Effect.map((o) =>
          o.exitCode === 0 && o.stdout.trim() !== "" ? [] : ["-c", `${key}=${fallback}`],
        ),
      ),
  ).pipe(Effect.map((args) => args.flat()))

/** A commit message as `POST /api/runners/:id/commit` takes it. */
export const validateMessage = (message: string) =>
  CommitRequest.safeParse({ message }).success
    ? Effect.succeed(message)
    : Effect.fail(
        new ValidationError({
          field: "message",
          message: "the commit message must have text, no NUL byte and at most 64 KB",
        }),
      )

/**
 * Stages everything in the work tree at `path` (`add -A`: new, changed and deleted files,
 * ignored ones excluded) and commits it with `message`, given on stdin (`-F -`), never on argv.
 */
export const commitAll = (git: GitCommandRunner, path: string, message: string) =>
  Effect.gen(function* () {
    yield* validateMessage(message)
    yield* git.run(path, ["add", "-A", "--", "."])
    const staged = yield* git.exec(path, ["diff", "--cached", "--quiet", "--no-ext-diff"], {
      okExitCodes: [0, 1],
    })
    if (staged.exitCode === 0) {
      return yield* new GitOperationError({
        command: "git diff --cached --quiet",
        stderr: "",
        message: `nothing to commit in ${path}`,
      })
    }
    const identity = yield* identityArgs(git, path)
    yield* git.run(path, [...identity, "commit", "--quiet", "--no-edit", "-F", "-"], {
      input: message,
    })
    return { commit: yield* requireHeadCommit(git, path) }
  })
