import type { IncomingMessage } from "node:http"
import type {} from "@fastify/websocket"
import { LoginRequest, type LoginResponse, type Role } from "@geppetto/protocol"
import { AuthenticationError, ForbiddenError, ValidationError } from "@geppetto/runner"
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify"
import type { WebSocket } from "ws"
import { sendDomainError, sendError } from "../errors.js"
import {
  cookieValues,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  sessionCookie,
  signSession,
  tokenFingerprint,
  verifySession,
} from "./credentials.js"
import { checkOrigin, isWebSocketUpgrade } from "./origin.js"
import { addressKey, FixedWindowLimiter, type RateLimitDecision } from "./rate-limit.js"
import type { Tokens } from "./tokens.js"
import { closeRevoked, UserSockets } from "./user-sockets.js"
import { roleAtLeast, type UserEntry, UserStore } from "./users.js"

/**
 * What a route requires: nothing, or at least a viewer's, an operator's or an admin's role
 * (`viewer < operator < admin`: each passes the routes of the roles below it).
 */
export type AuthLevel = "public" | "viewer" | "operator" | "admin"
export const AUTH_LEVELS: ReadonlyArray<AuthLevel> = ["public", "viewer", "operator", "admin"]

/** Who is asking; `anonymous` only ever reaches `public` routes. */
export interface AuthContext {
  /** The user's role as the store has it now (not as a cookie once said). */
  readonly role: Role | "anonymous"
  /** The user's name; set whenever `role` is not `anonymous`. */
  readonly user?: string
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Required on every `/api` route (the app refuses to register one without it). */
    auth?: AuthLevel
  }
  interface FastifyRequest {
    /** Set by the auth `onRequest` hook before anything else runs. */
    auth: AuthContext
  }
  interface FastifyInstance {
    /** Every user and their current role (`registerAuth`). */
    users: UserStore
    /** Every open WebSocket by user, to close a removed user's at once. */
    userSockets: UserSockets
  }
}

export interface AuthOptions {
  /** The built-in users' tokens: `operator` is user `owner` (admin), `viewer` user `viewer`. */
  readonly tokens: Tokens
  /** Where `users.json` lives; without it, added users live in memory only. */
  readonly dataDir?: string
  /** Signs session cookies; at least 32 bytes (`loadSessionSecret`). */
  readonly secret: Uint8Array
  /** The server speaks TLS: cookies get `Secure`. */
  readonly tls: boolean
  readonly sessionTtlMs?: number
  /** Login attempts per client IP and window; 10 a minute by default. */
  readonly loginRateLimit?: { readonly limit: number; readonly windowMs: number }
  readonly now?: () => number
}

/** One row of the route table: what each method and path requires. */
export interface AuthRoute {
  readonly method: string
  readonly url: string
  readonly auth: AuthLevel
  readonly websocket: boolean
}

const ANONYMOUS: AuthContext = { role: "anonymous" }
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])
/** Distinct client addresses whose login attempts are remembered at once. */
const RATE_LIMIT_MAX_KEYS = 10_000

const routeTables = new WeakMap<FastifyInstance, Array<AuthRoute>>()

/**
 * Every route registered on `app` since `registerAuth`, with its auth decision (routes
 * outside `/api` that declare none are `public`: the dashboard's static files). For the
 * auth-matrix test that tries each route with no, wrong, viewer and operator credentials.
 */
export const listAuthRoutes = (app: FastifyInstance): ReadonlyArray<AuthRoute> => {
  const table = routeTables.get(app)
  if (table === undefined)
    throw new Error("listAuthRoutes: registerAuth was not called on this app")
  return [...table]
}

/** A route that could answer `/api/...` paths: under `/api`, or a leading catch-all. */
const needsDecision = (url: string): boolean => /^\/api(\/|$)/.test(url) || /^\/?\*/.test(url)

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const queryValue = (query: unknown, key: string): unknown =>
  typeof query === "object" && query !== null ? (query as Record<string, unknown>)[key] : undefined

type Identified =
  | { readonly kind: "anonymous" }
  | { readonly kind: "user"; readonly user: UserEntry }
  | { readonly kind: "invalid"; readonly message: string; readonly clearCookie: boolean }

/**
 * Installs authentication on `app`; call it before registering any route. It adds:
 *
 * - an `onRoute` hook that throws when a route under `/api` (WebSocket routes included)
 *   declares no `config: { auth: "public" | "viewer" | "operator" | "admin" }`, so no route
 *   can forget auth;
 * - an `onRequest` hook (which runs before a WebSocket upgrade) that refuses a foreign
 *   `Origin` on upgrades and on non-GET requests (403), turns `/?token=TOKEN` into a
 *   session cookie and a 303 to `/`, reads the credentials (`Authorization: Bearer`, then
 *   `?token=` on WebSocket upgrades only, then the session cookie) into `request.auth`,
 *   and answers 401 `AuthenticationError` / 403 `ForbiddenError` per the route's level;
 * - `POST /api/login {token}` → `{user, role}` plus the cookie (rate-limited per client IP),
 *   `POST /api/logout`, and `GET /api/me` → `{user, role}`;
 * - `app.users` (the `UserStore`: the built-in `owner` and `viewer`, and `DATA_DIR/users.json`)
 *   and `app.userSockets`, where every WebSocket opened is filed under its user.
 *
 * The cookie is not the token: it is `v2.CLAIMS.HMAC` carrying the user's name, an expiry and
 * a keyed fingerprint of the user's token hash, so it survives restarts, expires, and dies when
 * the user is removed or the token rotated. The role is read from the store on each request.
 */
export const registerAuth = async (app: FastifyInstance, options: AuthOptions): Promise<void> => {
  if (options.secret.length < 32)
    throw new Error("registerAuth: the secret must be 32 bytes or more")
  const now = options.now ?? Date.now
  const ttlMs = options.sessionTtlMs ?? SESSION_TTL_MS
  const users = await UserStore.open({ tokens: options.tokens, dataDir: options.dataDir, now })
  const sockets = new UserSockets()
  app.decorate("users", users)
  app.decorate("userSockets", sockets)
  const fingerprints = new WeakMap<UserEntry, string>()
  const fingerprintOf = (entry: UserEntry): string => {
    let fingerprint = fingerprints.get(entry)
    if (fingerprint === undefined) {
      fingerprint = tokenFingerprint(options.secret, entry.name, entry.tokenHash)
      fingerprints.set(entry, fingerprint)
    }
    return fingerprint
  }
  /** The user each authenticated upgrade was made by, until its socket opens. */
  const upgradedBy = new WeakMap<IncomingMessage, UserEntry>()
  // Every socket the WebSocket plugin opens, whatever the route: filed under its user.
  app.websocketServer.on("connection", (socket: WebSocket, raw: IncomingMessage) => {
    const user = upgradedBy.get(raw)
    if (user === undefined) return
    sockets.track(user.name, socket)
    // Removed while the route checked the upgrade (it may wait on tmux): closed as if open then.
    if (users.get(user.name) !== user) closeRevoked(socket, `user ${user.name} was removed`)
  })
  const limiter = new FixedWindowLimiter({
    limit: options.loginRateLimit?.limit ?? 10,
    windowMs: options.loginRateLimit?.windowMs ?? 60_000,
    maxKeys: RATE_LIMIT_MAX_KEYS,
    now,
  })
  const routes: Array<AuthRoute> = []
  const websocketRoutes = new Set<string>()
  routeTables.set(app, routes)

  app.decorateRequest("auth")

  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const declared: unknown = route.config?.auth
    if (declared !== undefined && !AUTH_LEVELS.includes(declared as AuthLevel)) {
      throw new Error(
        `route ${methods.join(",")} ${route.url}: config.auth must be "public", "viewer", "operator" or "admin", not ${JSON.stringify(declared)}`,
      )
    }
    if (declared === undefined && needsDecision(route.url)) {
      throw new Error(
        `route ${methods.join(",")} ${route.url} declares no auth: add config: { auth: "public" | "viewer" | "operator" | "admin" }`,
      )
    }
    const auth = (declared as AuthLevel | undefined) ?? "public"
    const websocket = route.websocket === true
    for (const method of methods) {
      routes.push({ method, url: route.url, auth, websocket })
      if (websocket) websocketRoutes.add(`${method} ${route.url}`)
    }
  })

  const cookieFor = (user: UserEntry): string =>
    sessionCookie(
      signSession(options.secret, {
        user: user.name,
        expiresAt: now() + ttlMs,
        fingerprint: fingerprintOf(user),
      }),
      { secure: options.tls, maxAgeSeconds: Math.floor(ttlMs / 1000) },
    )
  const clearedCookie = sessionCookie("", { secure: options.tls, maxAgeSeconds: 0 })

  const identify = (request: FastifyRequest, allowQueryToken: boolean): Identified => {
    const header = request.headers.authorization
    if (header !== undefined) {
      const bearer = /^Bearer +([^ ]+) *$/i.exec(header)?.[1]
      if (bearer === undefined) {
        return {
          kind: "invalid",
          message: "the Authorization header must be `Bearer TOKEN`",
          clearCookie: false,
        }
      }
      const user = users.resolveToken(bearer)
      return user === undefined
        ? { kind: "invalid", message: "invalid token", clearCookie: false }
        : { kind: "user", user }
    }
    const queryToken = allowQueryToken ? queryValue(request.query, "token") : undefined
    if (queryToken !== undefined) {
      const user = typeof queryToken === "string" ? users.resolveToken(queryToken) : undefined
      return user === undefined
        ? { kind: "invalid", message: "invalid token", clearCookie: false }
        : { kind: "user", user }
    }
    const cookies = cookieValues(request.headers.cookie, SESSION_COOKIE)
    if (cookies.length === 0) return { kind: "anonymous" }
    for (const value of cookies) {
      const claims = verifySession(options.secret, value)
      if (claims === undefined || claims.expiresAt <= now()) continue
      // A removed user is gone from the store; a new token changes the fingerprint.
      const user = users.get(claims.user)
      if (user !== undefined && claims.fingerprint === fingerprintOf(user)) {
        return { kind: "user", user }
      }
    }
    return {
      kind: "invalid",
      message: "the session has expired or is no longer valid; log in again",
      clearCookie: true,
    }
  }

  const refuseTooMany = (
    request: FastifyRequest,
    reply: FastifyReply,
    decision: RateLimitDecision,
  ): boolean => {
    if (decision.allowed) return false
    void reply.header("retry-after", String(decision.retryAfterSeconds))
    void sendError(
      reply,
      429,
      "RateLimitError",
      `too many login attempts from ${request.ip}; retry in ${decision.retryAfterSeconds} s`,
    )
    return true
  }
  // `request.ip` is missing on `injectWS`'s bare requests, whatever its type says.
  const clientKey = (request: FastifyRequest): string =>
    addressKey((request.ip as string | undefined) ?? "")
  /** A login (`POST /api/login`, a login link): every one counts, right or wrong. */
  const tooManyAttempts = (request: FastifyRequest, reply: FastifyReply): boolean =>
    refuseTooMany(request, reply, limiter.hit(clientKey(request)))

  /**
   * A login (`POST /api/login`, or a login link) in the trail, with the client's address; a
   * failed one as `anonymous`: what was offered is never recorded, not even in part.
   */
  const auditLogin = (request: FastifyRequest, user: UserEntry | undefined) =>
    app.audit.record(
      user === undefined
        ? { user: "anonymous", action: "login.failed", address: request.ip }
        : { user: user.name, action: "login", address: request.ip },
    )

  /** `/?token=TOKEN`: the link the start banner prints. The token leaves the address bar at once. */
  const loginLink = async (request: FastifyRequest, reply: FastifyReply, token: unknown) => {
    if (tooManyAttempts(request, reply)) return reply
    const user = typeof token === "string" ? users.resolveToken(token) : undefined
    await auditLogin(request, user)
    if (user === undefined) {
      // A person followed this link: the login page says what went wrong, no cookie is set.
      return reply.header("cache-control", "no-store").redirect("/login?reason=bad-link", 303)
    }
    const rest = new URLSearchParams(request.url.slice(request.url.indexOf("?") + 1))
    rest.delete("token")
    const query = rest.toString()
    return reply
      .header("set-cookie", cookieFor(user))
      .header("cache-control", "no-store")
      .redirect(query === "" ? "/" : `/?${query}`, 303)
  }

  app.addHook("onRequest", async (request, reply) => {
    request.auth = ANONYMOUS
    const upgrade = isWebSocketUpgrade(request)
    if (upgrade || !SAFE_METHODS.has(request.method)) {
      const origin = checkOrigin(request)
      if (!origin.ok) {
        return sendDomainError(
          reply,
          new ForbiddenError({ required: "same-origin", message: `refused: ${origin.reason}` }),
        )
      }
    }
    const path = pathOf(request.url)
    if (path === "/" && (request.method === "GET" || request.method === "HEAD")) {
      const token = queryValue(request.query, "token")
      if (token !== undefined) return loginLink(request, reply, token)
    }
    const level: AuthLevel = request.routeOptions.config?.auth ?? "public"
    const websocketRoute = websocketRoutes.has(
      `${request.routeOptions.method} ${request.routeOptions.url}`,
    )
    const queryToken = upgrade && websocketRoute
    // A token offered with the request (not a session cookie, which cannot be guessed): on a
    // route whose answer tells a right token from a wrong one, a wrong one counts as a failed
    // login, and past the login limit none is even looked at, right or wrong, until the
    // window ends. Else a guesser would skip the login route's limit by asking any other.
    const offered =
      level !== "public" &&
      (request.headers.authorization !== undefined ||
        (queryToken && queryValue(request.query, "token") !== undefined))
    if (offered && refuseTooMany(request, reply, limiter.check(clientKey(request)))) {
      return reply
    }
    const who = identify(request, queryToken)
    if (offered && who.kind === "invalid") {
      limiter.hit(clientKey(request))
      await auditLogin(request, undefined)
    }
    if (who.kind === "user") {
      request.auth = { role: who.user.role, user: who.user.name }
      users.seen(who.user)
      if (upgrade) upgradedBy.set(request.raw, who.user)
    }
    if (level === "public") return
    if (who.kind !== "user") {
      if (who.kind === "invalid" && who.clearCookie) void reply.header("set-cookie", clearedCookie)
      void reply.header("www-authenticate", 'Bearer realm="geppetto"')
      return sendDomainError(
        reply,
        new AuthenticationError({
          message:
            who.kind === "invalid"
              ? who.message
              : "authentication required: send Authorization: Bearer TOKEN, or log in",
        }),
      )
    }
    const role = who.user.role
    if (level === "operator" && !roleAtLeast(role, "operator")) {
      return sendDomainError(
        reply,
        new ForbiddenError({
          required: "operator",
          message: `${request.method} ${path} needs an operator; this session is a ${role}`,
        }),
      )
    }
    if (level === "admin" && !roleAtLeast(role, "admin")) {
      // The domain's ForbiddenError names operator or same-origin only; same code and shape.
      return sendError(
        reply,
        403,
        "ForbiddenError",
        `${request.method} ${path} needs an admin; this session is ${who.user.name}, a ${role}`,
      )
    }
  })

  // An upgrade refused above was answered on a socket that no HTTP parser owns any more:
  // nothing would close it, and it would hold `app.close()` until the client gave up.
  // (A successful upgrade hijacks the reply, so this hook does not run for it.)
  app.addHook("onResponse", async (request) => {
    // `injectWS` hands in a bare object without a socket; its stream is the plugin's to end.
    if (isWebSocketUpgrade(request)) request.raw.socket?.destroy()
  })

  app.post(
    "/api/login",
    { config: { auth: "public" }, bodyLimit: 4096 },
    async (request, reply): Promise<LoginResponse | FastifyReply> => {
      if (tooManyAttempts(request, reply)) return reply
      const body = LoginRequest.safeParse(request.body)
      if (!body.success) {
        return sendDomainError(
          reply,
          new ValidationError({ field: "body", message: "the body must be { token: string }" }),
        )
      }
      const user = users.resolveToken(body.data.token)
      await auditLogin(request, user)
      if (user === undefined) {
        return sendDomainError(reply, new AuthenticationError({ message: "invalid token" }))
      }
      users.seen(user)
      void reply.header("set-cookie", cookieFor(user))
      return { user: user.name, role: user.role }
    },
  )

  app.post("/api/logout", { config: { auth: "public" } }, async (_request, reply) =>
    reply.header("set-cookie", clearedCookie).code(204).send(),
  )

  app.get(
    "/api/me",
    { config: { auth: "viewer" } },
    async (request): Promise<LoginResponse> => ({
      // The hook let only known users through.
      user: request.auth.user ?? "",
      role: request.auth.role === "anonymous" ? "viewer" : request.auth.role,
    }),
  )
}
