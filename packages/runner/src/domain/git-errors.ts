import { Schema } from "effect"

/**
 * A git command failed, or a workspace operation git refused: an existing branch, a merge
 * conflict, a target with uncommitted changes, nothing to commit. Carries the git command
 * (argv, never run through a shell) and what git printed on stderr. Changes nothing.
 */
export class GitOperationError extends Schema.TaggedError<GitOperationError>()(
  "GitOperationError",
  {
    /** The git argv, for the log and the error payload (no secrets: git gets none). */
    command: Schema.String,
    stderr: Schema.String,
    message: Schema.String,
    exitCode: Schema.optional(Schema.Number),
    /** Files in conflict, when a merge was refused for that. */
    conflicts: Schema.optional(Schema.Array(Schema.String)),
  },
) {}
