import { Either, Schema } from "effect"
import { WorkspaceSchema } from "./runner-codec.js"
import type { RunnerState } from "./runner-state.js"

/** Longest prompt kept in tmux; the journal has the whole prompt. */
const MAX_META_PROMPT = 2_000

/**
 * What a runner's tmux session carries about it (`@geppetto-meta`), so a server that lost its
 * journal, or crashed between starting a session and journaling it, can still list it.
 * base64url JSON: an option value then never holds a newline, quote or `#{`.
 */
const RunnerMeta = Schema.Struct({
  name: Schema.String,
  mode: Schema.Literal("interactive", "oneshot"),
  cwd: Schema.String,
  createdAt: Schema.Number,
  adopted: Schema.Boolean,
  prompt: Schema.optional(Schema.String),
  accountId: Schema.optional(Schema.String),
  maxDurationMs: Schema.optional(Schema.Number),
  workspace: Schema.optional(WorkspaceSchema),
  scheduleId: Schema.optional(Schema.String),
})
export type RunnerMeta = typeof RunnerMeta.Type

export const encodeRunnerMeta = (s: RunnerState): string => {
  const meta: RunnerMeta = {
    name: s.name,
    mode: s.mode,
    cwd: s.cwd,
    createdAt: s.createdAt,
    adopted: s.adopted,
    ...(s.prompt !== undefined ? { prompt: s.prompt.slice(0, MAX_META_PROMPT) } : {}),
    ...(s.accountId !== undefined ? { accountId: s.accountId } : {}),
    ...(s.maxDurationMs !== undefined ? { maxDurationMs: s.maxDurationMs } : {}),
    ...(s.workspace !== undefined ? { workspace: s.workspace } : {}),
    ...(s.scheduleId !== undefined ? { scheduleId: s.scheduleId } : {}),
  }
  return Buffer.from(JSON.stringify(meta)).toString("base64url")
}

const decode = Schema.decodeUnknownEither(Schema.parseJson(RunnerMeta))

/** The session's meta, or undefined when absent or unreadable (the listing still works). */
export const decodeRunnerMeta = (value: string | undefined): RunnerMeta | undefined => {
  if (value === undefined || !/^[A-Za-z0-9_-]*$/.test(value)) return undefined
  const decoded = decode(Buffer.from(value, "base64url").toString("utf8"))
  return Either.isRight(decoded) ? decoded.right : undefined
}
