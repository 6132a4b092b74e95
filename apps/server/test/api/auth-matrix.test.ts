import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RunnerDetail } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SESSION_COOKIE, signSession, tokenFingerprint } from "../../src/auth/credentials.js"
import { type AuthLevel, listAuthRoutes } from "../../src/auth/plugin.js"
import { testSecret } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { upgrade, WsClient } from "../helpers/ws.js"

/**
 * `admin` is the server's own token (the built-in user `owner`); `operator` is a named user
 * with the operator role, added in `beforeAll`, so operator and admin differ where they should.
 * Each role also as a session cookie (`POST /api/login`); then a removed user's token and
 * cookie, and a cookie past its expiry: those three must get what no credential gets.
 */
type Role = "viewer" | "operator" | "admin"
type Credential =
  | "none"
  | "wrong"
  | Role
  | `${Role} cookie`
  | "revoked token"
  | "revoked cookie"
  | "expired cookie"
const CREDENTIALS: ReadonlyArray<Credential> = [
  "none",
  "wrong",
  "viewer",
  "operator",
  "admin",
  "viewer cookie",
  "operator cookie",
  "admin cookie",
  "revoked token",
  "revoked cookie",
  "expired cookie",
]
const UNAUTHENTICATED: ReadonlySet<Credential> = new Set([
  "none",
  "wrong",
  "revoked token",
  "revoked cookie",
  "expired cookie",
])
const roleOf = (who: Credential): Role | undefined =>
  UNAUTHENTICATED.has(who) ? undefined : (who.replace(" cookie", "") as Role)
const DESCRIBED: Readonly<Record<Credential, string>> = {
  none: "no credential",
  wrong: "a wrong token",
  viewer: "a viewer token",
  operator: "an operator token",
  admin: "an admin token",
  "viewer cookie": "a viewer cookie",
  "operator cookie": "an operator cookie",
  "admin cookie": "an admin cookie",
  "revoked token": "a removed user's token",
  "revoked cookie": "a removed user's cookie",
  "expired cookie": "an expired cookie",
}

interface Sample {
  readonly url: string
  readonly payload?: object
}

interface RouteCase {
  /** The level the contract gives the route; the app's table must say the same. */
  readonly auth: AuthLevel
  readonly websocket: boolean
  /** A request that succeeds for a caller allowed in (a fresh runner where it is destructive). */
  readonly sample: (s: TestServer, who: Credential) => Promise<Sample>
}

let server: TestServer
/** The named operator's token (`POST /api/users`). */
let operatorToken = ""
let userCounter = 0
/** A fresh named user for the routes that change or remove one. */
const someUser = async (s: TestServer) => {
  const name = `matrix-${++userCounter}`
  const added = await s.app.users.add(name, "viewer")
  if (!added.ok) throw new Error(`cannot add ${name}: ${added.reason}`)
  return name
}
/** A live `sh` runner shared by the routes that do not change it for good. */
let shared: RunnerDetail
let adoptCounter = 0

const sleeper = async (s: TestServer) =>
  (await s.start({ provider: "shell", command: ["sh", "-c", "exec sleep 600"] })).id
const sharedId = async () => shared.id

/**
 * A Claude runner with a transcript: the fake agent of transcript.test.ts on the start's PATH,
 * writing under a CLAUDE_CONFIG_DIR of its own. Made once, on first use.
 */
let transcriptRunnerId: Promise<string> | undefined
const transcriptRunner = (s: TestServer) => {
  transcriptRunnerId ??= (async () => {
    const bin = mkdtempSync(join(tmpdir(), "geppetto-matrix-claude-"))
    copyFileSync(new URL("../fixtures/transcript-agent.sh", import.meta.url), join(bin, "claude"))
    const runner = await s.start({
      provider: "claude",
      cwd: s.dataDir,
      env: { PATH: `${bin}:${process.env.PATH ?? ""}`, CLAUDE_CONFIG_DIR: join(bin, "home") },
    })
    await waitFor(
      async () => (await s.get(`/api/runners/${runner.id}/transcript`)).statusCode === 200,
      () => `a transcript; screen: ${s.capture(runner.name)}`,
    )
    return runner.id
  })()
  return transcriptRunnerId
}

/** The start of a runner's log, for a failure's message. */
const logOf = (s: TestServer, id: string) => {
  try {
    return execFileSync(
      "sh",
      ["-c", 'cat "$0"/out-* 2>/dev/null | head -c 2000', join(s.dataDir, "runners", id)],
      {
        encoding: "utf8",
      },
    )
  } catch {
    return ""
  }
}

/** A runner that stops at "Continue? [y/N]" (the generic yes/no rule: Yes and No). */
const asker = async (s: TestServer) =>
  (
    await s.start({
      provider: "shell",
      command: ["sh", "-c", "printf 'Continue? [y/N] '; read a; exec sleep 600"],
    })
  ).id
let pushCounter = 0
/** A browser's subscription JSON; its push service is a closed port (nothing is pushed here). */
const pushSubscription = () => ({
  endpoint: `https://127.0.0.1:9/matrix-${++pushCounter}`,
  expirationTime: null,
  keys: {
    p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString("base64url"),
    auth: Buffer.alloc(16, 2).toString("base64url"),
  },
})

let scheduleCounter = 0
/** A fresh schedule (made by the operator) that runs on 1 January only: never during a test. */
const someSchedule = async (s: TestServer) => {
  const reply = await s.post("/api/schedules", {
    name: `matrix-${++scheduleCounter}`,
    cron: "0 0 1 1 *",
    start: { provider: "shell", command: ["true"] },
  })
  if (reply.statusCode !== 201) throw new Error(`schedule: ${reply.statusCode} ${reply.body}`)
  return (reply.json() as { id: string }).id
}
let sharedSchedule: string | undefined
const sharedScheduleId = async (s: TestServer) => {
  sharedSchedule ??= await someSchedule(s)
  return sharedSchedule
}

let repo: string | undefined
let gitCounter = 0
/** A git repository in the server's data dir, made once, for the workspace routes. */
const repoOf = (s: TestServer) => {
  if (repo !== undefined) return repo
  const made = join(s.dataDir, "repo")
  mkdirSync(made)
  for (const args of [
    ["init", "-q", "-b", "main"],
    ["config", "user.name", "Test"],
    ["config", "user.email", "test@example.com"],
    ["commit", "-q", "--allow-empty", "-m", "initial"],
  ]) {
    execFileSync("git", ["-C", made, ...args])
  }
  repo = made
  return made
}
/**
 * A runner in its own worktree whose file is written (and, with `commit`, committed on its
 * branch) before the sample is used.
 */
const gitRunner = async (s: TestServer, commit: boolean) => {
  const file = `file-${++gitCounter}.txt`
  const script = commit
    ? `echo x > ${file} && git add -A && git -c user.name=a -c user.email=a@b commit -qm ${file}; exec sleep 600`
    : `echo x > ${file}; exec sleep 600`
  const started = await s.start({
    provider: "shell",
    command: ["sh", "-c", script],
    cwd: repoOf(s),
    worktree: true,
  })
  const path = started.workspace?.path ?? ""
  // `--no-optional-locks`: a plain `git status` takes the worktree's index.lock to refresh
  // it, and polling that every 20 ms made the runner's own `git commit` fail now and then.
  const status = () =>
    execFileSync("git", ["--no-optional-locks", "-C", path, "status", "--porcelain"], {
      encoding: "utf8",
    })
  await waitFor(
    () => {
      const now = status()
      return commit ? now === "" && existsSync(join(path, file)) : now.includes(file)
    },
    () =>
      `${file} in ${path} (git status: ${JSON.stringify(status())}, log: ${JSON.stringify(logOf(s, started.id))})`,
    // Inside the test's own 60 s, so a failure says what the worktree holds.
    45_000,
  )
  return started.id
}

/**
 * Every route the app serves, with its auth level. The test compares this list with the app's
 * own route table, so a new route cannot ship without a decision here.
 */
const ROUTES: Readonly<Record<string, RouteCase>> = {
  "POST /api/login": {
    auth: "public",
    websocket: false,
    sample: async (s) => ({ url: "/api/login", payload: { token: s.tokens.viewer } }),
  },
  "POST /api/logout": {
    auth: "public",
    websocket: false,
    sample: async () => ({ url: "/api/logout" }),
  },
  "GET /api/health": {
    auth: "public",
    websocket: false,
    sample: async () => ({ url: "/api/health" }),
  },
  "HEAD /api/health": {
    auth: "public",
    websocket: false,
    sample: async () => ({ url: "/api/health" }),
  },
  "GET /api/me": { auth: "viewer", websocket: false, sample: async () => ({ url: "/api/me" }) },
  "HEAD /api/me": { auth: "viewer", websocket: false, sample: async () => ({ url: "/api/me" }) },
  "POST /api/users": {
    auth: "admin",
    websocket: false,
    sample: async () => ({
      url: "/api/users",
      payload: { name: `matrix-new-${++userCounter}`, role: "viewer" },
    }),
  },
  "GET /api/users": {
    auth: "admin",
    websocket: false,
    sample: async () => ({ url: "/api/users" }),
  },
  "HEAD /api/users": {
    auth: "admin",
    websocket: false,
    sample: async () => ({ url: "/api/users" }),
  },
  "PATCH /api/users/:name": {
    auth: "admin",
    websocket: false,
    sample: async (s) => ({
      url: `/api/users/${await someUser(s)}`,
      payload: { role: "operator" },
    }),
  },
  "DELETE /api/users/:name": {
    auth: "admin",
    websocket: false,
    sample: async (s) => ({ url: `/api/users/${await someUser(s)}` }),
  },
  "GET /api/audit": {
    auth: "admin",
    websocket: false,
    sample: async () => ({ url: "/api/audit?limit=5" }),
  },
  "HEAD /api/audit": {
    auth: "admin",
    websocket: false,
    sample: async () => ({ url: "/api/audit?limit=5" }),
  },
  "GET /api/providers": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/providers" }),
  },
  "HEAD /api/providers": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/providers" }),
  },
  "GET /api/runners": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/runners" }),
  },
  "HEAD /api/runners": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/runners" }),
  },
  "POST /api/runners": {
    auth: "operator",
    websocket: false,
    sample: async () => ({
      url: "/api/runners",
      payload: { provider: "shell", command: ["sh", "-c", "exec sleep 600"] },
    }),
  },
  "GET /api/runners/:id": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: `/api/runners/${await sharedId()}` }),
  },
  "HEAD /api/runners/:id": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: `/api/runners/${await sharedId()}` }),
  },
  "POST /api/runners/:id/pause": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await sleeper(s)}/pause` }),
  },
  "POST /api/runners/:id/resume": {
    auth: "operator",
    websocket: false,
    sample: async () => ({ url: `/api/runners/${await sharedId()}/resume` }),
  },
  "POST /api/runners/:id/terminate": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await sleeper(s)}/terminate` }),
  },
  "DELETE /api/runners/:id": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await sleeper(s)}` }),
  },
  "POST /api/runners/:id/input": {
    auth: "operator",
    websocket: false,
    sample: async () => ({ url: `/api/runners/${await sharedId()}/input`, payload: { data: "" } }),
  },
  "POST /api/runners/:id/reply": {
    auth: "operator",
    websocket: false,
    sample: async (s) => {
      const id = await asker(s)
      const detail = await waitFor(async () => {
        const d = await s.runner(id)
        return d.waitingForInput && d.attentionId !== undefined ? d : undefined
      }, "the asker waiting on its prompt")
      return {
        url: `/api/runners/${id}/reply`,
        payload: { attentionId: detail.attentionId, label: "Yes" },
      }
    },
  },
  "POST /api/schedules": {
    auth: "operator",
    websocket: false,
    sample: async () => ({
      url: "/api/schedules",
      payload: {
        name: `matrix-${++scheduleCounter}`,
        cron: "0 0 1 1 *",
        start: { provider: "shell", command: ["true"] },
      },
    }),
  },
  "GET /api/schedules": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/schedules" }),
  },
  "HEAD /api/schedules": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/schedules" }),
  },
  "GET /api/schedules/:id": {
    auth: "viewer",
    websocket: false,
    sample: async (s) => ({ url: `/api/schedules/${await sharedScheduleId(s)}` }),
  },
  "HEAD /api/schedules/:id": {
    auth: "viewer",
    websocket: false,
    sample: async (s) => ({ url: `/api/schedules/${await sharedScheduleId(s)}` }),
  },
  "DELETE /api/schedules/:id": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/schedules/${await someSchedule(s)}` }),
  },
  "POST /api/schedules/:id/pause": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/schedules/${await sharedScheduleId(s)}/pause` }),
  },
  "POST /api/schedules/:id/resume": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/schedules/${await sharedScheduleId(s)}/resume` }),
  },
  "GET /api/push/key": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/push/key" }),
  },
  "HEAD /api/push/key": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/push/key" }),
  },
  "POST /api/push/subscriptions": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/push/subscriptions", payload: pushSubscription() }),
  },
  "DELETE /api/push/subscriptions": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({
      url: "/api/push/subscriptions",
      payload: { endpoint: pushSubscription().endpoint },
    }),
  },
  "GET /api/search": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/search?q=matrix" }),
  },
  "HEAD /api/search": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/search?q=matrix" }),
  },
  "GET /api/runners/:id/transcript": {
    auth: "viewer",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await transcriptRunner(s)}/transcript` }),
  },
  "HEAD /api/runners/:id/transcript": {
    auth: "viewer",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await transcriptRunner(s)}/transcript` }),
  },
  "GET /api/usage": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/usage?by=provider" }),
  },
  "HEAD /api/usage": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/usage?by=provider" }),
  },
  "GET /api/runners/:id/log": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: `/api/runners/${await sharedId()}/log` }),
  },
  "HEAD /api/runners/:id/log": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: `/api/runners/${await sharedId()}/log` }),
  },
  "GET /api/runners/:id/diff": {
    auth: "viewer",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await gitRunner(s, false)}/diff` }),
  },
  "HEAD /api/runners/:id/diff": {
    auth: "viewer",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await gitRunner(s, false)}/diff` }),
  },
  "POST /api/runners/:id/commit": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({
      url: `/api/runners/${await gitRunner(s, false)}/commit`,
      payload: { message: "from the matrix" },
    }),
  },
  "POST /api/runners/:id/merge": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/runners/${await gitRunner(s, true)}/merge`, payload: {} }),
  },
  "GET /api/git": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/git?cwd=${encodeURIComponent(repoOf(s))}` }),
  },
  "HEAD /api/git": {
    auth: "operator",
    websocket: false,
    sample: async (s) => ({ url: `/api/git?cwd=${encodeURIComponent(repoOf(s))}` }),
  },
  "GET /api/sessions": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/sessions" }),
  },
  "HEAD /api/sessions": {
    auth: "viewer",
    websocket: false,
    sample: async () => ({ url: "/api/sessions" }),
  },
  "POST /api/sessions/:name/adopt": {
    auth: "operator",
    websocket: false,
    sample: async (s) => {
      const name = `adoptme-${++adoptCounter}`
      const made = s.tmux(["new-session", "-d", "-s", name, "-x", "80", "-y", "24", "sleep 600"])
      if (made.code !== 0) throw new Error(`tmux new-session: ${made.stderr}`)
      return { url: `/api/sessions/${name}/adopt` }
    },
  },
  "GET /api/events": {
    auth: "viewer",
    websocket: true,
    sample: async () => ({ url: "/api/events" }),
  },
  "HEAD /api/events": {
    auth: "viewer",
    websocket: true,
    sample: async () => ({ url: "/api/events" }),
  },
  "GET /metrics": { auth: "operator", websocket: false, sample: async () => ({ url: "/metrics" }) },
  "HEAD /metrics": {
    auth: "operator",
    websocket: false,
    sample: async () => ({ url: "/metrics" }),
  },
  "GET /api/runners/:id/terminal": {
    auth: "viewer",
    websocket: true,
    sample: async () => ({ url: `/api/runners/${await sharedId()}/terminal` }),
  },
  "HEAD /api/runners/:id/terminal": {
    auth: "viewer",
    websocket: true,
    sample: async () => ({ url: `/api/runners/${await sharedId()}/terminal` }),
  },
}

const RANK: Readonly<Record<Role | "none" | AuthLevel, number>> = {
  none: 0,
  public: 0,
  viewer: 1,
  operator: 2,
  admin: 3,
}

/** What each credential must get on a route of each level: `viewer < operator < admin`. */
const allowed = (level: AuthLevel, who: Credential): boolean =>
  RANK[roleOf(who) ?? "none"] >= RANK[level]

const refusal = (level: AuthLevel, who: Credential): number =>
  roleOf(who) === undefined ? 401 : allowed(level, who) ? 0 : 403

const tokenOf = (role: Role): string =>
  role === "viewer"
    ? server.tokens.viewer
    : role === "operator"
      ? operatorToken
      : server.tokens.operator

/** `Cookie` header values, made in `beforeAll`. */
const cookies: Partial<Record<Credential, string>> = {}
let revokedToken = ""

const headersFor = (who: Credential): Record<string, string> => {
  const cookie = cookies[who]
  if (cookie !== undefined) return { cookie }
  if (who === "none") return {}
  if (who === "wrong") return { authorization: "Bearer not-a-token-of-this-server" }
  if (who === "revoked token") return { authorization: `Bearer ${revokedToken}` }
  const role = roleOf(who)
  if (role === undefined) throw new Error(`no credential made for ${who}`)
  return { authorization: `Bearer ${tokenOf(role)}` }
}

/** Logs in with `token` and returns the `Cookie` header that carries the session. */
const loginCookie = async (token: string): Promise<string> => {
  const reply = await server.app.inject({ method: "POST", url: "/api/login", payload: { token } })
  if (reply.statusCode !== 200) throw new Error(`login: ${reply.body}`)
  const header = reply.headers["set-cookie"]
  return ((Array.isArray(header) ? header[0] : header) ?? "").split(";")[0] ?? ""
}

beforeAll(async () => {
  // Logins here are the sample of POST /api/login and how cookies are made, not an attack.
  server = await startServer({ auth: { loginRateLimit: { limit: 1000, windowMs: 60_000 } } })
  shared = await server.start({ provider: "shell", command: ["sh"] })
  const added = await server.app.inject({
    method: "POST",
    url: "/api/users",
    headers: headersFor("admin"),
    payload: { name: "matrix-operator", role: "operator" },
  })
  if (added.statusCode !== 201) throw new Error(`add the operator: ${added.body}`)
  operatorToken = added.json().token
  for (const role of ["viewer", "operator", "admin"] as const) {
    cookies[`${role} cookie`] = await loginCookie(tokenOf(role))
  }
  // A user who had both a token and a session, then was removed.
  const doomed = await server.app.inject({
    method: "POST",
    url: "/api/users",
    headers: headersFor("admin"),
    payload: { name: "matrix-removed", role: "admin" },
  })
  if (doomed.statusCode !== 201) throw new Error(`add the doomed user: ${doomed.body}`)
  revokedToken = doomed.json().token
  cookies["revoked cookie"] = await loginCookie(revokedToken)
  const removed = await server.app.inject({
    method: "DELETE",
    url: "/api/users/matrix-removed",
    headers: headersFor("admin"),
  })
  if (removed.statusCode !== 204) throw new Error(`remove the doomed user: ${removed.body}`)
  // The named operator's session, signed right but past its expiry.
  const entry = server.app.users.get("matrix-operator")
  if (entry === undefined) throw new Error("no matrix-operator")
  cookies["expired cookie"] = `${SESSION_COOKIE}=${signSession(testSecret, {
    user: entry.name,
    expiresAt: Date.now() - 1000,
    fingerprint: tokenFingerprint(testSecret, entry.name, entry.tokenHash),
  })}`
})
afterAll(async () => {
  await server?.close()
})

describe("the auth matrix, from the app's own route table", () => {
  it("covers every route the app serves, at the level the contract gives it", () => {
    const table = listAuthRoutes(server.app)
    const served = Object.fromEntries(
      table.map((r) => [`${r.method} ${r.url}`, { auth: r.auth, websocket: r.websocket }]),
    )
    const expected = Object.fromEntries(
      Object.entries(ROUTES).map(([key, c]) => [key, { auth: c.auth, websocket: c.websocket }]),
    )
    // A route added to the app (or removed, or moved to another level) fails here until this
    // test's ROUTES says what it expects.
    expect(served).toEqual(expected)
    expect(table).toHaveLength(Object.keys(ROUTES).length)
  })

  for (const [key, route] of Object.entries(ROUTES)) {
    const [method = "", path = ""] = key.split(" ")
    const upgradeRoute = route.websocket && method === "GET"
    for (const who of CREDENTIALS) {
      it(`${key} with ${DESCRIBED[who]}`, async () => {
        // A refused caller never reaches the route: the path alone (nothing made for it).
        const sample = allowed(route.auth, who)
          ? await route.sample(server, who)
          : { url: path.replace(":id", shared.id).replace(":name", "matrix-nobody") }
        expect(sample.url.split("?")[0]?.split("/").length).toBe(path.split("/").length)
        if (upgradeRoute) {
          const result = await upgrade(`${server.wsOrigin}${sample.url}`, headersFor(who))
          if (allowed(route.auth, who)) {
            expect(result.opened, JSON.stringify(result.opened ? "" : result.body)).toBe(true)
            if (result.opened) {
              const client = WsClient.wrap(result.socket)
              await client.close()
            }
          } else {
            expect(result.opened).toBe(false)
            if (!result.opened) {
              expect(result.status).toBe(refusal(route.auth, who))
              expect(JSON.parse(result.body).error.code).toBe(
                roleOf(who) === undefined ? "AuthenticationError" : "ForbiddenError",
              )
            }
          }
          return
        }
        const reply = await server.app.inject({
          method: method as "GET",
          url: sample.url,
          headers: headersFor(who),
          ...(sample.payload !== undefined ? { payload: sample.payload } : {}),
        })
        if (allowed(route.auth, who)) {
          expect([401, 403], `${key}: ${reply.body}`).not.toContain(reply.statusCode)
          // Every sample is a request that works: allowed callers get a 2xx, not just "not 401".
          // A WebSocket route asked without an upgrade has nothing to serve (a 4xx is right).
          if (!route.websocket) expect(reply.statusCode, `${key}: ${reply.body}`).toBeLessThan(300)
          else expect(reply.statusCode, reply.body).toBeLessThan(500)
        } else {
          expect(reply.statusCode, reply.body).toBe(refusal(route.auth, who))
          if (method !== "HEAD") {
            expect(reply.json()).toEqual({
              error: {
                code: reply.statusCode === 401 ? "AuthenticationError" : "ForbiddenError",
                message: expect.any(String),
              },
            })
          }
        }
      })
    }
  }

  it("accepts ?token= on WebSocket upgrades, and refuses a wrong one with 401", async () => {
    for (const [path, ok] of [
      [`/api/events?token=${server.tokens.viewer}`, true],
      [`/api/events?token=nope`, false],
      [`/api/runners/${shared.id}/terminal?token=${server.tokens.operator}`, true],
      [`/api/runners/${shared.id}/terminal?token=nope`, false],
    ] as const) {
      const result = await upgrade(`${server.wsOrigin}${path}`)
      expect(result.opened, path).toBe(ok)
      if (result.opened) await WsClient.wrap(result.socket).close()
      else expect(result.status).toBe(401)
    }
  })

  it("refuses a foreign Origin on every WebSocket upgrade, even with an operator token", async () => {
    const wsRoutes = listAuthRoutes(server.app).filter((r) => r.websocket && r.method === "GET")
    expect(wsRoutes.length).toBeGreaterThan(0)
    for (const route of wsRoutes) {
      const url = route.url.replace(":id", shared.id)
      for (const origin of [
        "http://evil.example",
        "http://localhost:1",
        `https://${server.origin.slice("http://".length)}`,
        "null",
      ]) {
        const result = await upgrade(`${server.wsOrigin}${url}`, {
          ...headersFor("operator"),
          origin,
        })
        expect(result.opened, `${url} from ${origin}`).toBe(false)
        if (!result.opened) {
          expect(result.status).toBe(403)
          expect(JSON.parse(result.body).error.code).toBe("ForbiddenError")
        }
      }
      // The server's own origin is fine.
      const own = await upgrade(`${server.wsOrigin}${url}`, {
        ...headersFor("viewer"),
        origin: server.origin,
      })
      expect(own.opened).toBe(true)
      if (own.opened) await WsClient.wrap(own.socket).close()
    }
  })
})

describe("viewers cannot act", () => {
  it("a viewer's start, input and delete change nothing", async () => {
    const before = server.sessions()
    const start = await server.post(
      "/api/runners",
      { provider: "shell", command: ["sh", "-c", "echo VIEWER-STARTED; exec sleep 600"] },
      "viewer",
    )
    expect(start.statusCode).toBe(403)
    expect(server.sessions()).toEqual(before)

    const typed = await server.post(
      `/api/runners/${shared.id}/input`,
      { data: "echo VIEWER-TYPED-REST\r" },
      "viewer",
    )
    expect(typed.statusCode).toBe(403)
    const removed = await server.request("viewer", {
      method: "DELETE",
      url: `/api/runners/${shared.id}`,
    })
    expect(removed.statusCode).toBe(403)
    expect((await server.runner(shared.id)).status).toBe("running")

    // The operator types afterwards; once that shows, anything typed before would show too.
    expect(
      (
        await server.post(`/api/runners/${shared.id}/input`, {
          data: "echo OPERATOR-MARK-$((0+1))\r",
        })
      ).statusCode,
    ).toBe(204)
    const screen = await waitFor(() => {
      const text = server.capture(`=${shared.name}:`)
      return /OPERATOR-MARK-1/.test(text) ? text : undefined
    }, "the operator's echo")
    expect(screen).not.toContain("VIEWER-TYPED")
  })

  it("a viewer's input on a terminal socket gets an error frame and types nothing", async () => {
    const viewer = await WsClient.open(
      `${server.wsOrigin}/api/runners/${shared.id}/terminal`,
      headersFor("viewer"),
    )
    await viewer.nextJson((m) => m.type === "snapshot", "snapshot")
    viewer.send({ type: "input", data: "echo VIEWER-TYPED-WS\r" })
    const error = await viewer.nextJson((m) => m.type === "error", "an error frame")
    expect(error).toMatchObject({ code: "ForbiddenError" })
    viewer.send({ type: "resize", cols: 40, rows: 10 })
    await viewer.nextJson((m) => m.type === "error" && m !== error, "an error frame for the resize")
    // Still open, still streaming.
    expect(viewer.closeCode).toBeUndefined()

    const operator = await WsClient.open(
      `${server.wsOrigin}/api/runners/${shared.id}/terminal`,
      headersFor("operator"),
    )
    await operator.nextJson((m) => m.type === "snapshot", "snapshot")
    operator.send({ type: "input", data: "echo OPERATOR-MARK-$((1+1))\r" })
    const screen = await waitFor(() => {
      const text = server.capture(`=${shared.name}:`)
      return /OPERATOR-MARK-2/.test(text) ? text : undefined
    }, "the operator's echo")
    expect(screen).not.toContain("VIEWER-TYPED")
    // The viewer's resize did nothing either.
    expect(
      server.tmux(["display", "-p", "-t", `=${shared.name}:`, "#{pane_width}"]).stdout.trim(),
    ).toBe("120")
    // The viewer watched the operator's echo arrive on its own socket.
    await waitFor(
      () => viewer.outputFrom(viewer.binary()[0]?.offset ?? 0).includes("OPERATOR-MARK-2"),
      "the viewer to see the echo",
    )
    await viewer.close()
    await operator.close()
  })
})
