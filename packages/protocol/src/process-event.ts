import * as z from "zod/mini"

const Timestamp = z.int().check(z.nonnegative())

/** Where output bytes came from: the tmux pane (a terminal), or a plain child's pipes. */
export const OutputSource = z.enum(["pty", "stdout", "stderr"])
export type OutputSource = z.infer<typeof OutputSource>

export const ActivityState = z.enum(["active", "idle"])
export type ActivityState = z.infer<typeof ActivityState>

/** Why a runner waits for a person. Open-ended on purpose: screen rules may add reasons. */
export const AttentionReason = z.string().check(z.minLength(1), z.maxLength(64))
export type AttentionReason = z.infer<typeof AttentionReason>

export const RunnerStatus = z.enum(["idle", "running", "paused", "completed", "failed"])
export type RunnerStatus = z.infer<typeof RunnerStatus>

export const ErrorPayload = z.object({
  /** The domain error's `_tag`, e.g. `TmuxSessionError`. */
  code: z.string(),
  /** A message safe to show a client: what failed and with which id. */
  message: z.string(),
})
export type ErrorPayload = z.infer<typeof ErrorPayload>

/**
 * Output of a process. `offset` is the absolute byte offset of the first byte in the
 * runner's output since it started; it is stable across log rotation and server restarts.
 * `data` is base64 in JSON form.
 */
export const OutputEvent = z.object({
  type: z.literal("output"),
  timestamp: Timestamp,
  source: OutputSource,
  offset: z.int().check(z.nonnegative()),
  data: z.string(),
})

export const ActivityEvent = z.object({
  type: z.literal("activity"),
  timestamp: Timestamp,
  state: ActivityState,
})

/** The process ended: `exitCode` for a normal exit, `signal` (e.g. `SIGKILL`) when killed. */
export const ExitEvent = z.object({
  type: z.literal("exit"),
  timestamp: Timestamp,
  exitCode: z.nullable(z.int()),
  signal: z.nullable(z.string()),
})

export const ErrorEvent = z.object({
  type: z.literal("error"),
  timestamp: Timestamp,
  error: ErrorPayload,
})

export const AttentionEvent = z.object({
  type: z.literal("attention"),
  timestamp: Timestamp,
  waitingForInput: z.boolean(),
  reason: z.optional(AttentionReason),
})

export const StatusEvent = z.object({
  type: z.literal("status"),
  timestamp: Timestamp,
  status: RunnerStatus,
})

/**
 * The log writer of a pane stopped while the pane ran (killed, or could not write) and was
 * started again. Output printed in between is missing from the log and its size is unknown
 * (`bytesLost: null`); the log itself stays one run of offsets, continuing at `offset`.
 */
export const LogGapEvent = z.object({
  type: z.literal("log-gap"),
  timestamp: Timestamp,
  /** The tmux pane id (`%12`) whose log has the gap. */
  pane: z.string(),
  /** The log offset where the gap sits: bytes before it were logged, bytes after it are newer. */
  offset: z.int().check(z.nonnegative()),
  bytesLost: z.null(),
  reason: z.string(),
})

/**
 * The server answered a permission prompt for a person: `autoApprove` allowed `detail`, and
 * the rule's yes answer `label` was typed, once, for the prompt `attentionId`.
 */
export const AutoReplyEvent = z.object({
  type: z.literal("auto-reply"),
  timestamp: Timestamp,
  attentionId: z.string(),
  detail: z.string(),
  label: z.string(),
  /** The `allow` pattern that matched. */
  pattern: z.string(),
})

/** Everything a monitored process reports, in the order it happened. */
export const ProcessEvent = z.discriminatedUnion("type", [
  OutputEvent,
  ActivityEvent,
  ExitEvent,
  ErrorEvent,
  AttentionEvent,
  StatusEvent,
  LogGapEvent,
  AutoReplyEvent,
])
export type ProcessEvent = z.infer<typeof ProcessEvent>
