/** What one line of an agent's session file says, as the Conversation view shows it. */
export type TranscriptKind = "user" | "assistant" | "tool-call" | "tool-result" | "system"

/** One entry of a transcript; `seq` numbers entries from 0 in file order. */
export interface TranscriptEntry {
  readonly seq: number
  /** Epoch milliseconds, when the line carries a time. */
  readonly at?: number
  readonly kind: TranscriptKind
  readonly text?: string
  /** A tool call's (or result's) tool name. */
  readonly tool?: string
  /** A tool call's input, as JSON (cut at `MAX_INPUT_CHARS` characters of JSON). */
  readonly input?: unknown
  readonly isError?: boolean
  /** Links a tool call with its result. */
  readonly callId?: string
  /** `text` or `input` was cut to keep memory bounded. */
  readonly truncated?: boolean
}

/** An entry before it is numbered: what a line parser gives. */
export type ParsedEntry = Omit<TranscriptEntry, "seq">

/** Token counts: each message counted once. */
export interface TokenUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
}

export const zeroUsage: TokenUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
}

export const addUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
})

/**
 * What a line says about usage. `message`: the usage of one model message, which may be
 * repeated on several lines (Claude Code writes one line per content block, each with the
 * message's usage so far): counted once per `id`, the largest figures winning. `total`: a
 * running total of the session (Codex `token_count`), which replaces the previous one.
 */
export type UsageReport = (
  | {
      readonly type: "message"
      readonly id: string
      readonly model: string | undefined
      readonly usage: TokenUsage
    }
  | { readonly type: "total"; readonly model: string | undefined; readonly usage: TokenUsage }
) & {
  /** When the line was written (ms), where it says: a continued session's earlier lines are not its runner's. */
  readonly at?: number
}

/** What a provider's line parser returns for one line; `undefined` for a line it cannot read. */
export interface ParsedLine {
  readonly entries: ReadonlyArray<ParsedEntry>
  readonly usage?: UsageReport
  /** The model the session uses from here on (Codex `turn_context`). */
  readonly model?: string
  /**
   * For files that write a record again whole as it changes (Gemini CLI): a key per entry
   * (same order), and an entry whose key was shown since the last `reset` is not shown again.
   */
  readonly keys?: ReadonlyArray<string>
  /** Nothing before this line is written again after it (a new turn): the keys are forgotten. */
  readonly reset?: boolean
}

/** Longest `text` kept per entry; the rest is in the agent's file. */
export const MAX_TEXT_CHARS = 8_000
/** Longest tool input kept per entry, as JSON. */
export const MAX_INPUT_CHARS = 4_000

export const clipText = (text: string): { text: string; truncated?: true } =>
  text.length > MAX_TEXT_CHARS
    ? { text: `${text.slice(0, MAX_TEXT_CHARS)}…`, truncated: true }
    : { text }

export const clipInput = (input: unknown): { input: unknown; truncated?: true } => {
  if (input === undefined) return { input }
  const json = JSON.stringify(input) ?? ""
  return json.length > MAX_INPUT_CHARS
    ? { input: `${json.slice(0, MAX_INPUT_CHARS)}…`, truncated: true }
    : { input }
}

export const epochOf = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  return Number.isFinite(ms) ? ms : undefined
}
