import type { TranscriptEntry } from "@geppetto/protocol"

/**
 * The agents whose own session files the server reads (packages/runner `transcriptProviders`;
 * transcripts/README.md there says which agent keeps what). OpenCode keeps its sessions in a
 * database and is not read: its transcript is a 404, as is every other agent's.
 */
export const TRANSCRIPT_PROVIDERS: ReadonlySet<string> = new Set([
  "claude",
  "codex",
  "gemini",
  "qwen",
])

/** Whether a runner of `provider` gets the Conversation view: any agent, not a plain shell. */
export const offersConversation = (provider: string): boolean => provider !== "shell"

/**
 * What the Conversation view says when the server answers 404 (no transcript): an agent it
 * does not read keeps none it can read; one it reads has not written it yet (live) or left
 * none. `agent` is the agent's name for people.
 */
export const noTranscriptText = (provider: string, agent: string, live: boolean): string =>
  !TRANSCRIPT_PROVIDERS.has(provider)
    ? `No conversation to show: ${agent} keeps no transcript we can read. Its terminal has all there is.`
    : live
      ? `No conversation yet: ${agent} has not written its session file.`
      : `No conversation to show: ${agent} left no session file for this runner.`

/** What the Conversation view draws: a message, a tool call with its result, or a lone result. */
export type ConversationItem =
  | { readonly kind: "message"; readonly entry: TranscriptEntry }
  | {
      readonly kind: "tool"
      readonly call: TranscriptEntry
      /** Its result, when the agent has written it (and it is on a loaded page). */
      readonly result: TranscriptEntry | undefined
    }
  /** A result whose call is on a page not loaded (or that names no call). */
  | { readonly kind: "result"; readonly entry: TranscriptEntry }

/** Two pages of one transcript as one list: by `seq`, each entry once (the newer copy kept). */
export const mergeEntries = (
  held: ReadonlyArray<TranscriptEntry>,
  page: ReadonlyArray<TranscriptEntry>,
): TranscriptEntry[] => {
  const bySeq = new Map<number, TranscriptEntry>()
  for (const entry of held) bySeq.set(entry.seq, entry)
  for (const entry of page) bySeq.set(entry.seq, entry)
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq)
}

/** Entries in order, each tool result drawn under its call (paired by `callId`). */
export const conversationItems = (entries: ReadonlyArray<TranscriptEntry>): ConversationItem[] => {
  const calls = new Set<string>()
  const results = new Map<string, TranscriptEntry>()
  for (const entry of entries) {
    if (entry.callId === undefined) continue
    if (entry.kind === "tool-call") calls.add(entry.callId)
    else if (entry.kind === "tool-result" && !results.has(entry.callId))
      results.set(entry.callId, entry)
  }
  const items: ConversationItem[] = []
  for (const entry of entries) {
    if (entry.kind === "tool-call") {
      const result = entry.callId === undefined ? undefined : results.get(entry.callId)
      items.push({ kind: "tool", call: entry, result })
    } else if (entry.kind === "tool-result") {
      const paired =
        entry.callId !== undefined && calls.has(entry.callId) && results.get(entry.callId) === entry
      if (!paired) items.push({ kind: "result", entry })
    } else items.push({ kind: "message", entry })
  }
  return items
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The input field that names what a tool does, in the order agents' tools use them: Claude's
 * Bash `command`, Read/Edit `file_path`, Grep `pattern`, WebFetch `url`; Codex's `command` (an
 * argv, often `["bash", "-lc", SCRIPT]`).
 */
const NAMING_FIELDS = ["command", "cmd", "file_path", "path", "pattern", "url", "query"] as const

/** A tool call's input as one line of text for a person: its command, or its JSON. */
export const inputSummary = (input: unknown): string | undefined => {
  if (input === undefined) return undefined
  if (typeof input === "string") return input
  if (isRecord(input)) {
    for (const field of NAMING_FIELDS) {
      const value = input[field]
      if (typeof value === "string" && value.trim() !== "") return value
      if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) {
        const argv = value as ReadonlyArray<string>
        const script = argv.length === 3 && /^-\w*c$/.test(argv[1] ?? "") ? argv[2] : undefined
        return script ?? argv.join(" ")
      }
    }
  }
  return undefined
}

/** A tool call's whole input as text (pretty JSON for anything but a string). */
export const inputText = (input: unknown): string => {
  if (input === undefined) return ""
  if (typeof input === "string") return input
  try {
    return JSON.stringify(input, null, 2) ?? String(input)
  } catch {
    return String(input)
  }
}

/** Longest text searched for: a terminal wraps longer lines, and the search is per line. */
const NEEDLE_MAX = 60
const NEEDLE_MIN = 2
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u

/**
 * What to search the runner's log for to find a tool call in its terminal: the first line of
 * its command (or path, pattern, URL), relative to the runner's folder, cut to a length a
 * terminal shows on one line. `undefined` when the call names nothing searchable.
 */
export const searchNeedle = (input: unknown, cwd?: string): string | undefined => {
  let text = inputSummary(input)
  if (text === undefined) return undefined
  if (cwd !== undefined && cwd !== "/" && text.startsWith(`${cwd}/`))
    text = text.slice(cwd.length + 1)
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== "") ?? ""
  const clean = [...line].filter((c) => !CONTROL.test(c))
  const needle = clean.slice(0, NEEDLE_MAX).join("").trim()
  return needle.length >= NEEDLE_MIN ? needle : undefined
}

/** `12 lines`, for a collapsed output's summary. */
export const lineCount = (text: string): string => {
  const n = text === "" ? 0 : text.replace(/\n$/, "").split("\n").length
  return n === 1 ? "1 line" : `${n.toLocaleString("en")} lines`
}
