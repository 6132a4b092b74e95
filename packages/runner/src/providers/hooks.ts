import { chmod, open, stat, writeFile } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { Effect, Queue, Schema, Stream } from "effect"
import type { AttentionHint } from "../attention/signals.js"
import { watchDir } from "../logs/dir-watch.js"
import { quoteShellArg } from "../tmux/quote.js"

/**
 * How an agent reports its own state to us: extra argv that points it at hook config we
 * write, and the file its hooks append one JSON line per event to.
 */
export interface AgentHooks {
  /** Inserted right after argv[0] (see `withHookArgs`). */
  readonly args: ReadonlyArray<string>
  /** Written before start, mode 0600 (see `writeHookFiles`). */
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>
  /** Where the agent's hooks append one JSON line per event. */
  readonly hookFile: string
}

/** Beside the log segments, so the watch the runner folder already has sees it change. */
export const HOOK_FILE_NAME = "hooks.jsonl"
export const CLAUDE_SETTINGS_FILE_NAME = "claude-settings.json"

/** A hook file could not be written into the runner's folder. */
export class AgentHookError extends Schema.TaggedError<AgentHookError>()("AgentHookError", {
  path: Schema.String,
  message: Schema.String,
}) {}

// `hooks` in a settings file passed with `--settings <file-or-json>` merge with the user's
// own (code.claude.com/docs/en/hooks, "Hook locations"; cli-reference for the flag). Shell
// form: Claude Code runs `command` with `sh -c`; stdin is the event's JSON. The line is
// written by one `printf` (one write for lines under the shell's buffer) so that hooks
// running in parallel do not interleave. The only data in the command is our own path.
const CLAUDE_EVENTS = ["Notification", "Stop", "UserPromptSubmit", "PreToolUse", "PostToolUse"]
// Tool events filter on the tool name; "*" matches every tool. The others take no matcher.
const CLAUDE_TOOL_EVENTS = new Set(["PreToolUse", "PostToolUse"])
// PreToolUse waits for its hooks; a stuck disk must not hold the agent for the 600 s default.
const CLAUDE_HOOK_TIMEOUT_S = 10

/** The shell command a Claude Code hook runs: stdin's JSON, line breaks removed, one line. */
export const claudeHookCommand = (hookFile: string): string =>
  `printf '%s\\n' "$(tr -d '\\n\\r')" >> ${quoteShellArg(hookFile)}`

const claudeSettings = (hookFile: string) => {
  const handler = {
    type: "command",
    command: claudeHookCommand(hookFile),
    timeout: CLAUDE_HOOK_TIMEOUT_S,
  }
  const hooks: Record<string, ReadonlyArray<unknown>> = {}
  for (const event of CLAUDE_EVENTS) {
    hooks[event] = [
      CLAUDE_TOOL_EVENTS.has(event) ? { matcher: "*", hooks: [handler] } : { hooks: [handler] },
    ]
  }
  return { hooks }
}

/**
 * Codex runs `notify` (program + args) with the event's JSON appended as one more argument
 * (openai/codex docs/config.md, "notify"). So the JSON reaches `sh` as `$1`, never as script
 * text, and the file as `$0`.
 */
export const CODEX_NOTIFY_SCRIPT = `printf '%s\\n' "$(printf '%s' "$1" | tr -d '\\n\\r')" >> "$0"`

/** A TOML basic string: `-c` values are parsed as TOML (a bare word falls back to a string). */
const tomlString = (value: string): string => {
  let out = '"'
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0
    if (char === '"' || char === "\\") out += `\\${char}`
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`
    else out += char
  }
  return `${out}"`
}

/** `-c notify=[...]`: a TOML array of strings. */
export const codexNotifyOverride = (hookFile: string): string =>
  `notify=[${["sh", "-c", CODEX_NOTIFY_SCRIPT, hookFile].map(tomlString).join(", ")}]`

/**
 * The hook wiring for a provider, or undefined when it has no documented hook we can pass
 * per run. Claude Code: a settings file with `--settings`. Codex: `-c notify=[...]`, a global
 * flag (clap `global = true` in codex-rs/common/src/config_override.rs), so it may precede
 * `exec`; it replaces, for this run, a `notify` the user set in config.toml. Gemini CLI has
 * hooks (geminicli.com/docs/hooks), but only in settings files found by location or through
 * an env var that swaps the system settings file, the administrator's: nothing to add per
 * run without touching files that are not ours.
 */
export const agentHooks = (providerId: string, runnerDir: string): AgentHooks | undefined => {
  const hookFile = join(runnerDir, HOOK_FILE_NAME)
  switch (providerId) {
    case "claude": {
      const settings = join(runnerDir, CLAUDE_SETTINGS_FILE_NAME)
      return {
        args: ["--settings", settings],
        files: [
          { path: settings, content: `${JSON.stringify(claudeSettings(hookFile), null, 2)}\n` },
        ],
        hookFile,
      }
    }
    case "codex":
      return { args: ["-c", codexNotifyOverride(hookFile)], files: [], hookFile }
    default:
      return undefined
  }
}

/** `argv` with the hook args right after the program name. */
export const withHookArgs = (
  argv: ReadonlyArray<string>,
  hooks: AgentHooks | undefined,
): ReadonlyArray<string> =>
  hooks === undefined || argv.length === 0 ? argv : [argv[0] ?? "", ...hooks.args, ...argv.slice(1)]

/** Writes the hook config files, owner-only (they name our data folder). */
export const writeHookFiles = (hooks: AgentHooks): Effect.Effect<void, AgentHookError> =>
  Effect.forEach(
    hooks.files,
    (file) =>
      Effect.tryPromise({
        try: async () => {
          await writeFile(file.path, file.content, { mode: 0o600 })
          // `mode` applies only when the file is created.
          await chmod(file.path, 0o600)
        },
        catch: (cause) =>
          new AgentHookError({
            path: file.path,
            message: `could not write hook file ${file.path}: ${cause instanceof Error ? cause.message : String(cause)}`,
          }),
      }),
    { discard: true },
  )

const WORKING: AttentionHint = { kind: "working" }
const waiting = (reason: string): AttentionHint => ({ kind: "waiting", reason })

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const parseObject = (line: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(line)
    return isRecord(value) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * Claude Code's Notification, by `notification_type` (its matcher values in the hooks
 * reference): a permission dialog; the prompt idle for 60 s ("Claude is waiting for your
 * input": back at the prompt, so `ready`); an MCP server or a teammate asking for input.
 * Other types (auth_success, elicitation_complete, agent_completed, quota_*) report news,
 * not a request. Before `notification_type` existed the message was the only clue.
 */
const claudeNotification = (event: Record<string, unknown>): AttentionHint | undefined => {
  const type = event.notification_type
  if (typeof type === "string") {
    switch (type) {
      case "permission_prompt":
        return waiting("permission")
      case "idle_prompt":
        return waiting("ready")
      case "elicitation_dialog":
      case "elicitation_url_dialog":
      case "agent_needs_input":
        return waiting("question")
      default:
        return undefined
    }
  }
  const message = typeof event.message === "string" ? event.message : ""
  if (/permission/i.test(message)) return waiting("permission")
  if (/waiting for your input/i.test(message)) return waiting("ready")
  return waiting("question")
}

const claudeHint = (event: Record<string, unknown>): AttentionHint | undefined => {
  switch (event.hook_event_name) {
    case "Notification":
      return claudeNotification(event)
    // Claude finished its turn and is back at the prompt. (A user's Stop hook may still send
    // it on; its next output or tool call then clears this.)
    case "Stop":
      return waiting("ready")
    // The question dialog opens as the tool starts; no permission prompt or notification says so.
    case "PreToolUse":
      return event.tool_name === "AskUserQuestion" ? waiting("question") : WORKING
    case "UserPromptSubmit":
    case "PostToolUse":
      return WORKING
    default:
      return undefined
  }
}

/** Codex `notify` sends only `agent-turn-complete`: the turn ended, Codex awaits a prompt. */
const codexHint = (event: Record<string, unknown>): AttentionHint | undefined =>
  event.type === "agent-turn-complete" ? waiting("ready") : undefined

/** One line of a hook file as a hint; undefined for anything else, malformed lines included. */
export const parseHookLine = (providerId: string, line: string): AttentionHint | undefined => {
  const event = parseObject(line)
  if (event === undefined) return undefined
  switch (providerId) {
    case "claude":
      return claudeHint(event)
    case "codex":
      return codexHint(event)
    default:
      return undefined
  }
}

/** Longer lines (a tool input with a whole file in it) are skipped: the fields we read are short. */
export const MAX_HOOK_LINE_BYTES = 64 * 1024
const READ_BYTES = 64 * 1024

/** Splits bytes into complete lines, holding at most `maxLineBytes` of an unfinished one. */
export const makeLineSplitter = (maxLineBytes: number) => {
  let parts: Buffer[] = []
  let held = 0
  // Inside a line that grew past the cap: drop bytes up to its end.
  let skipping = false
  return {
    push: (bytes: Buffer): ReadonlyArray<string> => {
      const lines: string[] = []
      let start = 0
      for (;;) {
        const nl = bytes.indexOf(0x0a, start)
        const end = nl === -1 ? bytes.length : nl
        const piece = bytes.subarray(start, end)
        if (!skipping) {
          if (held + piece.length > maxLineBytes) {
            parts = []
            held = 0
            skipping = true
          } else if (piece.length > 0) {
            // A copy: a view would keep the whole read buffer alive for a short tail.
            parts.push(Buffer.from(piece))
            held += piece.length
          }
        }
        if (nl === -1) return lines
        if (!skipping) lines.push(Buffer.concat(parts).toString("utf8"))
        parts = []
        held = 0
        skipping = false
        start = nl + 1
      }
    },
    reset: () => {
      parts = []
      held = 0
      skipping = false
    },
  }
}

const sizeOf = (path: string): Promise<number> =>
  stat(path).then(
    (s) => s.size,
    () => 0,
  )

/** Up to `max` bytes from `offset`, or from 0 if the file shrank (replaced); none if absent. */
const readFrom = async (
  path: string,
  offset: number,
  max: number,
): Promise<{ readonly start: number; readonly bytes: Buffer } | undefined> => {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, "r")
  } catch {
    return undefined
  }
  try {
    const { size } = await handle.stat()
    const start = size < offset ? 0 : offset
    const length = Math.min(max, size - start)
    if (length <= 0) return { start, bytes: Buffer.alloc(0) }
    const bytes = Buffer.alloc(length)
    const { bytesRead } = await handle.read(bytes, 0, length, start)
    return { start, bytes: bytes.subarray(0, bytesRead) }
  } catch {
    return undefined
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/*
 * The folder watch (logs/dir-watch.ts) leaves inotify for polling during an output flood, and
 * polling reports only new names and segment growth, not our file growing. So after activity
 * in the folder we also look TRAILING_LOOK_MS later, again until a window passes quietly: the
 * last look comes after the watch is back on inotify (25 quiet polls of 4 ms). A quiet folder
 * costs no timer.
 */
const TRAILING_LOOK_MS = 250
// Hints are small and rare; a consumer this far behind holds the reader, and the file waits.
const HINT_QUEUE = 64

export interface FollowHookOptions {
  /** Read what the file already holds; by default only what is appended from now on. */
  readonly fromStart?: boolean
}

/**
 * Hints from a hook file as it grows, parsed for `providerId`. A missing file is fine (the
 * agent creates it on its first event); a replaced, shorter file is read from its start.
 */
export const followHookFile = (
  path: string,
  providerId: string,
  options: FollowHookOptions = {},
): Stream.Stream<AttentionHint> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const watch = yield* watchDir(dirname(path))
      const name = basename(path)
      const hookWake = yield* Queue.sliding<void>(1)
      const folderWake = yield* Queue.sliding<void>(1)
      const folder = { active: false }
      const stopListening = watch.onChange((filename) => {
        // "" is the watch giving up on the folder (gone): look at once.
        if (filename === name || filename === "") {
          Queue.unsafeOffer(hookWake, undefined)
        } else {
          folder.active = true
          Queue.unsafeOffer(folderWake, undefined)
        }
      })
      yield* Effect.addFinalizer(() => Effect.sync(stopListening))

      const hints = yield* Queue.bounded<AttentionHint>(HINT_QUEUE)
      const lines = makeLineSplitter(MAX_HOOK_LINE_BYTES)
      let offset = options.fromStart === true ? 0 : yield* Effect.promise(() => sizeOf(path))

      const readNew = Effect.gen(function* () {
        for (;;) {
          const got = yield* Effect.promise(() => readFrom(path, offset, READ_BYTES))
          if (got === undefined) return
          if (got.start !== offset) lines.reset()
          offset = got.start + got.bytes.length
          if (got.bytes.length === 0) return
          for (const line of lines.push(got.bytes)) {
            const hint = parseHookLine(providerId, line)
            if (hint !== undefined) yield* Queue.offer(hints, hint)
          }
        }
      })

      const reader = Effect.gen(function* () {
        for (;;) {
          yield* readNew
          if (!folder.active) {
            const woke = yield* Effect.race(
              Effect.as(Queue.take(hookWake), "hook" as const),
              Effect.as(Queue.take(folderWake), "folder" as const),
            )
            if (woke === "hook") continue
          }
          folder.active = false
          yield* Effect.race(Effect.sleep(TRAILING_LOOK_MS), Queue.take(hookWake))
          yield* Queue.takeAll(folderWake)
        }
      })
      yield* Effect.forkScoped(reader)
      return Stream.fromQueue(hints)
    }).pipe(
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logWarning(`attention: cannot follow hook file ${path}: ${error.message}`),
          Stream.empty,
        ),
      ),
    ),
  )
