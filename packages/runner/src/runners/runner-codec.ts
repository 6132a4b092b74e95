import { Either, ParseResult, Schema } from "effect"
import { ScreenAnswer } from "../attention/rules.js"
import type { JournalData } from "../journal/records.js"
import type { RunnerState } from "./runner-state.js"

const Millis = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())
const Count = Schema.Int.pipe(Schema.nonNegative())
const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

const RunnerMetricsSchema = Schema.Struct({
  bytesOut: Count,
  lines: Count,
  startedAt: optional(Millis),
  endedAt: optional(Millis),
  activeMs: Millis,
  idleMs: Millis,
  lastActivityAt: optional(Millis),
  attentionCount: Count,
  waitingMs: Millis,
  exitCode: optional(Schema.Int),
})

export const WorkspaceSchema = Schema.Struct({
  repo: Schema.String,
  path: Schema.String,
  branch: Schema.String,
  base: Schema.String,
  baseCommit: Schema.String,
  isolated: Schema.Boolean,
  additions: optional(Count),
  deletions: optional(Count),
  missing: optional(Schema.Boolean),
})

/** The journal's view of a runner: `RunnerState` as plain JSON, checked on the way back in. */
export const RunnerStateSchema = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  provider: Schema.String,
  mode: Schema.Literal("interactive", "oneshot"),
  cwd: Schema.String,
  prompt: optional(Schema.String),
  accountId: optional(Schema.String),
  maxDurationMs: optional(Millis),
  adopted: Schema.Boolean,
  cols: optional(Count),
  rows: optional(Count),
  createdAt: Millis,
  startedAt: optional(Millis),
  endedAt: optional(Millis),
  exitCode: optional(Schema.Int),
  signal: optional(Schema.String),
  failureReason: optional(Schema.String),
  live: Schema.Boolean,
  paused: Schema.Boolean,
  stopCause: optional(Schema.Literal("terminated", "timeout")),
  activity: Schema.Literal("active", "idle"),
  activitySince: Millis,
  waitingForInput: Schema.Boolean,
  attentionReason: optional(Schema.String),
  attentionSince: optional(Millis),
  answers: optional(Schema.Array(ScreenAnswer)),
  attentionId: optional(Schema.String),
  attentionRuleId: optional(Schema.String),
  attentionDetail: optional(Schema.String),
  attentionFingerprint: optional(Schema.String),
  attentionYes: optional(ScreenAnswer),
  autoApprove: optional(Schema.Struct({ allow: Schema.Array(Schema.String) })),
  autoAnsweredId: optional(Schema.String),
  lastError: optional(Schema.String),
  lastLine: optional(Schema.String),
  workspace: optional(WorkspaceSchema),
  scheduleId: optional(Schema.String),
  parentId: optional(Schema.String),
  agentSession: optional(
    Schema.Struct({
      id: optional(Schema.String),
      home: optional(Schema.String),
      forkOf: optional(Schema.String),
    }),
  ),
  usage: optional(
    Schema.Struct({
      inputTokens: Count,
      outputTokens: Count,
      cacheReadTokens: Count,
      cacheWriteTokens: Count,
      costUsd: optional(Schema.Number.pipe(Schema.finite(), Schema.nonNegative())),
      unpricedTokens: optional(Count),
    }),
  ),
  budgetNotice: optional(Schema.Struct({ id: Schema.String, detail: Schema.String, at: Millis })),
  budgetCrossings: optional(Schema.Array(Schema.String)),
  metrics: RunnerMetricsSchema,
})

// Compile-time check that the schema and the state type agree both ways.
type SchemaType = typeof RunnerStateSchema.Type
const _toState = (s: SchemaType): RunnerState => s
const _toSchema = (s: RunnerState): SchemaType => s
void _toState
void _toSchema

const decode = Schema.decodeUnknownEither(RunnerStateSchema)

export const encodeRunnerState = (s: RunnerState): JournalData => ({ ...s })

/** A journaled runner, or why it cannot be read (the caller skips it with a warning). */
export const decodeRunnerState = (data: unknown): Either.Either<RunnerState, string> =>
  Either.mapLeft(decode(data), (e) => ParseResult.TreeFormatter.formatErrorSync(e))
