import { Either, Schema } from "effect"
import { clipInput, clipText, epochOf, type ParsedEntry, type ParsedLine } from "./entry.js"

/*
 * Codex CLI's rollout file: `CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`, one
 * `{ timestamp, type, payload }` a line. `session_meta` (first line: id, cwd, time),
 * `turn_context` (the model), `response_item` (messages, function calls and their output) and
 * `event_msg` (`token_count` with the session's running total) are read; the rest is ignored.
 * The same conversation is also echoed as `event_msg` `user_message` / `agent_message`: those
 * are skipped so a message shows once.
 */

const Count = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

const TokenTotals = Schema.Struct({
  input_tokens: Schema.optional(Count),
  cached_input_tokens: Schema.optional(Count),
  output_tokens: Schema.optional(Count),
})

const ContentPart = Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })

const Payload = Schema.Struct({
  type: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  cwd: Schema.optional(Schema.String),
  timestamp: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  role: Schema.optional(Schema.String),
  content: Schema.optional(Schema.NullOr(Schema.Array(ContentPart))),
  name: Schema.optional(Schema.String),
  arguments: Schema.optional(Schema.String),
  input: Schema.optional(Schema.String),
  call_id: Schema.optional(Schema.String),
  output: Schema.optional(Schema.Unknown),
  info: Schema.optional(
    Schema.NullOr(Schema.Struct({ total_token_usage: Schema.optional(TokenTotals) })),
  ),
})

const Line = Schema.Struct({
  timestamp: Schema.optional(Schema.String),
  type: Schema.String,
  payload: Schema.optional(Payload),
})

const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(Line))

/** The first line of a rollout: which session, where and when it started. */
export interface CodexSessionMeta {
  readonly id: string | undefined
  readonly cwd: string | undefined
  readonly startedAt: number | undefined
}

export const codexSessionMeta = (line: string): CodexSessionMeta | undefined => {
  const decoded = decodeLine(line)
  if (Either.isLeft(decoded) || decoded.right.type !== "session_meta") return undefined
  const p = decoded.right.payload
  return {
    id: p?.id,
    cwd: p?.cwd,
    startedAt: epochOf(p?.timestamp ?? decoded.right.timestamp),
  }
}

const parseArguments = (raw: string | undefined): unknown => {
  if (raw === undefined) return undefined
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return raw
  }
}

/** A function call's output: a string, or `{ content, success }` in some versions. */
const outputOf = (output: unknown): { text: string; isError: boolean } => {
  if (typeof output === "string") {
    // 0.2x wrote `{"output": "...", "metadata": {"exit_code": N}}` as a string.
    try {
      const parsed = JSON.parse(output) as { output?: unknown; metadata?: { exit_code?: unknown } }
      if (typeof parsed === "object" && parsed !== null && typeof parsed.output === "string") {
        const code = parsed.metadata?.exit_code
        return { text: parsed.output, isError: typeof code === "number" && code !== 0 }
      }
    } catch {
      // plain text
    }
    return { text: output, isError: false }
  }
  if (typeof output === "object" && output !== null) {
    const o = output as { content?: unknown; success?: unknown }
    return {
      text: typeof o.content === "string" ? o.content : JSON.stringify(output),
      isError: o.success === false,
    }
  }
  return { text: "", isError: false }
}

/** One line of a Codex rollout; `undefined` when it is not JSON of the known shape. */
export const parseCodexLine = (line: string): ParsedLine | undefined => {
  const decoded = decodeLine(line)
  if (Either.isLeft(decoded)) return undefined
  const l = decoded.right
  const p = l.payload
  const at = epochOf(l.timestamp)
  const when = at === undefined ? {} : { at }
  if (p === undefined) return { entries: [] }
  if (l.type === "turn_context")
    return p.model === undefined ? { entries: [] } : { entries: [], model: p.model }
  if (l.type === "event_msg") {
    const total = p.info?.total_token_usage
    if (p.type !== "token_count" || total === undefined) return { entries: [] }
    const input = total.input_tokens ?? 0
    const cached = total.cached_input_tokens ?? 0
    return {
      entries: [],
      usage: {
        type: "total",
        model: undefined,
        ...when,
        // Codex counts cached input inside input_tokens.
        usage: {
          inputTokens: Math.max(0, input - cached),
          outputTokens: total.output_tokens ?? 0,
          cacheReadTokens: cached,
          cacheWriteTokens: 0,
        },
      },
    }
  }
  if (l.type !== "response_item") return { entries: [] }
  const entries: ParsedEntry[] = []
  switch (p.type) {
    case "message": {
      const text = (p.content ?? [])
        .map((c) => c.text ?? "")
        .filter((t) => t !== "")
        .join("\n")
      if (text === "") break
      // Codex sends its instructions and environment as user / developer messages.
      const kind =
        p.role === "assistant"
          ? "assistant"
          : p.role === "user" &&
              !text.startsWith("<environment_context>") &&
              !text.startsWith("<user_instructions>")
            ? "user"
            : "system"
      entries.push({ ...when, kind, ...clipText(text) })
      break
    }
    case "function_call":
    case "custom_tool_call":
    case "local_shell_call": {
      const { input, truncated } = clipInput(parseArguments(p.arguments ?? p.input))
      entries.push({
        ...when,
        kind: "tool-call",
        tool: p.name ?? p.type,
        ...(input === undefined ? {} : { input }),
        ...(p.call_id === undefined ? {} : { callId: p.call_id }),
        ...(truncated ? { truncated } : {}),
      })
      break
    }
    case "function_call_output":
    case "custom_tool_call_output": {
      const { text, isError } = outputOf(p.output)
      entries.push({
        ...when,
        kind: "tool-result",
        ...clipText(text),
        ...(isError ? { isError } : {}),
        ...(p.call_id === undefined ? {} : { callId: p.call_id }),
      })
      break
    }
    default:
      break
  }
  return { entries }
}
