import {
  type AuditAction,
  AuditEntry,
  AuditResponse,
  CommitResult,
  CreatedSchedule,
  CreatedUser,
  type CreateScheduleRequest,
  ErrorResponse,
  GitWorkTree,
  LoginResponse,
  type MergeRequest,
  type NotifyEvent,
  ProviderInfo,
  PushKeyResponse,
  PushSubscriptionCreated,
  type Role,
  RunnerDetail,
  type RunnerDetail as RunnerDetailType,
  type RunnerSummary,
  Schedule,
  SessionListing,
  type StartRunnerRequest,
  TranscriptResponse,
  type UsageQuery,
  UsageResponse,
  UserInfo,
  WorkspaceDiff,
} from "@geppetto/protocol"
import * as z from "zod/mini"

/** A failed API call: the HTTP status and the server's typed error, when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The conflicting paths of a refused merge (`GitOperationError` with `conflicts`). */
    readonly conflicts: ReadonlyArray<string> = [],
  ) {
    super(message)
    this.name = "ApiError"
  }

  /** `body.cwd: …` → `cwd`: the request field a validation error names, if any. */
  get field(): string | undefined {
    return /^body\.([A-Za-z0-9_]+)/.exec(this.message)?.[1]
  }

  /** The message without its `body.FIELD:` prefix, to show next to that field. */
  get detail(): string {
    return this.message.replace(/^body\.[A-Za-z0-9_.]*:\s*/, "")
  }
}

// Fastify's own errors (before the domain error mapping) arrive flat: `{ code, message }`.
const FlatError = z.object({ code: z.optional(z.string()), message: z.string() })

type Unauthorized = (error: ApiError) => void
let onUnauthorized: Unauthorized = () => {}
let onForbidden: () => void = () => {}

/** Who hears about a 401 on any call: the session, which sends the user back to log in. */
export const setUnauthorizedHandler = (handler: Unauthorized): void => {
  onUnauthorized = handler
}

/**
 * Who hears about a refusal for want of a role (a 403, or a terminal's `ForbiddenError`
 * frame): the session, which asks again who we are. An admin may have changed our role.
 */
export const setForbiddenHandler = (handler: () => void): void => {
  onForbidden = handler
}

/** A refusal for want of a role seen outside `call` (a terminal socket's error frame). */
export const reportForbidden = (): void => onForbidden()

const errorFrom = async (response: Response): Promise<ApiError> => {
  const body: unknown = await response.json().catch(() => undefined)
  const typed = ErrorResponse.safeParse(body)
  if (typed.success) {
    const { code, message, conflicts } = typed.data.error
    return new ApiError(response.status, code, message, conflicts ?? [])
  }
  const flat = FlatError.safeParse(body)
  if (flat.success) return new ApiError(response.status, flat.data.code ?? "", flat.data.message)
  return new ApiError(
    response.status,
    "",
    `the server answered ${response.status} ${response.statusText}`,
  )
}

type Fetch = typeof fetch

interface CallOptions {
  readonly method?: string
  readonly body?: unknown
  /** A 401 is the caller's to handle (login, the session check) rather than "log in again". */
  readonly expect401?: boolean
  readonly fetch?: Fetch
}

/** One API call: JSON in, a schema-checked JSON (or nothing, for 204) out; errors as `ApiError`. */
async function call<T>(path: string, schema: z.core.$ZodType<T>, options?: CallOptions): Promise<T>
async function call(path: string, schema: undefined, options?: CallOptions): Promise<undefined>
async function call<T>(
  path: string,
  schema: z.core.$ZodType<T> | undefined,
  options: CallOptions = {},
): Promise<T | undefined> {
  const init: RequestInit = {
    method: options.method ?? "GET",
    headers: {
      accept: "application/json",
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    credentials: "same-origin",
  }
  if (options.body !== undefined) init.body = JSON.stringify(options.body)
  let response: Response
  try {
    response = await (options.fetch ?? fetch)(path, init)
  } catch {
    throw new ApiError(0, "NetworkError", "could not reach the Geppetto server")
  }
  if (!response.ok) {
    const error = await errorFrom(response)
    if (response.status === 401 && options.expect401 !== true) onUnauthorized(error)
    if (response.status === 403 && options.expect401 !== true) onForbidden()
    throw error
  }
  if (schema === undefined || response.status === 204) return undefined
  const parsed = z.safeParse(schema, await response.json().catch(() => undefined))
  if (!parsed.success) {
    throw new ApiError(response.status, "ProtocolError", `unexpected answer from ${path}`)
  }
  return parsed.data
}

const runnerPath = (id: string) => `/api/runners/${encodeURIComponent(id)}`
const userPath = (name: string) => `/api/users/${encodeURIComponent(name)}`
const schedulePath = (id: string) => `/api/schedules/${encodeURIComponent(id)}`

/** The filters of `GET /api/audit` (admins); `limit` is 1..1000, the server's default 100. */
export interface AuditFilter {
  readonly user?: string | undefined
  readonly runner?: string | undefined
  readonly action?: AuditAction | undefined
  readonly limit?: number | undefined
}

/** A page of `GET /api/runners/:id/transcript` (see `TranscriptQuery`). */
export interface TranscriptPageQuery {
  readonly after?: number
  readonly before?: number
  readonly limit?: number
}

const query = (params: Readonly<Record<string, string | number | undefined>>): string => {
  const q = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") q.set(key, String(value))
  }
  const text = q.toString()
  return text === "" ? "" : `?${text}`
}

const auditPath = (filter: AuditFilter, follow = false): string => {
  const query = new URLSearchParams()
  for (const key of ["user", "runner", "action", "limit"] as const) {
    const value = filter[key]
    if (value !== undefined && value !== "") query.set(key, String(value))
  }
  if (follow) query.set("follow", "true")
  const q = query.toString()
  return `/api/audit${q === "" ? "" : `?${q}`}`
}

export const api = {
  me: (fetch?: Fetch) =>
    call("/api/me", LoginResponse, { expect401: true, ...(fetch && { fetch }) }),
  login: (token: string) =>
    call("/api/login", LoginResponse, { method: "POST", body: { token }, expect401: true }),
  logout: () => call("/api/logout", undefined, { method: "POST", expect401: true }),
  providers: () => call("/api/providers", z.array(ProviderInfo)),
  runner: (id: string): Promise<RunnerDetailType> => call(runnerPath(id), RunnerDetail),
  start: (request: StartRunnerRequest): Promise<RunnerSummary> =>
    call("/api/runners", RunnerDetail, { method: "POST", body: request }),
  action: (id: string, action: "pause" | "resume" | "terminate") =>
    call(`${runnerPath(id)}/${action}`, RunnerDetail, { method: "POST" }),
  remove: (id: string) => call(runnerPath(id), undefined, { method: "DELETE" }),
  input: (id: string, data: string) =>
    call(`${runnerPath(id)}/input`, undefined, { method: "POST", body: { data } }),
  sessions: () => call("/api/sessions", z.array(SessionListing)),
  adopt: (name: string) =>
    call(`/api/sessions/${encodeURIComponent(name)}/adopt`, RunnerDetail, { method: "POST" }),
  /** The runner's workspace against its base commit; `stat` leaves the patch out. */
  diff: (id: string, options: { stat?: boolean } = {}) =>
    call(`${runnerPath(id)}/diff${options.stat === true ? "?stat=1" : ""}`, WorkspaceDiff),
  commit: (id: string, message: string) =>
    call(`${runnerPath(id)}/commit`, CommitResult, { method: "POST", body: { message } }),
  merge: (id: string, request: MergeRequest) =>
    call(`${runnerPath(id)}/merge`, CommitResult, { method: "POST", body: request }),
  /** The git work tree `cwd` lies in; a 404 `ApiError` when it is in none. */
  gitWorkTree: (cwd: string) => call(`/api/git?cwd=${encodeURIComponent(cwd)}`, GitWorkTree),
  /** Everyone who may log in (admins). */
  users: () => call("/api/users", z.array(UserInfo)),
  /** A new user; the answer's token is shown this once (the server keeps only its hash). */
  addUser: (name: string, role: Role) =>
    call("/api/users", CreatedUser, { method: "POST", body: { name, role } }),
  setRole: (name: string, role: Role) =>
    call(userPath(name), UserInfo, { method: "PATCH", body: { role } }),
  /** Ends the user's sessions at once: their open sockets close, their next call is a 401. */
  removeUser: (name: string) => call(userPath(name), undefined, { method: "DELETE" }),
  /** The audit trail, newest first (admins). */
  audit: (filter: AuditFilter = {}) => call(auditPath(filter), AuditResponse),
  /**
   * Types the quick answer `label` only while the runner still waits on prompt `attentionId`;
   * a `409` `ApiError` (nothing typed) when that prompt is gone.
   */
  reply: (id: string, attentionId: string, label: string) =>
    call(`${runnerPath(id)}/reply`, undefined, { method: "POST", body: { attentionId, label } }),
  /** The server's VAPID public key (base64url), for `pushManager.subscribe`. */
  pushKey: () => call("/api/push/key", PushKeyResponse),
  /** Files this browser's push subscription (its `toJSON()`) with the events it wants. */
  pushSubscribe: (subscription: PushSubscriptionJSON, events: ReadonlyArray<NotifyEvent>) =>
    call("/api/push/subscriptions", PushSubscriptionCreated, {
      method: "POST",
      body: { ...subscription, events: [...events] },
    }),
  pushUnsubscribe: (endpoint: string) =>
    call("/api/push/subscriptions", undefined, { method: "DELETE", body: { endpoint } }),
  /** Every schedule, each with its next run and newest runs. */
  schedules: () => call("/api/schedules", z.array(Schedule)),
  /** A new schedule (operators): its id and first run. */
  addSchedule: (request: CreateScheduleRequest) =>
    call("/api/schedules", CreatedSchedule, { method: "POST", body: request }),
  scheduleAction: (id: string, action: "pause" | "resume") =>
    call(`${schedulePath(id)}/${action}`, Schedule, { method: "POST" }),
  /** Stops and forgets a schedule; the runners it started stay. */
  removeSchedule: (id: string) => call(schedulePath(id), undefined, { method: "DELETE" }),
  /**
   * A page of the agent's own conversation; a 404 `ApiError` when the runner's agent keeps
   * none (or has not written it yet).
   */
  transcript: (id: string, page: TranscriptPageQuery = {}) =>
    call(
      `${runnerPath(id)}/transcript${query({ after: page.after, before: page.before, limit: page.limit })}`,
      TranscriptResponse,
    ),
  /** Tokens and cost of the runners started since `since`, totalled by `by`. */
  usage: (request: UsageQuery = {}) =>
    call(`/api/usage${query({ since: request.since, by: request.by })}`, UsageResponse),
}

/** The link that logs a new user in: the server swaps the token for a cookie and drops it. */
export const loginLink = (token: string): string =>
  `${location.origin}/?token=${encodeURIComponent(token)}`

/**
 * Follows the audit trail (`follow=true`, NDJSON): `onEntry` for the newest `limit` matching
 * entries, oldest first, then for each new one as it is recorded. Resolves when the server
 * ends the stream (it restarted, or we are no longer an admin); rejects when `signal` aborts.
 */
export const followAudit = async (
  filter: AuditFilter,
  onEntry: (entry: AuditEntry) => void,
  signal: AbortSignal,
): Promise<void> => {
  const path = auditPath(filter, true)
  const response = await fetch(path, {
    headers: { accept: "application/x-ndjson" },
    credentials: "same-origin",
    signal,
  })
  if (!response.ok) {
    const error = await errorFrom(response)
    if (response.status === 401) onUnauthorized(error)
    if (response.status === 403) onForbidden()
    throw error
  }
  if (response.body === null) return
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let partial = ""
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    const lines = (partial + value).split("\n")
    partial = lines.pop() ?? ""
    for (const line of lines) {
      if (line.trim() === "") continue
      let json: unknown
      try {
        json = JSON.parse(line)
      } catch {
        continue
      }
      const parsed = z.safeParse(AuditEntry, json)
      if (parsed.success) onEntry(parsed.data)
    }
  }
}

/** The URL of a runner's whole kept log, for a download link. */
export const logUrl = (id: string): string => `${runnerPath(id)}/log`

/**
 * The last `bytes` bytes of a runner's kept log (fewer when retention deleted older ones),
 * and the absolute offset of the first. A suffix `Range` lets the server clamp to what it keeps.
 */
export const fetchLogTail = async (
  id: string,
  bytes: number,
): Promise<{ start: number; data: Uint8Array }> => {
  const response = await fetch(logUrl(id), {
    headers: { range: `bytes=-${Math.max(1, Math.floor(bytes))}` },
    credentials: "same-origin",
  })
  if (response.status === 416) return { start: 0, data: new Uint8Array() } // nothing logged yet
  if (!response.ok) {
    const error = await errorFrom(response)
    if (response.status === 401) onUnauthorized(error)
    throw error
  }
  const range = /^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "")
  const start = Number(range?.[1] ?? response.headers.get("x-log-start") ?? 0)
  return { start, data: new Uint8Array(await response.arrayBuffer()) }
}

/** A message fit to show for anything a call threw. */
export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)
