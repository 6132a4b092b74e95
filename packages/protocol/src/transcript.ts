import * as z from "zod/mini"

const Tokens = z.int().check(z.nonnegative())

/**
 * Tokens (a runner's, or a sum of runners'), each model message counted once, and the cost of
 * those whose model has a price. Tokens of a model with no price (config.json `prices`) are
 * counted in `unpricedTokens`; the cost of the rest is still given.
 */
export const RunnerUsage = z.object({
  inputTokens: Tokens,
  outputTokens: Tokens,
  cacheReadTokens: Tokens,
  cacheWriteTokens: Tokens,
  /**
   * USD of the tokens whose model has a price. Absent when tokens were used and none of them
   * has a price (nothing of the cost is known).
   */
  costUsd: z.optional(z.number().check(z.nonnegative())),
  /**
   * Tokens (all four kinds) of models with no price, left out of `costUsd`; absent when none.
   * Before this field, a figure with any such tokens had no `costUsd` at all.
   */
  unpricedTokens: z.optional(Tokens),
})
export type RunnerUsage = z.infer<typeof RunnerUsage>

export const TRANSCRIPT_MAX_LIMIT = 500

const EntryNumber = z.pipe(
  z.pipe(z.string().check(z.regex(/^[0-9]{1,12}$/, "must be a whole number")), z.transform(Number)),
  z.int().check(z.nonnegative()),
)

/**
 * `GET /api/runners/:id/transcript?after=&before=&limit=`: entries are numbered (`seq`) from 0.
 * No cursor: the newest `limit`. `before=N`: the `limit` entries below N (scrolling back).
 * `after=N`: entries from N on (a live view asks with `after=total` of its last page).
 */
export const TranscriptQuery = z.strictObject({
  after: z.optional(EntryNumber),
  before: z.optional(EntryNumber),
  limit: z.optional(
    z.pipe(
      z.pipe(
        z.string().check(z.regex(/^[0-9]{1,3}$/, "must be an integer from 1 to 500")),
        z.transform(Number),
      ),
      z.int().check(z.minimum(1), z.maximum(TRANSCRIPT_MAX_LIMIT)),
    ),
  ),
})
export type TranscriptQuery = z.infer<typeof TranscriptQuery>

/** What one transcript entry is: a message of either side, a tool call or its result, or a note. */
export const TranscriptKind = z.enum(["user", "assistant", "tool-call", "tool-result", "system"])
export type TranscriptKind = z.infer<typeof TranscriptKind>

/** One entry: a message, a tool call (with its input) or its result, or a note of the agent's. */
export const TranscriptEntry = z.object({
  seq: z.int().check(z.nonnegative()),
  /** Epoch ms, when the agent's line carries a time. */
  at: z.optional(z.number()),
  kind: TranscriptKind,
  /** Markdown for messages (untrusted: render sanitized), plain text for results. */
  text: z.optional(z.string()),
  tool: z.optional(z.string()),
  input: z.optional(z.unknown()),
  isError: z.optional(z.boolean()),
  /** Pairs a tool call with its result. */
  callId: z.optional(z.string()),
  /** `text` (8,000 characters) or `input` (4,000 of JSON) was cut. */
  truncated: z.optional(z.boolean()),
})
export type TranscriptEntry = z.infer<typeof TranscriptEntry>

/** `GET /api/runners/:id/transcript`: a page of the agent's own session file, and its usage. */
export const TranscriptResponse = z.object({
  provider: z.string(),
  sessionId: z.string(),
  entries: z.array(TranscriptEntry),
  /** Entries so far; the next live page is `after=total`. */
  total: z.int().check(z.nonnegative()),
  /** Lines of the agent's file that could not be read (another version's shape, torn writes). */
  skipped: z.int().check(z.nonnegative()),
  /** This runner's part of the session's usage (see `RunnerSummary.usage`). */
  usage: RunnerUsage,
  model: z.optional(z.string()),
})
export type TranscriptResponse = z.infer<typeof TranscriptResponse>

/** `GET /api/usage?since=&by=`: `since` an ISO date or epoch ms (default: 30 days ago). */
export const UsageQuery = z.strictObject({
  since: z.optional(
    z.string().check(
      z.maxLength(40),
      z.refine((s) => Number.isFinite(/^[0-9]+$/.test(s) ? Number(s) : Date.parse(s)), {
        message: "must be an ISO date or epoch milliseconds",
      }),
    ),
  ),
  by: z.optional(z.enum(["day", "provider", "account"])),
})
export type UsageQuery = z.infer<typeof UsageQuery>

/** One total of `GET /api/usage`: a day, a provider or an account, as `by` asked. */
export const UsageGroup = z.object({
  /** The day (`YYYY-MM-DD`, server local time), the provider, or the account (`""`: none). */
  key: z.string(),
  runners: z.int().check(z.nonnegative()),
  usage: RunnerUsage,
})
export type UsageGroup = z.infer<typeof UsageGroup>

/** `200` of `GET /api/usage`: the totals, one per group. */
export const UsageResponse = z.object({
  since: z.int(),
  by: z.enum(["day", "provider", "account"]),
  groups: z.array(UsageGroup),
  total: RunnerUsage,
})
export type UsageResponse = z.infer<typeof UsageResponse>
