import * as z from "zod/mini"
import { PaneId, RunnerId, SAFE_ID_PATTERN, SessionName, TmuxSocketName } from "./ids.js"
import { Role } from "./role.js"
import { AutoApprove, RunnerMode, RunnerSummary } from "./runner-summary.js"
import { Viewer } from "./team.js"
import { WorktreeRequest } from "./workspace.js"

const KiB = 1024

/** UTF-8 length without allocating: what a string costs on the wire and in tmux. */
const utf8Length = (s: string): number => {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/**
 * A string of at most `maxBytes` UTF-8 bytes. `nul: false` refuses NUL: argv, env and file
 * names are C strings, so a NUL would silently truncate what the user asked for.
 */
export const boundedText = (maxBytes: number, options: { readonly nul: boolean }) => {
  // A UTF-16 unit never encodes to fewer than one byte, so a length check is a cheap first cut.
  const text = z.string().check(
    z.maxLength(maxBytes),
    z.refine((s) => utf8Length(s) <= maxBytes, { message: `must be at most ${maxBytes} bytes` }),
  )
  return options.nul
    ? text
    : text.check(z.refine((s) => !s.includes("\u0000"), { message: "must not contain NUL" }))
}

/** A number sent as a query-string value: digits only, no sign, no exponent, a safe integer. */
export const QueryOffset = z.pipe(
  z.pipe(
    z.string().check(z.regex(/^[0-9]{1,16}$/, "must be a non-negative integer")),
    z.transform(Number),
  ),
  z.int().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER)),
)
export type QueryOffset = z.infer<typeof QueryOffset>

// ---------------------------------------------------------------------------------------
// Auth

export { Role } from "./role.js"

/** `POST /api/login`. The token is one of the server's two tokens. */
export const LoginRequest = z.strictObject({
  token: z.string().check(z.minLength(1), z.maxLength(1024)),
})
export type LoginRequest = z.infer<typeof LoginRequest>

/** `POST /api/login` and `GET /api/me`: who the session cookie or bearer token says you are. */
export const LoginResponse = z.object({
  /** The user's name: `owner` (the server's own token), `viewer`, or a user an admin added. */
  user: z.string(),
  /** The user's role now (a role change applies to the next request). */
  role: Role,
})
export type LoginResponse = z.infer<typeof LoginResponse>

// ---------------------------------------------------------------------------------------
// Providers

/** A provider id, e.g. `claude` or `cursor-agent`; the server says which ones it knows. */
export const ProviderId = z
  .string()
  .check(z.regex(/^[a-z][a-z0-9-]{0,31}$/, "must match [a-z0-9-]{1,32}"))
export type ProviderId = z.infer<typeof ProviderId>

/** One entry of `GET /api/providers`. */
export const ProviderInfo = z.object({
  id: ProviderId,
  name: z.string(),
  /** Whether its binary is on the server's PATH. */
  installed: z.boolean(),
  modes: z.array(RunnerMode),
  version: z.optional(z.string()),
  /**
   * Present when a finished runner of this provider can be continued (`StartRunnerRequest.resume`);
   * `fork` says whether it can also be forked. Absent: no Continue for it.
   */
  resumes: z.optional(z.object({ fork: z.boolean() })),
})
export type ProviderInfo = z.infer<typeof ProviderInfo>

// ---------------------------------------------------------------------------------------
// Runners

export const TERMINAL_COLS = { min: 10, max: 500 } as const
export const TERMINAL_ROWS = { min: 5, max: 200 } as const
export const Cols = z.int().check(z.minimum(TERMINAL_COLS.min), z.maximum(TERMINAL_COLS.max))
export const Rows = z.int().check(z.minimum(TERMINAL_ROWS.min), z.maximum(TERMINAL_ROWS.max))

export const MAX_PROMPT_BYTES = 128 * KiB
export const MAX_ENV_ENTRIES = 100
export const MAX_ENV_VALUE_BYTES = 32 * KiB
export const MAX_COMMAND_ARGS = 256
export const MAX_DURATION_MS = 30 * 24 * 60 * 60 * 1000

/** An environment variable name as POSIX shells accept it. */
export const EnvName = z
  .string()
  .check(z.maxLength(256), z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must match [A-Za-z_][A-Za-z0-9_]*"))

export const RunnerEnv = z.record(EnvName, boundedText(MAX_ENV_VALUE_BYTES, { nul: false })).check(
  z.refine((env) => Object.keys(env).length <= MAX_ENV_ENTRIES, {
    message: `must have at most ${MAX_ENV_ENTRIES} entries`,
  }),
)
export type RunnerEnv = z.infer<typeof RunnerEnv>

/**
 * `StartRunnerRequest.resume`: the new runner continues the agent conversation of the finished
 * runner `runnerId` (same provider, same folder): Claude Code `--resume SESSION`, with `fork`
 * `--fork-session` (a new session from the same history); Codex `codex resume SESSION` and Gemini
 * CLI `--resume=SESSION` (no fork); Qwen Code `--resume=SESSION`, with `fork` `--fork-session`.
 * Other providers cannot resume: `400`.
 */
export const ResumeRequest = z.strictObject({
  runnerId: RunnerId,
  fork: z.optional(z.boolean()),
})
export type ResumeRequest = z.infer<typeof ResumeRequest>

/**
 * `POST /api/runners`. Strict: an unknown key is a 400, so a typo (`promt`) is never
 * silently ignored. `command` is an argv array for the `shell` provider and never goes
 * through a shell unless the user's own argv names one.
 */
export const StartRunnerRequest = z.strictObject({
  provider: ProviderId,
  prompt: z.optional(boundedText(MAX_PROMPT_BYTES, { nul: false })),
  mode: z.optional(RunnerMode),
  command: z.optional(
    z.array(boundedText(MAX_ENV_VALUE_BYTES, { nul: false })).check(
      z.minLength(1),
      z.maxLength(MAX_COMMAND_ARGS),
      z.refine((argv) => argv[0] !== "", {
        message: "the program (first element) must not be empty",
      }),
    ),
  ),
  /** The working directory; the server's default when omitted. */
  cwd: z.optional(boundedText(4096, { nul: false }).check(z.minLength(1))),
  name: z.optional(SessionName),
  env: z.optional(RunnerEnv),
  maxDurationMs: z.optional(z.int().check(z.positive(), z.maximum(MAX_DURATION_MS))),
  accountId: z.optional(
    z.string().check(z.regex(SAFE_ID_PATTERN, "must match [A-Za-z0-9_.-]{1,64}")),
  ),
  cols: z.optional(Cols),
  rows: z.optional(Rows),
  /** Run in a new git worktree of `cwd`'s repository, on a new branch (see `WorktreeRequest`). */
  worktree: z.optional(WorktreeRequest),
  /** Answer the permission prompts whose detail an `allow` pattern matches (see `AutoApprove`). */
  autoApprove: z.optional(AutoApprove),
  /** Continue (or `fork`) a finished agent runner's conversation (see `ResumeRequest`). */
  resume: z.optional(ResumeRequest),
})
export type StartRunnerRequest = z.infer<typeof StartRunnerRequest>

export const MAX_INPUT_BYTES = 64 * KiB

/** `POST /api/runners/:id/input`: text typed into the runner's pane, byte for byte. */
export const InputRequest = z.strictObject({
  data: boundedText(MAX_INPUT_BYTES, { nul: true }),
})
export type InputRequest = z.infer<typeof InputRequest>

/**
 * `POST /api/runners/:id/reply`: type the quick answer `label` of the prompt `attentionId`,
 * only while that prompt is still the one waiting (else `409`, nothing typed).
 */
export const ReplyRequest = z.strictObject({
  attentionId: z.string().check(z.minLength(1), z.maxLength(200)),
  label: z.string().check(z.minLength(1), z.maxLength(200)),
})
export type ReplyRequest = z.infer<typeof ReplyRequest>

/** The `:id` of every `/api/runners/:id/...` route. */
export const RunnerParams = z.strictObject({ id: RunnerId })
export type RunnerParams = z.infer<typeof RunnerParams>

/** `GET /api/runners/:id/log?from=OFFSET`. */
export const LogQuery = z.strictObject({ from: z.optional(QueryOffset) })
export type LogQuery = z.infer<typeof LogQuery>

/**
 * `WS /api/runners/:id/terminal?pane=PANE&from=OFFSET&token=TOKEN`. `from` resumes after a
 * reconnect (no snapshot); `token` is for non-browser clients, which cannot set headers on
 * every WebSocket library.
 */
export const TerminalQuery = z.strictObject({
  pane: z.optional(PaneId),
  from: z.optional(QueryOffset),
  token: z.optional(z.string().check(z.maxLength(1024))),
})
export type TerminalQuery = z.infer<typeof TerminalQuery>

/** `WS /api/events?token=TOKEN`. */
export const EventsQuery = z.strictObject({
  token: z.optional(z.string().check(z.maxLength(1024))),
})
export type EventsQuery = z.infer<typeof EventsQuery>

const Millis = z.int().check(z.nonnegative())
const Count = z.int().check(z.nonnegative())

/** A runner's counters; times are epoch milliseconds, durations milliseconds. */
export const RunnerMetrics = z.object({
  bytesOut: Count,
  lines: Count,
  startedAt: z.optional(Millis),
  endedAt: z.optional(Millis),
  activeMs: Millis,
  idleMs: Millis,
  lastActivityAt: z.optional(Millis),
  attentionCount: Count,
  /** Time spent waiting for a person. */
  waitingMs: Millis,
  exitCode: z.optional(z.int()),
})
export type RunnerMetrics = z.infer<typeof RunnerMetrics>

export const PaneInfo = z.object({ id: PaneId, cols: z.int(), rows: z.int() })
export type PaneInfo = z.infer<typeof PaneInfo>

/** Where a runner lives in tmux, and the command that reaches it from a shell. */
export const RunnerSession = z.object({
  name: z.string(),
  /**
   * The tmux server's `-L` name, or null for tmux's default server: with `name`, what a
   * client builds `tmux [-L SOCKET] attach -t =NAME` from (`attachCommand` is for display).
   */
  socket: z.nullable(TmuxSocketName),
  /** e.g. `tmux -L geppetto attach -t =NAME` */
  attachCommand: z.string(),
  panes: z.array(PaneInfo),
})
export type RunnerSession = z.infer<typeof RunnerSession>

/** A quick reply the screen rules offer while a runner waits; `keys` are the bytes to send. */
export const QuickAnswer = z.object({
  label: z.string().check(z.minLength(1)),
  keys: z.string().check(z.minLength(1)),
})
export type QuickAnswer = z.infer<typeof QuickAnswer>

/** `GET /api/runners/:id`. */
export const RunnerDetail = z.extend(RunnerSummary, {
  metrics: RunnerMetrics,
  session: RunnerSession,
  answers: z.optional(z.array(QuickAnswer)),
  /** Who has the runner's terminal open now (see `Viewer`). */
  viewers: z.optional(z.array(Viewer)),
})
export type RunnerDetail = z.infer<typeof RunnerDetail>

// ---------------------------------------------------------------------------------------
// Sessions

/** One entry of `GET /api/sessions`: a tmux session the server does not manage yet. */
export const SessionListing = z.object({
  /** As tmux reports it: may hold characters `SessionName` refuses, and then cannot be adopted. */
  name: z.string(),
  windows: Count,
  panes: Count,
  attached: z.boolean(),
  createdAt: Millis,
  /** The active pane's current command. */
  command: z.optional(z.string()),
})
export type SessionListing = z.infer<typeof SessionListing>

/** `POST /api/sessions/:name/adopt`. */
export const AdoptParams = z.strictObject({ name: SessionName })
export type AdoptParams = z.infer<typeof AdoptParams>
