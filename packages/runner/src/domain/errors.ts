import { Schema } from "effect"

/** A monitored process could not be started, watched or stopped. */
export class ProcessMonitorError extends Schema.TaggedError<ProcessMonitorError>()(
  "ProcessMonitorError",
  {
    processId: Schema.String,
    message: Schema.String,
    cause: Schema.optional(Schema.String),
  },
) {}

/** A tmux command failed, or tmux itself is missing, too old or gone. */
export class TmuxSessionError extends Schema.TaggedError<TmuxSessionError>()("TmuxSessionError", {
  sessionName: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.String),
}) {}

/** A runner operation failed on the runner's side (pause of a pane that is gone, ...). */
export class AiRunnerError extends Schema.TaggedError<AiRunnerError>()("AiRunnerError", {
  runnerId: Schema.String,
  provider: Schema.String,
  operation: Schema.optional(Schema.String),
  message: Schema.String,
}) {}

/**
 * A quick answer for a prompt the runner no longer waits on, or no longer shows on its screen:
 * nothing was typed (an old notification must never answer a later dialog).
 */
export class PromptChangedError extends Schema.TaggedError<PromptChangedError>()(
  "PromptChangedError",
  {
    runnerId: Schema.String,
    attentionId: Schema.String,
    message: Schema.String,
  },
) {}

/** Input that breaks a rule: a bad name, a relative cwd, an env key with `=`. Changes nothing. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  field: Schema.String,
  message: Schema.String,
}) {}

/** Something asked for by id does not exist. */
export class NotFoundError extends Schema.TaggedError<NotFoundError>()("NotFoundError", {
  resource: Schema.String,
  id: Schema.String,
  message: Schema.String,
}) {}

/** The rolling log of a process could not be read, written or pruned. */
export class LogStoreError extends Schema.TaggedError<LogStoreError>()("LogStoreError", {
  logDir: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.String),
}) {}

/**
 * The data dir cannot take what a request needs written: the disk is full, or it is read-only.
 * Not the client's fault and not a bug; it passes once an operator makes room.
 */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  path: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.String),
}) {}

/** Best-effort text of an unknown cause, for the `cause` field of an error. */
export const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

/** Wraps a lower-level failure as the `ProcessMonitorError` of `processId`, saying what was tried. */
export const processMonitorFailure =
  (processId: string, message: string) =>
  (cause: { readonly message: string }): ProcessMonitorError =>
    new ProcessMonitorError({
      processId,
      message: `${message}: ${cause.message}`,
      cause: cause.message,
    })

/** A request without valid credentials: none, a wrong token, a session that expired. */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()(
  "AuthenticationError",
  {
    /** Says what to send; never echoes the credentials given. */
    message: Schema.String,
  },
) {}

/**
 * Valid credentials that may not do this: a viewer asking for an operator's action, or a
 * browser page from another origin. `required` is what would have been allowed.
 */
export class ForbiddenError extends Schema.TaggedError<ForbiddenError>()("ForbiddenError", {
  required: Schema.Literal("operator", "same-origin"),
  message: Schema.String,
}) {}
