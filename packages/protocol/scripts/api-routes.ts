/**
 * The routes of `docs/API.md`, hand-kept: method, path, role, and the schemas of each request
 * and response. The server's `test/api/api-reference-routes.test.ts` compares this table with
 * the app's own route auth table (`listAuthRoutes`), so a route added, removed or given
 * another role without a line here fails the tests.
 */

export type RouteAuth = "public" | "viewer" | "operator" | "admin"

export interface RouteResponse {
  readonly status: number
  /** A schema documented below; `array` means a JSON array of it. */
  readonly schema?: string
  readonly array?: boolean
  /** What the body is when it is not JSON (or there is none). */
  readonly text?: string
}

export interface ApiRoute {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  readonly path: string
  readonly auth: RouteAuth
  /** A WebSocket route: `GET` with `Upgrade: websocket`. */
  readonly websocket?: boolean
  readonly summary: string
  readonly params?: string
  readonly query?: string
  readonly body?: string
  readonly responses: ReadonlyArray<RouteResponse>
  /** Status codes particular to this route, beyond the ones every route may answer. */
  readonly errors?: ReadonlyArray<string>
  readonly notes?: ReadonlyArray<string>
}

/** Every route the server registers (each `GET` also answers `HEAD`, with the same role). */
export const API_ROUTES: ReadonlyArray<ApiRoute> = [
  {
    method: "GET",
    path: "/api/health",
    auth: "public",
    summary: "Liveness, the server's version and the tmux version. Carries nothing secret.",
    responses: [{ status: 200, schema: "HealthResponse" }],
  },
  {
    method: "POST",
    path: "/api/login",
    auth: "public",
    summary: "Trades a token for the session cookie `geppetto_session` (30 days).",
    body: "LoginRequest",
    responses: [{ status: 200, schema: "LoginResponse" }],
    errors: [
      "`401 AuthenticationError`: not one of the server's tokens",
      "`429 RateLimitError`: more than 10 attempts a minute from one client address; `Retry-After` says when to retry",
    ],
    notes: [
      "The body may be at most 4 KiB. The cookie is signed and carries the role, its expiry and a keyed fingerprint of the token: rotating a token ends its sessions.",
    ],
  },
  {
    method: "POST",
    path: "/api/logout",
    auth: "public",
    summary: "Clears the session cookie.",
    responses: [{ status: 204, text: "no body" }],
  },
  {
    method: "GET",
    path: "/api/me",
    auth: "viewer",
    summary: "Who the credentials say you are: the user's name and their role now.",
    responses: [{ status: 200, schema: "LoginResponse" }],
  },
  {
    method: "POST",
    path: "/api/users",
    auth: "admin",
    summary: "Adds a user with a new token, which the answer shows this once.",
    body: "CreateUserRequest",
    responses: [{ status: 201, schema: "CreatedUser" }],
    errors: [
      "`400 ValidationError`: a name outside `^[a-z][a-z0-9_-]{0,31}$`, or `owner` / `viewer`",
      "`409 ConflictError`: a user of that name exists",
    ],
    notes: [
      "The token is 32 random bytes (base64url); `DATA_DIR/users.json` (0600) keeps only its SHA-256. Log in with it, or open `/?token=TOKEN`.",
    ],
  },
  {
    method: "GET",
    path: "/api/users",
    auth: "admin",
    summary: "Every user, the built-in `owner` and `viewer` included (`builtin: true`).",
    responses: [{ status: 200, schema: "UserInfo", array: true }],
  },
  {
    method: "PATCH",
    path: "/api/users/:name",
    auth: "admin",
    summary: "Changes a user's role, from their next request and their next terminal frame on.",
    params: "UserParams",
    body: "UpdateUserRequest",
    responses: [{ status: 200, schema: "UserInfo" }],
    errors: [
      "`400 ValidationError`: a built-in user (`owner`, `viewer`)",
      "`404 NotFoundError`: no such user",
    ],
  },
  {
    method: "DELETE",
    path: "/api/users/:name",
    auth: "admin",
    summary: "Removes a user: their token and cookies get `401` from then on.",
    params: "UserParams",
    responses: [{ status: 204, text: "no body" }],
    errors: [
      "`400 ValidationError`: a built-in user (`owner`, `viewer`)",
      "`404 NotFoundError`: no such user",
    ],
    notes: [
      "Each of the user's open WebSockets (events, terminals) is closed with code `4401` within a second.",
    ],
  },
  {
    method: "GET",
    path: "/api/audit",
    auth: "admin",
    summary: "The audit trail, newest first: who did what, when, to which runner.",
    query: "AuditQuery",
    responses: [
      { status: 200, schema: "AuditResponse" },
      { status: 200, text: "`application/x-ndjson` with `follow=true`: one AuditEntry per line" },
    ],
    errors: ["`400 ValidationError`: an unknown action, a limit outside 1..1000"],
    notes: [
      "Every given filter must match (`user`, `runner`, `action`). Durable across restarts: `DATA_DIR/audit/` (0700), segments of 16 MB (0600) kept to 256 MB, each line checksummed.",
      "`follow=true` sends the newest `limit` entries oldest first, then each new one as it is recorded, with none missed or repeated in between; it ends when the client goes, or when its user is removed or is no longer an admin.",
      "Recorded: `login`, `login.failed` (with the client's `address`; the user is `anonymous`), `runner.start`, `runner.pause`, `runner.resume`, `runner.terminate`, `runner.remove`, `runner.input` (`N bytes` per burst of typing: a burst ends after 2 s without input or when the socket closes; a `POST /api/runners/:id/input` is one burst), `session.adopt`, `workspace.commit`, `workspace.merge`, `user.add`, `user.role`, `user.remove`. The routes that record do so before they answer.",
    ],
  },
  {
    method: "GET",
    path: "/api/push/key",
    auth: "viewer",
    summary:
      "The server's VAPID public key: the `applicationServerKey` of `pushManager.subscribe`.",
    responses: [{ status: 200, schema: "PushKeyResponse" }],
    notes: [
      "Made once into `DATA_DIR/vapid.json` (0600). A new key pair (the file deleted) orphans every subscription: browsers must subscribe again.",
    ],
  },
  {
    method: "POST",
    path: "/api/push/subscriptions",
    auth: "viewer",
    summary:
      "Subscribes this browser to Web Push for the caller: the browser's `PushSubscription` JSON, plus the events it wants (default `waiting`). The same endpoint posted again replaces its events.",
    body: "PushSubscriptionRequest",
    responses: [{ status: 201, schema: "PushSubscriptionCreated" }],
    errors: ["`400 ValidationError`: an endpoint that is not `https:`, keys of the wrong size"],
    notes: [
      "Kept per user in `DATA_DIR/push-subscriptions.json` (0600), at most 10 a user (the oldest goes). A push service's `404`/`410` drops the subscription; `429`/`5xx` are retried with backoff. Viewers' pushes carry no quick answers. Needs a secure context in the browser (HTTPS, or `localhost`).",
    ],
  },
  {
    method: "DELETE",
    path: "/api/push/subscriptions",
    auth: "viewer",
    summary:
      "Unsubscribes one of the caller's browsers (by endpoint). Idempotent: an unknown endpoint also answers `204`.",
    body: "PushUnsubscribeRequest",
    responses: [{ status: 204, text: "no body" }],
    errors: ["`400 ValidationError`: not an `https:` endpoint"],
  },
  {
    method: "GET",
    path: "/api/providers",
    auth: "viewer",
    summary:
      "The providers the server knows, whether each CLI is on the server's `PATH`, and its version.",
    responses: [{ status: 200, schema: "ProviderInfo", array: true }],
    notes: ["Probed in parallel (`--version`) and cached for a minute."],
  },
  {
    method: "GET",
    path: "/api/runners",
    auth: "viewer",
    summary: "Every runner, live and finished.",
    responses: [{ status: 200, schema: "RunnerSummary", array: true }],
  },
  {
    method: "POST",
    path: "/api/runners",
    auth: "operator",
    summary: "Starts a runner: an agent CLI, or any argv with the `shell` provider.",
    body: "StartRunnerRequest",
    responses: [{ status: 201, schema: "RunnerDetail" }],
    errors: [
      "`400 ValidationError`: the body, an unknown provider or account, a name already taken, a mode or prompt the provider does not take; a `resume` the provider cannot do (naming it), of an unknown or live runner, of another provider, or whose session id is not known",
      "`429 TierLimitError`: a per-provider or per-account limit of `config.json` is reached",
      "`503 TmuxSessionError`: tmux could not be reached or refused",
    ],
    notes: [
      "Defaults: `mode` `interactive`; `cwd` the server's `$HOME`; `cols` × `rows` 120 × 32; `name` `PROVIDER-XXXXXX`, which is also the tmux session name.",
    ],
  },
  {
    method: "GET",
    path: "/api/runners/:id",
    auth: "viewer",
    summary:
      "One runner with its metrics, its tmux session, who is watching it (`viewers`) and, while it waits, quick answers.",
    params: "RunnerParams",
    responses: [{ status: 200, schema: "RunnerDetail" }],
  },
  {
    method: "POST",
    path: "/api/runners/:id/pause",
    auth: "operator",
    summary: "Freezes the runner's processes (`SIGSTOP`).",
    params: "RunnerParams",
    responses: [{ status: 200, schema: "RunnerDetail" }],
    errors: ["`409 AiProviderOperationError`: the runner cannot do that now (it has ended)"],
  },
  {
    method: "POST",
    path: "/api/runners/:id/resume",
    auth: "operator",
    summary: "Lets a paused runner go on (`SIGCONT`).",
    params: "RunnerParams",
    responses: [{ status: 200, schema: "RunnerDetail" }],
    errors: ["`409 AiProviderOperationError`: the runner cannot do that now"],
  },
  {
    method: "POST",
    path: "/api/runners/:id/terminate",
    auth: "operator",
    summary:
      "Ends the runner: Ctrl-C, then `SIGTERM`, then `SIGKILL` and its tmux session killed, each after a grace period. It stays listed with its logs.",
    params: "RunnerParams",
    responses: [{ status: 200, schema: "RunnerDetail" }],
  },
  {
    method: "DELETE",
    path: "/api/runners/:id",
    auth: "operator",
    summary: "Terminates the runner if it is live, then forgets it and deletes its logs.",
    params: "RunnerParams",
    responses: [{ status: 204, text: "no body" }],
  },
  {
    method: "POST",
    path: "/api/runners/:id/input",
    auth: "operator",
    summary:
      "Types `data` into the runner's pane, byte for byte (for scripts and the CLI; `\\r` is Enter).",
    params: "RunnerParams",
    body: "InputRequest",
    responses: [{ status: 204, text: "no body" }],
    errors: ["`409 AiProviderOperationError`: the runner has ended"],
  },
  {
    method: "POST",
    path: "/api/runners/:id/reply",
    auth: "operator",
    summary:
      "Types the keys of the quick answer `label` (one of `answers` of `GET /api/runners/:id`), only while the runner still waits on the prompt `attentionId` and its screen still shows it. What a notification's action and the dashboard's quick replies post.",
    params: "RunnerParams",
    body: "ReplyRequest",
    responses: [{ status: 204, text: "no body" }],
    errors: [
      "`400 ValidationError`: the body, or a `label` the prompt does not offer",
      "`409 ConflictError`: the runner waits on another prompt, or on none (answered, gone, ended), or its screen no longer shows the prompt; nothing was typed",
    ],
    notes: [
      "A stale notification must never press a key on a later dialog: the prompt is checked against the runner's `attentionId` as the request is served, and a prompt a screen rule found is checked once more on a fresh capture of the screen (its status can lag the screen by the attention debounce) right before the keys are typed. Recorded in the audit trail as `runner.reply` with the label.",
    ],
  },
  {
    method: "GET",
    path: "/api/runners/:id/diff",
    auth: "viewer",
    summary:
      "Everything in the runner's workspace against its base commit: committed, uncommitted and untracked (ignored files left out). `?stat=1`: the file list only.",
    params: "RunnerParams",
    query: "DiffQuery",
    responses: [{ status: 200, schema: "WorkspaceDiff" }],
    errors: [
      "`404 NotFoundError`: the runner has no workspace (its cwd is not in a git work tree)",
    ],
    notes: [
      "The patch is bounded (2 MB, 512 KB a file): files past it are listed with `omitted: true` and the answer has `truncated: true`.",
    ],
  },
  {
    method: "POST",
    path: "/api/runners/:id/commit",
    auth: "operator",
    summary: "Stages everything in the runner's workspace (ignored files left out) and commits it.",
    params: "RunnerParams",
    body: "CommitRequest",
    responses: [{ status: 200, schema: "CommitResult" }],
    errors: [
      "`404 NotFoundError`: the runner has no workspace",
      "`409 GitOperationError`: nothing to commit",
    ],
  },
  {
    method: "POST",
    path: "/api/runners/:id/merge",
    auth: "operator",
    summary:
      "Merges the runner's branch into `into` (default: its base, when that is a branch), with a merge commit or squashed. Where `into` is checked out, that work tree is updated and left clean.",
    params: "RunnerParams",
    body: "MergeRequest",
    responses: [{ status: 200, schema: "CommitResult" }],
    errors: [
      "`404 NotFoundError`: the runner has no workspace",
      "`409 GitOperationError`: a conflict (`conflicts` lists the files), uncommitted changes in the runner's work tree or in the target's, or nothing to merge; nothing was changed",
    ],
  },
  {
    method: "GET",
    path: "/api/git",
    auth: "operator",
    summary:
      "Whether a folder lies in a git work tree, and which (the start form's *Own worktree*).",
    query: "GitQuery",
    responses: [{ status: 200, schema: "GitWorkTree" }],
    errors: ["`404 NotFoundError`: not in a git work tree"],
  },
  {
    method: "GET",
    path: "/api/runners/:id/transcript",
    auth: "viewer",
    summary:
      "The conversation behind the terminal, read from the agent's own session file: messages, tool calls with their input, their results, the agent's notes; and the runner's token usage and cost.",
    params: "RunnerParams",
    query: "TranscriptQuery",
    responses: [{ status: 200, schema: "TranscriptResponse" }],
    errors: [
      "`404 NotFoundError`: no such runner, or it keeps no transcript (a provider other than Claude Code, Codex, Gemini CLI and Qwen Code, or the agent has not written one yet)",
      "`400 ValidationError`: both `after` and `before`",
    ],
    notes: [
      "Claude Code is started with `--session-id`, so its file (`CLAUDE_CONFIG_DIR` or `~/.claude`, `projects/<cwd slug>/<id>.jsonl`) is known; a Codex rollout (`CODEX_HOME` or `~/.codex`, `sessions/YYYY/MM/DD/rollout-*.jsonl`) is the first whose `session_meta` has the runner's cwd and started at most 5 s before the runner.",
      "Paging: entries are numbered from 0 (`seq`). No cursor gives the newest `limit` (default 200, at most 500); `before=N` the page below N; `after=N` what is new from N (a live view asks with its last `total`). The server keeps the newest 512 entries and a checkpoint every 256 entries, so an old page is read again from disk.",
      "`text` is cut at 8,000 characters and `input` at 4,000 characters of JSON (`truncated: true`). Lines the reader cannot parse are counted in `skipped`.",
    ],
  },
  {
    method: "GET",
    path: "/api/usage",
    auth: "viewer",
    summary:
      "Tokens and cost of the runners started since a time (default: 30 days ago), grouped by the day they started, their provider or their account.",
    query: "UsageQuery",
    responses: [{ status: 200, schema: "UsageResponse" }],
    notes: [
      "Counts the runners the server still lists (a removed runner's usage goes with it). A group's `costUsd` is the cost of its priced tokens; `unpricedTokens` counts those of models with no price.",
    ],
  },
  {
    method: "GET",
    path: "/api/search",
    auth: "viewer",
    summary:
      "Searches every kept log byte of every runner (or one) for a literal text, case-insensitively, with terminal escape sequences stripped; hits are streamed as they are found.",
    query: "SearchQuery",
    responses: [
      { status: 200, schema: "SearchResponse" },
      {
        status: 200,
        text: "with `Accept: application/x-ndjson`: one `SearchStreamLine` per line, `hit`s then one `end`",
      },
    ],
    errors: ["`404 NotFoundError`: `runner` names no runner"],
    notes: [
      "`q` is a literal, never a regular expression. Runners newest first, then by offset; `offset` is the absolute log offset of the match's first byte (open `GET /api/runners/:id/log?from=OFFSET` there).",
      "A search reads for at most 2 s (`timedOut: true`, with what it found) and stops at `limit` hits (`truncated: true`). The body is written hit by hit (chunked) either way; a client that goes away stops the search.",
      "A line longer than 64 KiB without a newline is scanned in overlapping windows; `line` is the hit's line as plain text, cut to 240 characters around the match. An adopted session's other panes are not searched.",
    ],
  },
  {
    method: "GET",
    path: "/api/runners/:id/log",
    auth: "viewer",
    summary:
      "The runner's output bytes as the terminal received them (escape sequences included), from `?from=OFFSET` (default: the oldest byte still kept) to the end written when the request came.",
    params: "RunnerParams",
    query: "LogQuery",
    responses: [
      { status: 200, text: "`application/octet-stream`" },
      { status: 206, text: "`application/octet-stream`, for a `Range` request" },
    ],
    errors: [
      "`416 RangeNotSatisfiable`: `from` or the range lies outside the kept output (retention deleted it, or it is past the end); `Content-Range: bytes */END`",
    ],
    notes: [
      "Headers: `X-Log-Start` (oldest offset still kept), `X-Log-End` (the end when the request came), `Accept-Ranges: bytes`.",
      "`Range: bytes=A-B`, `bytes=A-` and `bytes=-N` count absolute output offsets, not positions in the body; one range only.",
    ],
  },
  {
    method: "GET",
    path: "/api/sessions",
    auth: "viewer",
    summary: "tmux sessions on the server's tmux server that no runner manages yet.",
    responses: [{ status: 200, schema: "SessionListing", array: true }],
  },
  {
    method: "POST",
    path: "/api/sessions/:name/adopt",
    auth: "operator",
    summary:
      "Makes an existing tmux session a runner: each of its panes is logged and watched; the session is not restarted.",
    params: "AdoptParams",
    responses: [{ status: 201, schema: "RunnerDetail" }],
  },
  {
    method: "POST",
    path: "/api/schedules",
    auth: "operator",
    summary:
      "Adds a schedule: `start` (a `POST /api/runners` body) is started at each time `cron` names, in `timezone` (default: the server's).",
    body: "CreateScheduleRequest",
    responses: [{ status: 201, schema: "CreatedSchedule" }],
    errors: [
      "`400 ValidationError`: a cron expression croner refuses or one that never runs again, an unknown time zone, a name another schedule has, or a `start` that a start would refuse now (unknown provider, a `cwd` that is no folder, an unknown account, `worktree.branch`, a `start.name` over 44 characters), or 200 schedules already; nothing is kept",
      "`507 StorageError`: `DATA_DIR/schedules.json` cannot be written; nothing is kept",
    ],
    notes: [
      "Each run starts a runner named `start.name` (else the schedule's name) plus `-YYYYMMDD-HHMMSS` (its time in the schedule's zone; `-2`, `-3`… on a clash), with `scheduleId` set. The audit trail has `schedule.add`, and each run's `runner.start` by user `schedule:NAME`.",
      '`overlap: "skip"` (the default) skips a run while a runner the schedule started still lives (recorded as `skipped`). A run that fell due while the server was down, or that the wall clock jumped over by more than a minute, is recorded as `missed` and not made up. A run the start refuses then (a limit, a name taken) is `failed`, with the reason.',
      "Kept in `DATA_DIR/schedules.json` (0600, replaced whole by rename), across restarts.",
    ],
  },
  {
    method: "GET",
    path: "/api/schedules",
    auth: "viewer",
    summary: "Every schedule, by name, each with its next run and its newest 5 runs.",
    responses: [{ status: 200, schema: "Schedule", array: true }],
  },
  {
    method: "GET",
    path: "/api/schedules/:id",
    auth: "viewer",
    summary:
      "One schedule with its runs (the newest 50 are kept): when, what came of it, the runner it started and that runner's status now.",
    params: "ScheduleParams",
    responses: [{ status: 200, schema: "Schedule" }],
    errors: ["`404 NotFoundError`: no such schedule"],
  },
  {
    method: "DELETE",
    path: "/api/schedules/:id",
    auth: "operator",
    summary:
      "Removes a schedule (a run being started finishes first); the runners it started stay. Audited as `schedule.remove`.",
    params: "ScheduleParams",
    responses: [{ status: 204, text: "no body" }],
    errors: ["`404 NotFoundError`: no such schedule"],
  },
  {
    method: "POST",
    path: "/api/schedules/:id/pause",
    auth: "operator",
    summary:
      "Pauses a schedule: no runs until it is resumed (`nextRunAt` is absent meanwhile). Audited as `schedule.pause`.",
    params: "ScheduleParams",
    responses: [{ status: 200, schema: "Schedule" }],
    errors: ["`404 NotFoundError`: no such schedule"],
  },
  {
    method: "POST",
    path: "/api/schedules/:id/resume",
    auth: "operator",
    summary:
      "Resumes a paused schedule from now on: runs that fell due while it was paused are not made up. Audited as `schedule.resume`.",
    params: "ScheduleParams",
    responses: [{ status: 200, schema: "Schedule" }],
    errors: ["`404 NotFoundError`: no such schedule"],
  },
  {
    method: "GET",
    path: "/api/events",
    auth: "viewer",
    websocket: true,
    summary: "The board's live feed: the list of runners, then every change.",
    query: "EventsQuery",
    responses: [{ status: 101, schema: "EventsServerMessage", text: "JSON text frames" }],
    notes: [
      "After the list, one `presence` message per runner someone is watching; then one each time a runner's viewers change (a terminal socket opens or closes, typing starts, or stops 3 s after the last keystroke).",
    ],
  },
  {
    method: "GET",
    path: "/api/runners/:id/terminal",
    auth: "viewer",
    websocket: true,
    summary:
      "One pane's live terminal: a snapshot, then the output as binary frames; operators also type and resize.",
    params: "RunnerParams",
    query: "TerminalQuery",
    responses: [
      {
        status: 101,
        schema: "TerminalServerMessage",
        text: "JSON text frames, plus binary output frames",
      },
    ],
    errors: ["`404 NotFoundError`: no such runner, or no such `pane` (checked before the upgrade)"],
  },
  {
    method: "GET",
    path: "/metrics",
    auth: "operator",
    summary:
      "Prometheus metrics of the server, its process and the runners (text exposition format), among them the agents' tokens and cost as counters: `geppetto_agent_tokens_total{provider,account,kind}` (`kind`: `input`, `output`, `cacheRead`, `cacheWrite`) and `geppetto_agent_cost_usd_total{provider,account}` (`account` empty for none), counting what usage grew by while this server ran (a restart starts them from zero).",
    responses: [{ status: 200, text: "`text/plain; version=0.0.4`" }],
  },
]
