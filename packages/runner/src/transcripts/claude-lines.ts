import { Either, Schema } from "effect"
import {
  clipInput,
  clipText,
  epochOf,
  type ParsedEntry,
  type ParsedLine,
  type UsageReport,
} from "./entry.js"

/*
 * Claude Code's session file: `CLAUDE_CONFIG_DIR/projects/<cwd slug>/<session id>.jsonl`, one
 * JSON object a line. The fields read here are those of 1.x and 2.x files; every other field
 * (and every other line `type`: `summary`, `file-history-snapshot`, ...) is ignored, since
 * they change between versions. An assistant message is written one content block a line,
 * each line with the message's `usage`.
 */

const Count = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

const Usage = Schema.Struct({
  input_tokens: Schema.optional(Count),
  output_tokens: Schema.optional(Count),
  cache_read_input_tokens: Schema.optional(Count),
  cache_creation_input_tokens: Schema.optional(Count),
})

const TextBlock = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const ThinkingBlock = Schema.Struct({ type: Schema.Literal("thinking") })
const ToolUseBlock = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.optional(Schema.String),
  name: Schema.String,
  input: Schema.optional(Schema.Unknown),
})
const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.optional(Schema.String),
  content: Schema.optional(
    Schema.Union(
      Schema.String,
      Schema.Array(Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })),
    ),
  ),
  is_error: Schema.optional(Schema.Boolean),
})
/** A block of a kind this reader does not know (images, future ones) is kept as its type. */
const OtherBlock = Schema.Struct({ type: Schema.String })
const Block = Schema.Union(TextBlock, ThinkingBlock, ToolUseBlock, ToolResultBlock, OtherBlock)

const Message = Schema.Struct({
  id: Schema.optional(Schema.String),
  role: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  content: Schema.optional(Schema.Union(Schema.String, Schema.Array(Block))),
  usage: Schema.optional(Usage),
})

const Line = Schema.Struct({
  type: Schema.String,
  timestamp: Schema.optional(Schema.String),
  isMeta: Schema.optional(Schema.Boolean),
  message: Schema.optional(Message),
  /** `system` lines (hook output, compaction notices). */
  content: Schema.optional(Schema.String),
  level: Schema.optional(Schema.String),
})

const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(Line))

const resultText = (content: typeof ToolResultBlock.Type.content): string => {
  if (content === undefined) return ""
  if (typeof content === "string") return content
  return content.map((c) => c.text ?? `[${c.type}]`).join("\n")
}

const blockEntries = (
  role: "user" | "assistant",
  block: typeof Block.Type,
  at: number | undefined,
): ParsedEntry | undefined => {
  const when = at === undefined ? {} : { at }
  switch (block.type) {
    case "text":
      return "text" in block && typeof block.text === "string"
        ? { ...when, kind: role, ...clipText(block.text) }
        : undefined
    case "thinking":
      return undefined
    case "tool_use": {
      if (!("name" in block)) return undefined
      const { input, truncated } = clipInput(block.input)
      return {
        ...when,
        kind: "tool-call",
        tool: block.name,
        ...(input === undefined ? {} : { input }),
        ...(block.id === undefined ? {} : { callId: block.id }),
        ...(truncated ? { truncated } : {}),
      }
    }
    case "tool_result": {
      if (!("content" in block || "tool_use_id" in block)) return undefined
      const b = block as typeof ToolResultBlock.Type
      return {
        ...when,
        kind: "tool-result",
        ...clipText(resultText(b.content)),
        ...(b.is_error === true ? { isError: true } : {}),
        ...(b.tool_use_id === undefined ? {} : { callId: b.tool_use_id }),
      }
    }
    default:
      return { ...when, kind: role, text: `[${block.type}]` }
  }
}

/** One line of a Claude Code session file; `undefined` when it is not JSON of the known shape. */
export const parseClaudeLine = (line: string): ParsedLine | undefined => {
  const decoded = decodeLine(line)
  if (Either.isLeft(decoded)) return undefined
  const l = decoded.right
  const at = epochOf(l.timestamp)
  if (l.type === "system") {
    const text = l.content ?? ""
    return text === ""
      ? { entries: [] }
      : {
          entries: [
            {
              ...(at === undefined ? {} : { at }),
              kind: "system",
              ...clipText(text),
              ...(l.level === "error" ? { isError: true } : {}),
            },
          ],
        }
  }
  if ((l.type !== "user" && l.type !== "assistant") || l.message === undefined) {
    return { entries: [] }
  }
  // Meta lines are Claude Code's own (command caveats, expanded slash commands), not the user's.
  const role = l.isMeta === true ? "system" : l.type
  const content = l.message.content
  const entries: ParsedEntry[] = []
  if (typeof content === "string") {
    if (content !== "")
      entries.push({ ...(at === undefined ? {} : { at }), kind: role, ...clipText(content) })
  } else if (content !== undefined) {
    for (const block of content) {
      const entry = blockEntries(l.type, block, at)
      if (entry !== undefined)
        entries.push(
          role === "system" && entry.kind === "user" ? { ...entry, kind: "system" } : entry,
        )
    }
  }
  const u = l.message.usage
  const usage: UsageReport | undefined =
    l.type === "assistant" && u !== undefined && l.message.id !== undefined
      ? {
          type: "message",
          id: l.message.id,
          model: l.message.model,
          ...(at === undefined ? {} : { at }),
          usage: {
            inputTokens: u.input_tokens ?? 0,
            outputTokens: u.output_tokens ?? 0,
            cacheReadTokens: u.cache_read_input_tokens ?? 0,
            cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
          },
        }
      : undefined
  return usage === undefined ? { entries } : { entries, usage }
}
