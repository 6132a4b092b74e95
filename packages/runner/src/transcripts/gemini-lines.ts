import { Either, Schema } from "effect"
import { clipInput, clipText, epochOf, type ParsedEntry, type ParsedLine } from "./entry.js"

/*
 * Gemini CLI's session file (read from `@google/gemini-cli` 0.61.0's ChatRecordingService):
 * `<GEMINI_CLI_HOME or ~>/.gemini/tmp/<project>/chats/session-<YYYY-MM-DDTHH-MM>-<id8>.jsonl`,
 * where `<project>` is a short name Gemini keeps in its own `projects.json`. One JSON object a
 * line: first the session's metadata (`sessionId`, `projectHash` = sha256 of the project
 * root, `startTime`), then message records `{ id, timestamp, type: "user" | "gemini" | "info" |
 * "error" | "warning", content, tokens?, model?, toolCalls? }`, and `{ "$set": … }` /
 * `{ "$rewindTo": id }` updates. A `gemini` message is written again, whole, each time it
 * changes (its tokens arrive, its tool calls complete): each part of it is keyed so the index
 * shows it once (`ParsedLine.keys`), and its tokens count once by message id. A rewind is not
 * undone here: what was said stays in the transcript. Older versions kept one
 * `session-*.json` document, rewritten whole: not read.
 */

const Count = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

const Tokens = Schema.Struct({
  input: Schema.optional(Count),
  output: Schema.optional(Count),
  cached: Schema.optional(Count),
  thoughts: Schema.optional(Count),
  tool: Schema.optional(Count),
})

const ToolCall = Schema.Struct({
  id: Schema.String,
  name: Schema.optional(Schema.String),
  args: Schema.optional(Schema.Unknown),
  status: Schema.optional(Schema.String),
  result: Schema.optional(Schema.Unknown),
  resultDisplay: Schema.optional(Schema.Unknown),
  timestamp: Schema.optional(Schema.String),
})

const Record = Schema.Struct({
  // Metadata line.
  sessionId: Schema.optional(Schema.String),
  projectHash: Schema.optional(Schema.String),
  startTime: Schema.optional(Schema.String),
  // Message line.
  id: Schema.optional(Schema.String),
  timestamp: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  content: Schema.optional(Schema.Unknown),
  model: Schema.optional(Schema.String),
  tokens: Schema.optional(Schema.NullOr(Tokens)),
  toolCalls: Schema.optional(Schema.Array(ToolCall)),
})

const decodeRecord = Schema.decodeUnknownEither(Schema.parseJson(Record))

/** The first line of a Gemini session file: which session, for which folder, from when. */
export interface GeminiSessionMeta {
  readonly id: string
  readonly projectHash: string
  readonly startedAt: number | undefined
}

export const geminiSessionMeta = (line: string): GeminiSessionMeta | undefined => {
  const decoded = decodeRecord(line)
  if (Either.isLeft(decoded)) return undefined
  const r = decoded.right
  if (r.sessionId === undefined || r.projectHash === undefined || r.id !== undefined)
    return undefined
  return { id: r.sessionId, projectHash: r.projectHash, startedAt: epochOf(r.startTime) }
}

/** Text of a `PartListUnion`: a string, a part, or parts; `{ text }` parts only. */
const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  const parts = Array.isArray(content) ? content : [content]
  return parts
    .map((p) =>
      typeof p === "string"
        ? p
        : typeof p === "object" && p !== null && "text" in p && typeof p.text === "string"
          ? // A model's thought is not what it said.
            "thought" in p && p.thought === true
            ? ""
            : p.text
          : "",
    )
    .filter((t) => t !== "")
    .join("\n")
}

/** A completed tool call's output: its display text, else its function response as JSON. */
const resultText = (call: typeof ToolCall.Type): string => {
  if (typeof call.resultDisplay === "string") return call.resultDisplay
  const response = Array.isArray(call.result)
    ? (call.result as ReadonlyArray<unknown>).map((p) =>
        typeof p === "object" && p !== null && "functionResponse" in p
          ? (p.functionResponse as { response?: unknown }).response
          : p,
      )
    : call.result
  const one = Array.isArray(response) && response.length === 1 ? response[0] : response
  if (typeof one === "object" && one !== null) {
    const o = one as { output?: unknown; error?: unknown }
    if (typeof o.output === "string") return o.output
    if (typeof o.error === "string") return o.error
  }
  return one === undefined || one === null ? "" : JSON.stringify(one)
}

const DONE = new Set(["success", "error", "cancelled"])

/** One line of a Gemini CLI session file; `undefined` when it is not JSON of a known shape. */
export const parseGeminiLine = (line: string): ParsedLine | undefined => {
  const decoded = decodeRecord(line)
  if (Either.isLeft(decoded)) return undefined
  const r = decoded.right
  // Metadata, `$set` and `$rewindTo` updates: nothing to show.
  if (r.id === undefined || r.type === undefined) return { entries: [] }
  const at = epochOf(r.timestamp)
  const when = at === undefined ? {} : { at }
  const entries: ParsedEntry[] = []
  const keys: string[] = []
  const text = textOf(r.content)
  if (r.type === "user") {
    if (text !== "") {
      entries.push({ ...when, kind: "user", ...clipText(text) })
      keys.push(`${r.id}:text`)
    }
    // A user message starts a turn: no earlier message is written again after it.
    return { entries, keys, reset: true }
  }
  if (r.type !== "gemini") {
    if (text !== "") {
      entries.push({
        ...when,
        kind: "system",
        ...clipText(text),
        ...(r.type === "error" ? { isError: true } : {}),
      })
      keys.push(`${r.id}:text`)
    }
    return { entries, keys }
  }
  if (text !== "") {
    entries.push({ ...when, kind: "assistant", ...clipText(text) })
    keys.push(`${r.id}:text`)
  }
  for (const call of r.toolCalls ?? []) {
    const { input, truncated } = clipInput(call.args)
    const callAt = epochOf(call.timestamp) ?? at
    const callWhen = callAt === undefined ? {} : { at: callAt }
    entries.push({
      ...callWhen,
      kind: "tool-call",
      tool: call.name ?? "tool",
      ...(input === undefined ? {} : { input }),
      callId: call.id,
      ...(truncated ? { truncated } : {}),
    })
    keys.push(`${call.id}:call`)
    if (call.status !== undefined && DONE.has(call.status)) {
      entries.push({
        ...callWhen,
        kind: "tool-result",
        tool: call.name ?? "tool",
        ...clipText(resultText(call)),
        ...(call.status === "success" ? {} : { isError: true }),
        callId: call.id,
      })
      keys.push(`${call.id}:result`)
    }
  }
  const t = r.tokens
  if (t === undefined || t === null) return { entries, keys }
  // Gemini's prompt count includes its cached tokens; thinking is billed as output.
  const input = (t.input ?? 0) + (t.tool ?? 0)
  const cached = t.cached ?? 0
  return {
    entries,
    keys,
    usage: {
      type: "message",
      id: r.id,
      model: r.model,
      ...when,
      usage: {
        inputTokens: Math.max(0, input - cached),
        outputTokens: (t.output ?? 0) + (t.thoughts ?? 0),
        cacheReadTokens: cached,
        cacheWriteTokens: 0,
      },
    },
    ...(r.model === undefined ? {} : { model: r.model }),
  }
}
