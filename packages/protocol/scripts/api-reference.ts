/**
 * Writes `docs/API.md`, the HTTP and WebSocket reference, from the zod schemas of this package
 * (`z.toJSONSchema`) and the hand-kept route table below. Run it with `pnpm docs:api`.
 *
 * `test/api-reference.test.ts` renders the same text in memory and fails when `docs/API.md`
 * differs, so a schema change that is not regenerated fails CI; the server's
 * `test/api/api-reference-routes.test.ts` compares `API_ROUTES` with the app's own route auth
 * table (`listAuthRoutes`), so a route or role change that is not written here fails too.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import ts from "typescript"
import { z } from "zod"
import * as protocol from "../src/index.js"
import { API_ROUTES, type ApiRoute, type RouteAuth, type RouteResponse } from "./api-routes.js"

// ---------------------------------------------------------------------------------------
// Schemas: shapes from z.toJSONSchema, words from the schemas' JSDoc, plus what is kept here

export interface SchemaDoc {
  readonly name: string
  readonly schema: z.core.$ZodType
  /** Replaces the JSDoc of the schema's `export const` (used when it has none or says too little). */
  readonly summary?: string
  /** Field descriptions by path (`tmux.version`), over the JSDoc of the fields. */
  readonly fields?: Readonly<Record<string, string>>
  /** Fields described neither here nor in JSDoc take the words of this schema's same field. */
  readonly fieldsLike?: string
  /** Checks JSON Schema cannot express (zod refinements), and other remarks. */
  readonly notes?: ReadonlyArray<string>
}

export interface SchemaGroup {
  readonly title: string
  readonly intro?: string
  readonly schemas: ReadonlyArray<SchemaDoc>
}

const p = protocol
const inBytes = (what: string) =>
  `${what}: the limit is in UTF-8 bytes (\`maxLength\` above is the first cut, in characters).`
const CLIENT_TOKEN =
  "For clients that cannot set headers on a WebSocket; browsers use the session cookie."

export const SCHEMA_GROUPS: ReadonlyArray<SchemaGroup> = [
  {
    title: "Identifiers and values",
    schemas: [
      {
        name: "RunnerId",
        schema: p.RunnerId,
        summary:
          "A runner's id: URL-safe, unique, also the name of its folder under the data dir. Never starts with `-` or `.`, so it cannot pass for a flag or a relative path.",
      },
      { name: "SessionName", schema: p.SessionName },
      { name: "TmuxSocketName", schema: p.TmuxSocketName },
      { name: "PaneId", schema: p.PaneId },
      {
        name: "ProviderId",
        schema: p.ProviderId,
        summary:
          "A provider id: `claude`, `codex`, `gemini`, `opencode`, `qwen`, `cursor-agent`, `aider` or `shell` (`GET /api/providers` lists them).",
      },
      { name: "EnvName", schema: p.EnvName },
      { name: "Role", schema: p.Role },
      {
        name: "RunnerMode",
        schema: p.RunnerMode,
        summary:
          "`interactive`: the agent stays at its prompt, waiting for the next one. `oneshot`: it runs one prompt and exits (`claude -p`, `codex exec`, `gemini -p`, …).",
      },
      {
        name: "RunnerStatus",
        schema: p.RunnerStatus,
        summary:
          "`running` while the process lives and works; `idle` when an interactive agent is back at its prompt with its turn done (it then also waits, with reason `ready`); `paused` after a pause; then `completed` (exit 0) or `failed` (a non-zero exit, a signal, a timeout, a session that vanished) once it ends.",
      },
      {
        name: "ActivityState",
        schema: p.ActivityState,
        summary:
          "From output timing: `idle` after 2 s without output, `active` again once output keeps coming for 300 ms.",
      },
      {
        name: "AttentionReason",
        schema: p.AttentionReason,
        summary:
          "Why a runner waits for a person: `permission`, `question`, `ready` (back at its prompt) or `bell` from the builtin rules; open-ended, since screen rules may add reasons.",
      },
      { name: "OutputSource", schema: p.OutputSource },
      { name: "QueryOffset", schema: p.QueryOffset },
      { name: "Cols", schema: p.Cols, summary: "Terminal width in columns." },
      { name: "Rows", schema: p.Rows, summary: "Terminal height in rows." },
    ],
  },
  {
    title: "Requests",
    intro:
      "Bodies, path parameters and queries are strict: an unknown key is a `400 ValidationError` naming it, so a typo is never silently ignored.",
    schemas: [
      { name: "LoginRequest", schema: p.LoginRequest },
      {
        name: "ResumeRequest",
        schema: p.ResumeRequest,
        fields: {
          runnerId: "The finished runner whose session is picked up (the new runner's `parentId`).",
          fork: "A new session from the same history (Claude Code `--fork-session`); Codex cannot.",
        },
      },
      { name: "AutoApprove", schema: p.AutoApprove },
      {
        name: "StartRunnerRequest",
        schema: p.StartRunnerRequest,
        fields: {
          provider: "Which CLI to run; `shell` runs `command`.",
          prompt:
            "The first message (interactive) or the task (oneshot). Needed in oneshot mode; `aider` takes none interactively. Empty means none.",
          mode: "Default `interactive`.",
          command:
            "`shell` only: the argv to run, with no shell in between unless it names one. Without it, `shell` runs the server user's `$SHELL`.",
          cwd: "Working directory, absolute and existing; default the server's `$HOME`.",
          name: "The runner's name, also its tmux session name; default `PROVIDER-XXXXXX`. Unique.",
          env: "Variables added to the runner's environment (over the server's and the account's).",
          maxDurationMs:
            "Terminate the runner after this long; it then ends `failed` with a timeout reason.",
          accountId:
            "An account of `config.json`, for this provider: its env is added and its limit applies.",
          cols: "Terminal width; default 120.",
          rows: "Terminal height; default 32.",
          resume:
            "Continue (or fork) the agent conversation of a finished runner of the same provider, in its folder and under its account; not with `cwd`, `worktree` or `command`.",
        },
        notes: [
          inBytes("`prompt`, each `command` element, `cwd`"),
          "`prompt`, `command` and `cwd` must not contain NUL (argv and paths are C strings); `command[0]` must not be empty.",
        ],
      },
      {
        name: "RunnerEnv",
        schema: p.RunnerEnv,
        summary: "Environment variables for a runner.",
        notes: ["At most 100 entries; values must not contain NUL.", inBytes("values")],
      },
      {
        name: "InputRequest",
        schema: p.InputRequest,
        fields: {
          data: "Text typed as is, control characters included (`\\r` is Enter, `\\u001b` Esc).",
        },
        notes: [inBytes("`data`")],
      },
      { name: "RunnerParams", schema: p.RunnerParams },
      {
        name: "AdoptParams",
        schema: p.AdoptParams,
        summary: "The `:name` of `POST /api/sessions/:name/adopt`.",
      },
      {
        name: "LogQuery",
        schema: p.LogQuery,
        fields: { from: "First byte to send; default the oldest byte still kept." },
      },
      { name: "EventsQuery", schema: p.EventsQuery, fields: { token: CLIENT_TOKEN } },
      {
        name: "TerminalQuery",
        schema: p.TerminalQuery,
        fields: {
          pane: "Which pane of the runner's session; default its main pane.",
          from: "Resume after a reconnect: output from this offset, with no snapshot first.",
          token: CLIENT_TOKEN,
        },
      },
    ],
  },
  {
    title: "Responses",
    intro:
      "Responses may gain fields; clients should ignore the ones they do not know. Times are epoch milliseconds, durations milliseconds, offsets bytes from the runner's first byte of output.",
    schemas: [
      {
        name: "HealthResponse",
        schema: p.HealthResponse,
        fields: {
          version: "The server's version.",
          "tmux.version": "`tmux -V` of the tmux the server drives, e.g. `3.3a`.",
        },
      },
      { name: "LoginResponse", schema: p.LoginResponse },
      {
        name: "ProviderInfo",
        schema: p.ProviderInfo,
        fields: {
          installed: "Whether its CLI is on the server's `PATH` (`shell` always is).",
          modes: "The modes it runs in.",
          version: "What its `--version` printed, when installed.",
        },
      },
      {
        name: "RunnerSummary",
        schema: p.RunnerSummary,
        fields: {
          name: "Also the tmux session name: `tmux attach -t NAME`.",
          provider: "The provider id.",
          waitingForInput:
            "It waits for a person: a permission prompt, a question, back at its prompt, or a budget notice.",
          attentionReason:
            "Why, while `waitingForInput`: `permission`, `question`, `ready`, `bell`, a screen rule's own, or `budget` (a budget over it was spent while it ran: a notice, with no answers; it keeps running, and the notice goes when someone types into it).",
          cwd: "Its working directory.",
          prompt: "The prompt it was started with.",
          createdAt: "When the runner was created.",
          startedAt: "When its process started.",
          endedAt: "When it ended.",
          exitCode: "Its exit status, once it exited.",
          failureReason: "Why it failed: an exit status, a signal, a timeout, a vanished session.",
          bytesOut: "Bytes of output so far (pushed at most once a second while it grows).",
        },
      },
      {
        name: "RunnerDetail",
        schema: p.RunnerDetail,
        fieldsLike: "RunnerSummary",
        summary:
          "`GET /api/runners/:id`, and the answer to starting, adopting, pausing, resuming and terminating: a [RunnerSummary](#runnersummary) plus its metrics, its tmux session and, while it waits, quick answers.",
        fields: {
          answers:
            "Quick replies the matching screen rule offers while the runner waits (e.g. Yes / No).",
        },
      },
      {
        name: "RunnerMetrics",
        schema: p.RunnerMetrics,
        fields: {
          bytesOut: "Bytes of output.",
          lines: "Lines of output.",
          startedAt: "When its process started.",
          endedAt: "When it ended.",
          activeMs: "Time spent active (producing output).",
          idleMs: "Time spent idle.",
          lastActivityAt: "When output last came.",
          attentionCount: "How many times it started waiting for a person.",
          exitCode: "Its exit status, once it exited.",
        },
      },
      {
        name: "RunnerSession",
        schema: p.RunnerSession,
        fields: {
          name: "The tmux session name.",
          attachCommand:
            "e.g. `tmux -L geppetto attach -t =NAME` (without `-L` on tmux's default server).",
          panes: "Its panes: one, unless an adopted session had several.",
        },
      },
      {
        name: "PaneInfo",
        schema: p.PaneInfo,
        summary: "One pane of a runner's session, and its size.",
      },
      {
        name: "QuickAnswer",
        schema: p.QuickAnswer,
        fields: {
          label: "The button's text.",
          keys: "The exact bytes to type (send them as terminal `input` or `POST …/input`).",
        },
      },
      {
        name: "SessionListing",
        schema: p.SessionListing,
        fields: {
          windows: "Its windows.",
          panes: "Its panes, all windows together.",
          attached: "Whether a tmux client is attached to it.",
          createdAt: "When tmux created it.",
        },
      },
      {
        name: "ErrorResponse",
        schema: p.ErrorResponse,
        fields: {
          "error.code":
            "The domain error's tag, e.g. `ValidationError` (see [Errors](#errors)): stable, for programs.",
          "error.message": "What failed and with which id: for people, never a stack trace.",
        },
      },
      {
        name: "ErrorPayload",
        schema: p.ErrorPayload,
        summary:
          "An error inside a message: `error` of an [ErrorEvent](#errorevent), and the fields of a terminal `error` frame.",
      },
    ],
  },
  {
    title: "Users",
    intro:
      "Named users, each with a token of their own (`POST /api/users`). `owner` (the server's `GEPPETTO_TOKEN`, an admin) and `viewer` (`GEPPETTO_VIEWER_TOKEN`) are built in. Roles rank `viewer < operator < admin`.",
    schemas: [
      { name: "UserName", schema: p.UserName },
      { name: "CreateUserRequest", schema: p.CreateUserRequest },
      { name: "CreatedUser", schema: p.CreatedUser },
      { name: "UpdateUserRequest", schema: p.UpdateUserRequest },
      { name: "UserParams", schema: p.UserParams },
      { name: "UserInfo", schema: p.UserInfo },
    ],
  },
  {
    title: "Team",
    intro:
      "The audit trail of who did what (admins read it), and presence: who has each runner's terminal open and who is typing. The trail never holds keystroke content: typing is recorded per burst as a byte count.",
    schemas: [
      { name: "AuditAction", schema: p.AuditAction },
      { name: "AuditEntry", schema: p.AuditEntry },
      { name: "AuditQuery", schema: p.AuditQuery },
      { name: "AuditResponse", schema: p.AuditResponse },
      { name: "Viewer", schema: p.Viewer },
      { name: "PresenceMessage", schema: p.PresenceMessage },
    ],
  },
  {
    title: "Workspaces",
    intro:
      "A runner whose `cwd` lies in a git work tree has a `workspace`; one started with `worktree` works in a worktree and on a branch of its own under `DATA_DIR/worktrees/`.",
    schemas: [
      { name: "BranchName", schema: p.BranchName },
      { name: "GitRef", schema: p.GitRef, summary: "A branch name or a commit id to start from." },
      { name: "WorktreeRequest", schema: p.WorktreeRequest },
      { name: "Workspace", schema: p.Workspace },
      {
        name: "DiffFileStatus",
        schema: p.DiffFileStatus,
        summary: "How a file differs from the base commit.",
      },
      { name: "DiffFile", schema: p.DiffFile },
      { name: "WorkspaceDiff", schema: p.WorkspaceDiff },
      { name: "DiffQuery", schema: p.DiffQuery },
      { name: "CommitRequest", schema: p.CommitRequest },
      { name: "MergeRequest", schema: p.MergeRequest },
      { name: "CommitResult", schema: p.CommitResult },
      { name: "GitQuery", schema: p.GitQuery },
      { name: "GitWorkTree", schema: p.GitWorkTree },
    ],
  },
  {
    title: "Schedules",
    intro:
      "Cron schedules that start runners (`POST /api/schedules`), kept in `DATA_DIR/schedules.json` across restarts. Times are epoch milliseconds; croner reads the expressions, time zones and DST changes included.",
    schemas: [
      { name: "ScheduleName", schema: p.ScheduleName },
      { name: "ScheduleId", schema: p.ScheduleId },
      { name: "CronExpression", schema: p.CronExpression },
      { name: "TimeZone", schema: p.TimeZone },
      { name: "ScheduleOverlap", schema: p.ScheduleOverlap },
      { name: "CreateScheduleRequest", schema: p.CreateScheduleRequest },
      { name: "CreatedSchedule", schema: p.CreatedSchedule },
      { name: "ScheduleParams", schema: p.ScheduleParams },
      { name: "ScheduleRun", schema: p.ScheduleRun },
      { name: "ScheduleStart", schema: p.ScheduleStart },
      { name: "Schedule", schema: p.Schedule },
    ],
  },
  {
    title: "Transcripts and usage",
    intro:
      "`GET /api/runners/:id/transcript` and `GET /api/usage`: what the agents said and did, read from their own session files, and what it cost.",
    schemas: [
      { name: "TranscriptQuery", schema: p.TranscriptQuery },
      { name: "TranscriptKind", schema: p.TranscriptKind },
      { name: "TranscriptEntry", schema: p.TranscriptEntry },
      { name: "TranscriptResponse", schema: p.TranscriptResponse },
      { name: "RunnerUsage", schema: p.RunnerUsage },
      { name: "UsageQuery", schema: p.UsageQuery },
      { name: "UsageGroup", schema: p.UsageGroup },
      { name: "UsageResponse", schema: p.UsageResponse },
    ],
  },
  {
    title: "Search",
    intro:
      "`GET /api/search`: a literal, case-insensitive search of the runners' kept logs as plain text (terminal escapes stripped).",
    schemas: [
      {
        name: "SearchQuery",
        schema: p.SearchQuery,
        fields: {
          q: "A literal (not a pattern), 2 to 200 characters, no control characters.",
          runner: "Search this runner alone (its id).",
          limit: "Hits at most, 1 to 1000; default 100.",
        },
      },
      { name: "SearchHit", schema: p.SearchHit },
      { name: "SearchResponse", schema: p.SearchResponse },
      { name: "SearchStreamLine", schema: p.SearchStreamLine },
    ],
  },
  {
    title: "Notifications",
    intro:
      "Reaching people away from the tab: Web Push to each subscribed browser (RFC 8291 `aes128gcm`, VAPID RFC 8292) and the webhooks of `config.json`, once per transition into waiting, completed or failed; and answering a prompt from the notification (`POST /api/runners/:id/reply`).",
    schemas: [
      { name: "NotifyEvent", schema: p.NotifyEvent },
      { name: "NotifyEvents", schema: p.NotifyEvents },
      { name: "PushEndpoint", schema: p.PushEndpoint },
      { name: "PushKeyResponse", schema: p.PushKeyResponse },
      {
        name: "PushSubscriptionRequest",
        schema: p.PushSubscriptionRequest,
        fields: { events: 'What to push to this browser; default `["waiting"]`.' },
      },
      { name: "PushSubscriptionCreated", schema: p.PushSubscriptionCreated },
      { name: "PushUnsubscribeRequest", schema: p.PushUnsubscribeRequest },
      { name: "NotificationPayload", schema: p.NotificationPayload },
      { name: "ReplyRequest", schema: p.ReplyRequest },
    ],
  },
  {
    title: "Process events",
    intro:
      "What a monitored process reports, in the order it happened. `WS /api/events` carries every kind but `output` (raw output travels on the terminal socket and the log route).",
    schemas: [
      { name: "ProcessEvent", schema: p.ProcessEvent },
      { name: "OutputEvent", schema: p.OutputEvent, fields: { data: "The bytes, base64." } },
      {
        name: "ActivityEvent",
        schema: p.ActivityEvent,
        summary: "The process became active or idle.",
      },
      { name: "ExitEvent", schema: p.ExitEvent },
      {
        name: "ErrorEvent",
        schema: p.ErrorEvent,
        summary: "Watching the process failed, e.g. its session vanished or tmux went away.",
      },
      {
        name: "AttentionEvent",
        schema: p.AttentionEvent,
        summary: "The runner started or stopped waiting for a person.",
      },
      { name: "StatusEvent", schema: p.StatusEvent, summary: "The runner's status changed." },
      { name: "LogGapEvent", schema: p.LogGapEvent },
      { name: "AutoReplyEvent", schema: p.AutoReplyEvent },
    ],
  },
  {
    title: "WebSocket messages",
    schemas: [
      {
        name: "EventsServerMessage",
        schema: p.EventsServerMessage,
        fields: {
          runners: "Every runner, live and finished: replaces what the client had.",
          runner: "The runner's new state.",
          runnerId: "The runner concerned.",
        },
      },
      {
        name: "TerminalServerMessage",
        schema: p.TerminalServerMessage,
        fieldsLike: "ErrorPayload",
        fields: {
          cols: "The pane's width.",
          rows: "The pane's height.",
          exitCode: "Its exit status, for a normal exit.",
          signal: "The signal that ended it, e.g. `SIGKILL`.",
          code: "The error's tag, e.g. `ForbiddenError`, `ValidationError`, `RateLimitError`.",
          message: "What went wrong.",
        },
      },
      {
        name: "TerminalClientMessage",
        schema: p.TerminalClientMessage,
        fields: {
          data: "Keys to type, byte for byte (operators).",
          cols: "New width of the pane (operators).",
          rows: "New height of the pane (operators).",
          offset: "The offset after the last byte the client has drawn.",
        },
        notes: [inBytes("`data` of `input`")],
      },
    ],
  },
]

// ---------------------------------------------------------------------------------------
// JSDoc of the schemas, read from the sources with the TypeScript parser

export interface SchemaComments {
  readonly summary: string | undefined
  /** By field path; a union's variants share one map (their fields rarely clash). */
  readonly fields: ReadonlyMap<string, string>
}

const SOURCE_DIR = new URL("../src/", import.meta.url)

const jsDocOf = (node: ts.Node): string | undefined => {
  const text = ts
    .getJSDocCommentsAndTags(node)
    .filter(ts.isJSDoc)
    .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? "")
    .join(" ")
    .replace(/\s+/g, " ")
    .trim()
  return text === "" ? undefined : text
}

/** The JSDoc of every `export const` in `src/` and of the properties of its object literals. */
export const readSchemaComments = (): ReadonlyMap<string, SchemaComments> => {
  const out = new Map<string, SchemaComments>()
  for (const file of readdirSync(SOURCE_DIR)
    .filter((f) => f.endsWith(".ts"))
    .sort()) {
    const source = ts.createSourceFile(
      file,
      readFileSync(new URL(file, SOURCE_DIR), "utf8"),
      ts.ScriptTarget.Latest,
      true,
    )
    for (const statement of source.statements) {
      if (!ts.isVariableStatement(statement)) continue
      for (const declaration of statement.declarationList.declarations) {
        if (!ts.isIdentifier(declaration.name) || declaration.initializer === undefined) continue
        const fields = new Map<string, string>()
        const visit = (node: ts.Node, prefix: string): void => {
          if (
            ts.isPropertyAssignment(node) &&
            (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))
          ) {
            const path = `${prefix}${node.name.text}`
            const doc = jsDocOf(node)
            if (doc !== undefined && !fields.has(path)) fields.set(path, doc)
            visit(node.initializer, `${path}.`)
            return
          }
          ts.forEachChild(node, (child) => visit(child, prefix))
        }
        visit(declaration.initializer, "")
        out.set(declaration.name.text, { summary: jsDocOf(declaration), fields })
      }
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------
// JSON Schema conversion

type JsonSchema = { readonly [key: string]: unknown }

export interface Converted {
  readonly schema?: JsonSchema
  /** Set when the schema needed a fallback, or has no JSON Schema form at all. */
  readonly problem?: string
}

/** GitHub's anchor for a heading that is just `name`. */
export const anchorOf = (name: string): string => name.toLowerCase()

const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

const strip = (schema: JsonSchema): JsonSchema => {
  const { $schema: _s, $id: _i, ...rest } = schema
  return rest
}

/**
 * Converts every documented schema as one registry, so that a named schema used inside
 * another is a `$ref` to its own section (`#runnerid`). Should that fail, each schema is
 * converted on its own, inline; a schema with parts JSON Schema cannot express gets those
 * parts as `{}` and a note, and one that cannot be converted at all gets only its note.
 */
export const convertSchemas = (docs: ReadonlyArray<SchemaDoc>): ReadonlyMap<string, Converted> => {
  const registry = z.registry<{ id: string }>()
  for (const doc of docs) registry.add(doc.schema, { id: doc.name })
  try {
    const all = z.toJSONSchema(registry, { io: "input", uri: (id) => `#${anchorOf(id)}` })
    return new Map(
      docs.map((doc): [string, Converted] => {
        const schema = all.schemas[doc.name]
        return [
          doc.name,
          schema === undefined
            ? { problem: "missing from the registry conversion" }
            : { schema: strip(schema) },
        ]
      }),
    )
  } catch {
    return new Map(
      docs.map((doc): [string, Converted] => {
        try {
          return [doc.name, { schema: strip(z.toJSONSchema(doc.schema, { io: "input" })) }]
        } catch (error) {
          try {
            const partial = z.toJSONSchema(doc.schema, { io: "input", unrepresentable: "any" })
            return [
              doc.name,
              {
                schema: strip(partial),
                problem: `parts have no JSON Schema form and show as \`{}\`: ${message(error)}`,
              },
            ]
          } catch (again) {
            return [doc.name, { problem: `no JSON Schema form: ${message(again)}` }]
          }
        }
      }),
    )
  }
}

// ---------------------------------------------------------------------------------------
// Rendering

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ")
const code = (text: string) => `\`${text}\``

/** `int()` bounds every integer by ±(2^53 − 1); saying so on every row is noise. */
const SAFE = Number.MAX_SAFE_INTEGER

interface Renderer {
  readonly names: ReadonlyMap<string, string>
}

const refName = (r: Renderer, ref: string): string => {
  const name = r.names.get(ref.replace(/^#/, ""))
  return name === undefined ? code(ref) : `[${name}](#${anchorOf(name)})`
}

const typeOf = (r: Renderer, node: unknown): string => {
  if (!isObject(node)) return "any"
  if (typeof node.$ref === "string") return refName(r, node.$ref)
  if (node.const !== undefined) return code(JSON.stringify(node.const))
  if (Array.isArray(node.enum)) return node.enum.map((v) => code(JSON.stringify(v))).join(" | ")
  const union = Array.isArray(node.oneOf) ? node.oneOf : node.anyOf
  if (Array.isArray(union)) return union.map((v) => typeOf(r, v)).join(" | ")
  if (Array.isArray(node.type)) return node.type.join(" | ")
  if (node.type === "array") {
    const item = typeOf(r, node.items)
    return item.includes(" | ") ? `(${item})[]` : `${item}[]`
  }
  if (node.type === "object" && !isObject(node.properties) && isObject(node.additionalProperties))
    return `map of ${typeOf(r, node.propertyNames ?? { type: "string" })} → ${typeOf(r, node.additionalProperties)}`
  return typeof node.type === "string" ? node.type : "any"
}

const range = (min: unknown, max: unknown, unit: string) => {
  const lo = typeof min === "number" ? min : undefined
  const hi = typeof max === "number" ? max : undefined
  if (lo !== undefined && hi !== undefined) return `${unit} ${lo}–${hi}`
  if (lo !== undefined) return `${unit} ≥ ${lo}`
  if (hi !== undefined) return `${unit} ≤ ${hi}`
  return undefined
}

const constraintsOf = (r: Renderer, node: unknown): ReadonlyArray<string> => {
  if (!isObject(node) || typeof node.$ref === "string") return []
  const out: Array<string> = []
  if (node.type === "string" || Array.isArray(node.type)) {
    const length = range(node.minLength, node.maxLength, "length")
    if (length !== undefined) out.push(length)
    if (typeof node.pattern === "string") out.push(`matches ${code(node.pattern)}`)
  }
  if (node.type === "integer" || node.type === "number") {
    const min = node.minimum === -SAFE ? undefined : node.minimum
    const max = node.maximum === SAFE ? undefined : node.maximum
    if (typeof node.exclusiveMinimum === "number") out.push(`> ${node.exclusiveMinimum}`)
    const bounds = range(min, max, "value")
    if (bounds !== undefined) out.push(bounds.replace("value ", ""))
  }
  if (node.type === "array") {
    const items = range(node.minItems, node.maxItems, "items")
    if (items !== undefined) out.push(items)
    const each = constraintsOf(r, node.items)
    if (each.length > 0) out.push(`each: ${each.join(", ")}`)
  }
  if (node.type === "object" && isObject(node.additionalProperties)) {
    const keys = constraintsOf(r, node.propertyNames)
    if (keys.length > 0) out.push(`keys: ${keys.join(", ")}`)
    const values = constraintsOf(r, node.additionalProperties)
    if (values.length > 0) out.push(`values: ${values.join(", ")}`)
  }
  const union = Array.isArray(node.oneOf) ? node.oneOf : node.anyOf
  if (Array.isArray(union)) for (const v of union) out.push(...constraintsOf(r, v))
  return out
}

interface FieldRow {
  readonly path: string
  readonly type: string
  readonly required: boolean
  readonly constraints: ReadonlyArray<string>
}

const fieldRows = (r: Renderer, node: JsonSchema, prefix = ""): ReadonlyArray<FieldRow> => {
  const properties = isObject(node.properties) ? node.properties : {}
  const required = new Set(Array.isArray(node.required) ? node.required : [])
  return Object.entries(properties).flatMap(([key, child]) => {
    const path = `${prefix}${key}`
    const nested = isObject(child) && isObject(child.properties)
    const row: FieldRow = {
      path,
      type: nested ? "object" : typeOf(r, child),
      required: required.has(key),
      constraints: constraintsOf(r, child),
    }
    return nested && isObject(child) ? [row, ...fieldRows(r, child, `${path}.`)] : [row]
  })
}

/** Every field path of an object schema (for checking that described fields exist). */
export const fieldPaths = (schema: JsonSchema): ReadonlyArray<string> =>
  fieldRows({ names: new Map() }, schema).map((row) => row.path)

const fieldTable = (r: Renderer, node: JsonSchema, words: SchemaWords): string => {
  const rows = fieldRows(r, node)
  if (rows.length === 0) return "An object with no fields.\n"
  const lines = [
    "| field | type | required | constraints | description |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map(
      (row) =>
        `| ${cell(code(row.path))} | ${cell(row.type)} | ${row.required ? "yes" : "no"} | ${cell(row.constraints.join("; "))} | ${cell(words.describe(row.path) ?? "")} |`,
    ),
  ]
  return `${lines.join("\n")}\n`
}

/** The `type` value that tells a union's variant apart, if it has one. */
const discriminator = (node: JsonSchema): string | undefined => {
  const type = isObject(node.properties) ? node.properties.type : undefined
  return isObject(type) && typeof type.const === "string" ? type.const : undefined
}

/** What a schema section says: the summary and the field descriptions, kept here or JSDoc. */
export interface SchemaWords {
  readonly summary: string | undefined
  readonly describe: (path: string) => string | undefined
}

export const wordsOf = (
  doc: SchemaDoc,
  comments: ReadonlyMap<string, SchemaComments>,
  docs: ReadonlyArray<SchemaDoc> = [],
): SchemaWords => {
  const own = comments.get(doc.name)
  const base = docs.find((d) => d.name === doc.fieldsLike)
  const inherited = base === undefined ? undefined : wordsOf(base, comments, docs)
  return {
    summary: doc.summary ?? own?.summary,
    describe: (path) => doc.fields?.[path] ?? own?.fields.get(path) ?? inherited?.describe(path),
  }
}

const shapeOf = (r: Renderer, words: SchemaWords, schema: JsonSchema): string => {
  const union = Array.isArray(schema.oneOf) ? schema.oneOf : schema.anyOf
  if (Array.isArray(union)) {
    if (union.every((v) => isObject(v) && typeof v.$ref === "string")) {
      return `One of, told apart by \`type\`:\n\n${union.map((v) => `- ${typeOf(r, v)}`).join("\n")}\n`
    }
    return union
      .map((variant, i) => {
        if (!isObject(variant)) return ""
        const tag = discriminator(variant)
        const title =
          tag === undefined ? `**Variant ${i + 1}**` : `**\`type: ${JSON.stringify(tag)}\`**`
        return isObject(variant.properties)
          ? `${title}\n\n${fieldTable(r, variant, words)}`
          : `${title}: ${typeOf(r, variant)}\n`
      })
      .join("\n")
  }
  if (schema.type === "object" && isObject(schema.properties)) {
    const strict = schema.additionalProperties === false ? "\nUnknown fields are refused.\n" : ""
    return `${fieldTable(r, schema, words)}${strict}`
  }
  const constraints = constraintsOf(r, schema)
  return `Type: ${typeOf(r, schema)}${constraints.length > 0 ? `; ${constraints.join("; ")}` : ""}.\n`
}

const schemaSection = (
  r: Renderer,
  doc: SchemaDoc,
  words: SchemaWords,
  converted: Converted | undefined,
): string => {
  const parts = [`### ${doc.name}\n`]
  if (words.summary !== undefined) parts.push(`${words.summary}\n`)
  if (converted?.schema !== undefined) parts.push(shapeOf(r, words, converted.schema))
  if (doc.notes !== undefined) parts.push(`${doc.notes.map((n) => `- ${n}`).join("\n")}\n`)
  if (converted?.problem !== undefined) parts.push(`> JSON Schema: ${converted.problem}\n`)
  if (converted?.schema !== undefined) {
    parts.push(
      `<details><summary>JSON Schema</summary>\n\n\`\`\`json\n${JSON.stringify(converted.schema, null, 2)}\n\`\`\`\n\n</details>\n`,
    )
  }
  return parts.join("\n")
}

const schemaLink = (name: string, array = false) =>
  `[${name}${array ? "[]" : ""}](#${anchorOf(name)})`

const routeId = (route: ApiRoute) =>
  `${route.websocket === true ? "WS" : route.method} ${route.path}`

/** GitHub's anchor for a route heading such as "POST /api/runners/:id/pause". */
const routeAnchor = (route: ApiRoute) =>
  routeId(route)
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replaceAll(" ", "-")

const responseText = (response: RouteResponse) => {
  const body =
    response.schema === undefined
      ? (response.text ?? "")
      : `${schemaLink(response.schema, response.array === true)}${response.text === undefined ? "" : ` (${response.text})`}`
  return `\`${response.status}\` ${body}`.trim()
}

const ROLE_TEXT: Readonly<Record<RouteAuth, string>> = {
  public: "none",
  viewer: "viewer",
  operator: "operator",
  admin: "admin",
}

const routeTable = (routes: ReadonlyArray<ApiRoute>) => {
  const lines = [
    "| method | path | role | request | response |",
    "| --- | --- | --- | --- | --- |",
    ...routes.map((route) => {
      const request = [
        route.params === undefined ? undefined : `params ${schemaLink(route.params)}`,
        route.query === undefined ? undefined : `query ${schemaLink(route.query)}`,
        route.body === undefined ? undefined : `body ${schemaLink(route.body)}`,
      ].filter((x) => x !== undefined)
      return `| ${route.websocket === true ? "WS" : route.method} | [${code(route.path)}](#${routeAnchor(route)}) | ${ROLE_TEXT[route.auth]} | ${cell(request.join(", "))} | ${cell(route.responses.map(responseText).join("; "))} |`
    }),
  ]
  return `${lines.join("\n")}\n`
}

const routeSection = (route: ApiRoute) => {
  const lines = [`### ${routeId(route)}\n`, `${route.summary}\n`]
  const facts = [
    `- Role: ${route.auth === "public" ? "none (public)" : route.auth}${route.websocket === true ? "; a WebSocket upgrade" : ""}`,
    route.params === undefined ? undefined : `- Path parameters: ${schemaLink(route.params)}`,
    route.query === undefined ? undefined : `- Query: ${schemaLink(route.query)}`,
    route.body === undefined ? undefined : `- Body: ${schemaLink(route.body)} (JSON)`,
    `- Response: ${route.responses.map(responseText).join("; ")}`,
    ...(route.errors ?? []).map((e) => `- ${e}`),
    ...(route.notes ?? []).map((n) => `- ${n}`),
  ].filter((x) => x !== undefined)
  lines.push(`${facts.join("\n")}\n`)
  return lines.join("\n")
}

const HEADER = `# HTTP and WebSocket API

<!-- Generated by packages/protocol/scripts/api-reference.ts from the zod schemas in
packages/protocol/src. Do not edit: change the schemas or the script, then run
\`pnpm docs:api\`. packages/protocol/test/api-reference.test.ts fails while this file is stale. -->

Everything the dashboard and the \`geppetto\` CLI do goes through this API, so scripts can do
the same. The shapes below are generated from the zod schemas in \`packages/protocol\` (the same
ones the server parses every request with); the routes and their roles are checked against the
server's own route table by its tests.
`

const CONVENTIONS = `## Conventions

- **Base URL**: \`http://127.0.0.1:7420\` by default (\`geppetto serve --host/--port\`);
  \`https://\` when the server has \`--tls-cert/--tls-key\`.
- **Credentials**, one of:
  - \`Authorization: Bearer TOKEN\`: the owner's token (\`GEPPETTO_TOKEN\`), the viewer token
    (\`GEPPETTO_VIEWER_TOKEN\`), both generated into \`DATA_DIR/tokens.json\` when unset, or a
    user's own token (\`POST /api/users\`);
  - the session cookie \`geppetto_session\`, set by \`POST /api/login\` or by opening
    \`/?token=TOKEN\` in a browser (answered with the cookie and a \`303\` to \`/\`, so the token
    leaves the address bar; a wrong token lands on \`/login?reason=bad-link\`);
  - \`?token=TOKEN\` on WebSocket URLs only, for clients that cannot set headers.
- **Roles**: *none* (public), *viewer* (reads and watches), *operator* (everything a runner
  can do), *admin* (an operator who also manages users); each role passes the routes of the
  roles below it. The built-in user \`owner\` (\`GEPPETTO_TOKEN\`) is an admin, \`viewer\` a
  viewer. A route that needs a role answers \`401 AuthenticationError\` (with
  \`WWW-Authenticate: Bearer realm="geppetto"\`) without valid credentials, or for a removed
  user, and \`403 ForbiddenError\` to a role below the route's. The role is read on every
  request, so a role change applies at once.
- **Origin**: a WebSocket upgrade or a non-\`GET\` request that carries an \`Origin\` header must
  come from the server's own origin (scheme, host and port), else \`403\`. Clients that send no
  \`Origin\` (curl, the CLI, scripts) pass. Behind a TLS-terminating reverse proxy browsers fail
  this check: the server does not read \`X-Forwarded-*\`.
- **Bodies** are JSON (\`Content-Type: application/json\`), at most 1 MiB. Bodies, path
  parameters and queries are parsed by the schemas below; anything else is a \`400\` that
  changes nothing.
- Every \`GET\` route also answers \`HEAD\`, with the same role.
- Every response carries an \`X-Request-Id\` header, also written in the server's log lines
  for that request.
`

const ERRORS = `## Errors

Every error response has one shape, [ErrorResponse](#errorresponse):
\`{ "error": { "code": "…", "message": "…" } }\`. The \`code\` is stable; the \`message\` says
what failed and with which id. The mapping lives in \`apps/server/src/http/domain-errors.ts\`
and \`apps/server/src/auth/plugin.ts\`.

| status | code | when |
| --- | --- | --- |
| 400 | \`ValidationError\` | a body, query or path parameter does not match its schema (the message names the field), or the request cannot be done as asked (unknown provider or account, name taken, no such directory) |
| 400, 413, 415 | \`FST_ERR_…\` | Fastify's own: malformed JSON, a body over 1 MiB (\`413\`), an unsupported content type |
| 401 | \`AuthenticationError\` | no credentials, a wrong token, an expired or revoked session |
| 403 | \`ForbiddenError\` | a role below the route's (a viewer on an operator route, an operator on an admin route); a foreign \`Origin\` |
| 404 | \`NotFoundError\` | no such runner, pane or route |
| 409 | \`AiProviderOperationError\` | the runner cannot do that now (it has ended, its pane is gone) |
| 409 | \`ConflictError\` | a user of that name exists |
| 416 | \`RangeNotSatisfiable\` | log bytes outside what is kept |
| 429 | \`TierLimitError\` | a concurrency limit of \`config.json\` is reached |
| 429 | \`RateLimitError\` | too many login attempts (\`Retry-After\`) |
| 500 | \`InternalError\`, \`ProcessOperationError\`, \`LogStoreError\`, \`JournalError\` | a failure on the server's side; \`InternalError\` hides its message |
| 503 | \`TmuxSessionError\` | tmux could not be reached or refused a command |
`

const EVENTS_SOCKET = `## WebSocket: \`/api/events\`

The board's feed. The server sends JSON text frames ([EventsServerMessage](#eventsservermessage)):

1. \`{ "type": "runners", "runners": [...] }\` at once: the whole list.
2. Then, as things happen: \`{ "type": "runner", "runner" }\` with the runner's new
   [RunnerSummary](#runnersummary) on every change (byte counts and the last line at most once
   a second), \`{ "type": "removed", "runnerId" }\` when a runner is deleted, and
   \`{ "type": "event", "runnerId", "event" }\` for each [ProcessEvent](#processevent) other
   than \`output\`.

A watcher that falls behind (more than 1 MiB not yet sent on its socket, or events it missed
from the server's bounded queue) skips ahead: it gets a fresh \`runners\` list once its socket
drains. Treat every \`runners\` message as the whole truth. Anything the client sends is
ignored.
`

const TERMINAL_SOCKET = `## WebSocket: \`/api/runners/:id/terminal\`

One pane's terminal (\`?pane=%N\`, default the runner's main pane). The runner and the pane are
checked before the upgrade: a bad id is a plain \`400\`/\`404\` response, not a socket that
closes.

**Server → client**

1. Unless the client resumes, first a JSON \`snapshot\` frame: \`data\` is a string of terminal
   sequences that redraws the pane as it was at output offset \`offset\`, for a terminal of
   \`cols\` × \`rows\`. Write it into a fresh terminal of that size.
2. Then output as **binary frames**: an 8-byte big-endian unsigned offset of the frame's first
   byte, then the raw bytes. Frames are contiguous: each starts where the previous ended.
   \`decodeOutputFrame\` / \`encodeOutputFrame\` in \`@geppetto/protocol\` read and write them.
3. JSON frames at any time ([TerminalServerMessage](#terminalservermessage)): \`status\`
   (status or attention changed), \`exit\`, \`resize\` (the pane's size changed; redraw at the new
   size), \`error\` (\`code\` and \`message\`: a refused frame, or a failure before the socket
   closes), and a \`snapshot\` with a \`note\` when the client had to be moved forward.

**Resuming.** A client that reconnects asks for \`?from=OFFSET\` (the offset after the last
byte it drew) and gets exactly the bytes after it, with no snapshot: no gap, no duplicate.
When those bytes were deleted by log retention, or the offset is past the end, it gets a
\`snapshot\` with a \`note\` instead.

**Client → server** ([TerminalClientMessage](#terminalclientmessage), JSON text frames):

- \`{ "type": "input", "data" }\`: keys to type, byte for byte (operators). At most 64 KiB a
  frame; per socket 512 KiB/s and 500 frames/s, and 1,024 frames awaiting tmux; more is
  dropped with a \`RateLimitError\` error frame.
- \`{ "type": "resize", "cols", "rows" }\`: resize the pane (operators); every viewer gets a
  \`resize\` frame.
- \`{ "type": "ack", "offset" }\`: how far the client has drawn, for flow control.

A viewer's \`input\` or \`resize\` gets a \`ForbiddenError\` error frame and is dropped; a frame
that is not valid JSON or does not match gets a \`ValidationError\` error frame; binary frames
from the client are refused the same way. None of these closes the socket.

**Flow control.** Per socket the server hands at most 1 MiB to the socket that is not yet
written out and, once the client has sent one \`ack\`, keeps at most 4 MiB sent but not
acknowledged; past either bound it simply stops reading the log for that socket (the log is on
disk: nothing is lost and nothing else waits). A client that comes back more than 8 MiB behind
gets a fresh \`snapshot\` (with a \`note\`) instead of the backlog. The dashboard acks every
64 KiB drawn or 200 ms.

**Close codes**: \`1001\` the server is shutting down (the runners keep running in tmux;
reconnect with \`from\`), \`1009\` a message over 1 MiB, \`1011\` the output stream failed (an
\`error\` frame says why), \`4401\` the socket's user was removed (every socket of theirs,
\`/api/events\` too, closes within a second; do not reconnect with the same credentials). A
role change keeps the socket open and applies to the next \`input\` or \`resize\` frame.
`

/** The whole of `docs/API.md`. */
export const renderApiReference = (): string => {
  const docs = SCHEMA_GROUPS.flatMap((g) => g.schemas)
  const converted = convertSchemas(docs)
  const comments = readSchemaComments()
  const r: Renderer = { names: new Map(docs.map((d) => [anchorOf(d.name), d.name])) }
  const toc = [
    "- [Conventions](#conventions)",
    "- [Errors](#errors)",
    "- [Routes](#routes)",
    "- [WebSocket: `/api/events`](#websocket-apievents)",
    "- [WebSocket: `/api/runners/:id/terminal`](#websocket-apirunnersidterminal)",
    ...SCHEMA_GROUPS.map(
      (g) =>
        `- [${g.title}](#${g.title.toLowerCase().replaceAll(" ", "-")}): ${g.schemas.map((s) => `[${s.name}](#${anchorOf(s.name)})`).join(", ")}`,
    ),
  ].join("\n")
  const sections = [
    HEADER,
    `${toc}\n`,
    CONVENTIONS,
    ERRORS,
    `## Routes\n\n${routeTable(API_ROUTES)}`,
    ...API_ROUTES.map(routeSection),
    EVENTS_SOCKET,
    TERMINAL_SOCKET,
    ...SCHEMA_GROUPS.flatMap((group) => [
      `## ${group.title}\n${group.intro === undefined ? "" : `\n${group.intro}\n`}`,
      ...group.schemas.map((doc) =>
        schemaSection(r, doc, wordsOf(doc, comments, docs), converted.get(doc.name)),
      ),
    ]),
  ]
  return `${sections.join("\n").trimEnd()}\n`
}

/** Where the reference lives, from this file. */
export const API_REFERENCE_PATH = new URL("../../../docs/API.md", import.meta.url)

// `pnpm docs:api`: write the file (imported by the test, it only renders).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(API_REFERENCE_PATH, renderApiReference())
  process.stdout.write(`wrote ${API_REFERENCE_PATH.pathname}\n`)
}
