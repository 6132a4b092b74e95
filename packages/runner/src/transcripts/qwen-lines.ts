import { Either, Schema } from "effect"
import { clipInput, clipText, epochOf, type ParsedEntry, type ParsedLine } from "./entry.js"

/*
 * Qwen Code's session file (read from `@qwen-code/qwen-code` 0.15.10's ChatRecordingService):
 * `<QWEN_RUNTIME_DIR or QWEN_HOME or ~/.qwen>/projects/<cwd, every character but
 * [A-Za-z0-9] made "-">/chats/<session id>.jsonl`, one record a line, each written once:
 * `{ uuid, parentUuid, sessionId, timestamp, type: "user" | "assistant" | "tool_result" |
 * "system", cwd, message?: { role, parts }, model?, usageMetadata?, toolCallResult? }`.
 * `parts` are Gemini API parts (`text`, `thought`, `functionCall`, `functionResponse`); an
 * assistant record's `usageMetadata` is that one response's. Other fields are ignored.
 */

const Count = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

const Part = Schema.Struct({
  text: Schema.optional(Schema.String),
  thought: Schema.optional(Schema.Boolean),
  functionCall: Schema.optional(
    Schema.Struct({
      id: Schema.optional(Schema.String),
      name: Schema.optional(Schema.String),
      args: Schema.optional(Schema.Unknown),
    }),
  ),
  functionResponse: Schema.optional(
    Schema.Struct({
      id: Schema.optional(Schema.String),
      name: Schema.optional(Schema.String),
      response: Schema.optional(Schema.Unknown),
    }),
  ),
})

const Record = Schema.Struct({
  uuid: Schema.String,
  sessionId: Schema.optional(Schema.String),
  timestamp: Schema.optional(Schema.String),
  type: Schema.String,
  subtype: Schema.optional(Schema.String),
  cwd: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  message: Schema.optional(
    Schema.Struct({
      role: Schema.optional(Schema.String),
      parts: Schema.optional(Schema.Array(Part)),
    }),
  ),
  usageMetadata: Schema.optional(
    Schema.Struct({
      promptTokenCount: Schema.optional(Count),
      candidatesTokenCount: Schema.optional(Count),
      cachedContentTokenCount: Schema.optional(Count),
      thoughtsTokenCount: Schema.optional(Count),
    }),
  ),
  toolCallResult: Schema.optional(
    Schema.Struct({
      callId: Schema.optional(Schema.String),
      status: Schema.optional(Schema.String),
      resultDisplay: Schema.optional(Schema.Unknown),
      error: Schema.optional(Schema.Unknown),
    }),
  ),
  /** On each record a fork copied (`--fork-session`, 0.24): the session it came from. */
  forkedFrom: Schema.optional(Schema.Struct({ sessionId: Schema.optional(Schema.String) })),
})

const decodeRecord = Schema.decodeUnknownEither(Schema.parseJson(Record))

/** Any line of a Qwen session file: which session, where, and when the line was written. */
export interface QwenSessionMeta {
  readonly id: string
  readonly cwd: string | undefined
  readonly startedAt: number | undefined
  /** The session this one is a fork of (its first record was copied from there). */
  readonly forkedFrom: string | undefined
}

export const qwenSessionMeta = (line: string): QwenSessionMeta | undefined => {
  const decoded = decodeRecord(line)
  if (Either.isLeft(decoded) || decoded.right.sessionId === undefined) return undefined
  const r = decoded.right
  return {
    id: r.sessionId as string,
    cwd: r.cwd,
    startedAt: epochOf(r.timestamp),
    forkedFrom: r.forkedFrom?.sessionId,
  }
}

const responseText = (response: unknown, display: unknown): string => {
  if (typeof display === "string" && display !== "") return display
  if (typeof response === "object" && response !== null) {
    const o = response as { output?: unknown; error?: unknown }
    if (typeof o.output === "string") return o.output
    if (typeof o.error === "string") return o.error
  }
  return response === undefined ? "" : JSON.stringify(response)
}

/** One line of a Qwen Code session file; `undefined` when it is not JSON of the known shape. */
export const parseQwenLine = (line: string): ParsedLine | undefined => {
  const decoded = decodeRecord(line)
  if (Either.isLeft(decoded)) return undefined
  const r = decoded.right
  const at = epochOf(r.timestamp)
  const when = at === undefined ? {} : { at }
  const parts = r.message?.parts ?? []
  const text = parts
    .filter((p) => p.thought !== true && p.text !== undefined && p.text !== "")
    .map((p) => p.text)
    .join("\n")
  const entries: ParsedEntry[] = []
  switch (r.type) {
    case "user":
      // Cron prompts and notifications are the CLI's, not the person's.
      if (text !== "")
        entries.push({
          ...when,
          kind: r.subtype === undefined ? "user" : "system",
          ...clipText(text),
        })
      break
    case "assistant":
      if (text !== "") entries.push({ ...when, kind: "assistant", ...clipText(text) })
      for (const p of parts) {
        if (p.functionCall === undefined) continue
        const { input, truncated } = clipInput(p.functionCall.args)
        entries.push({
          ...when,
          kind: "tool-call",
          tool: p.functionCall.name ?? "tool",
          ...(input === undefined ? {} : { input }),
          ...(p.functionCall.id === undefined ? {} : { callId: p.functionCall.id }),
          ...(truncated ? { truncated } : {}),
        })
      }
      break
    case "tool_result": {
      const result = r.toolCallResult
      for (const p of parts) {
        if (p.functionResponse === undefined) continue
        const failed =
          (result?.status !== undefined && result.status !== "success") ||
          (result?.error !== undefined && result.error !== null)
        entries.push({
          ...when,
          kind: "tool-result",
          ...(p.functionResponse.name === undefined ? {} : { tool: p.functionResponse.name }),
          ...clipText(responseText(p.functionResponse.response, result?.resultDisplay)),
          ...(failed ? { isError: true } : {}),
          ...(p.functionResponse.id === undefined ? {} : { callId: p.functionResponse.id }),
        })
      }
      break
    }
    case "system":
      if (text !== "") entries.push({ ...when, kind: "system", ...clipText(text) })
      break
    default:
      break
  }
  const u = r.usageMetadata
  if (r.type !== "assistant" || u === undefined) return { entries }
  // The prompt count includes what was read from the cache; thinking is billed as output.
  const cached = u.cachedContentTokenCount ?? 0
  return {
    entries,
    usage: {
      type: "message",
      id: r.uuid,
      model: r.model,
      ...when,
      usage: {
        inputTokens: Math.max(0, (u.promptTokenCount ?? 0) - cached),
        outputTokens: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0),
        cacheReadTokens: cached,
        cacheWriteTokens: 0,
      },
    },
    ...(r.model === undefined ? {} : { model: r.model }),
  }
}
