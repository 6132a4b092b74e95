import { randomUUID } from "node:crypto"
import fastifyWebsocket from "@fastify/websocket"
import type { HealthResponse } from "@geppetto/protocol"
import { AiRunnerPort } from "@geppetto/runner"
import { Effect } from "effect"
import Fastify, { type FastifyInstance } from "fastify"
import { type AuthOptions, registerAuth } from "./auth/plugin.js"
import { dashboardScriptHashes, registerSecurityHeaders } from "./auth/security-headers.js"
import { serveDashboard } from "./dashboard.js"
import { errorBody } from "./errors.js"
import { frameworkError, HttpError } from "./http/domain-errors.js"
import { runEffect } from "./http/run-effect.js"
import { startHeartbeat } from "./http/websocket-heartbeat.js"
import { closeGoingAway } from "./http/websocket-shutdown.js"
import { type NotifyOptions, registerNotifications } from "./notify/register.js"
import { fastifyLogger, type LoggerSetup } from "./observability/logger.js"
import {
  createServerMetrics,
  registerMetricsRoute,
  type ServerMetrics,
} from "./observability/metrics.js"
import { registerAuditRoute } from "./routes/audit.js"
import type { ApiContext } from "./routes/context.js"
import { registerEventsRoute } from "./routes/events.js"
import { registerLogRoute } from "./routes/log.js"
import { registerReplyRoute } from "./routes/reply.js"
import { registerRunnerRoutes } from "./routes/runners.js"
import { registerScheduleRoutes } from "./routes/schedules.js"
import { registerSearchRoute } from "./routes/search.js"
import { registerTerminalRoute } from "./routes/terminal.js"
import { registerTranscriptRoutes } from "./routes/transcript.js"
import { registerUserRoutes } from "./routes/users.js"
import { registerWorkspaceRoutes } from "./routes/workspace.js"
import { decorateAudit, decoratePresence } from "./team/register.js"
import { serverVersion } from "./version.js"

/** The largest WebSocket message a client may send: a 64 KiB input, JSON-escaped, fits. */
export const WEBSOCKET_MAX_PAYLOAD = 1024 * 1024

export interface AppOptions {
  /** The tmux version checked at start; reported by `/api/health`. */
  readonly tmuxVersion: string
  /** The request and server log (pino); off unless set (tests stay quiet, `serve` turns it on). */
  readonly logger?: boolean | LoggerSetup
  /**
   * The app's Prometheus metrics; made here when omitted. Passed in by whoever builds the
   * runner domain first, to feed its `onTmuxCommand` hook into the same registry.
   */
  readonly metrics?: ServerMetrics
  /** The built dashboard to serve at `/`; omitted or missing means API only. */
  readonly dashboardDir?: string
  /** Tokens and cookie key (see `registerAuth`); `tls` defaults to whether `https` is set. */
  readonly auth: Omit<AuthOptions, "tls"> & { readonly tls?: boolean }
  /** The runner domain; without it only health, auth and the dashboard are served. */
  readonly api?: ApiContext
  /** Web Push and webhooks (with `api`); the data dir defaults to `auth.dataDir`. */
  readonly notify?: NotifyOptions
  /** PEM certificate and key: serve HTTPS instead of HTTP. */
  readonly https?: { readonly cert: string | Buffer; readonly key: string | Buffer }
  /** How often open WebSockets are pinged (`HEARTBEAT_MS`); tests make it short. */
  readonly heartbeatMs?: number
}

const createFastify = (options: AppOptions): FastifyInstance => {
  const base = {
    logger: fastifyLogger(options.logger),
    // Random, so that ids from two runs (or two servers) in one log never meet.
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    // Undecodable paths and over-long ids: the one error shape, not the router's own.
    frameworkErrors: frameworkError,
  }
  if (options.https === undefined) return Fastify(base)
  // Fastify types an HTTPS instance apart from an HTTP one, but only `app.server` differs and
  // nothing here touches it; routes and hooks see the same API either way.
  return Fastify({
    ...base,
    https: { cert: options.https.cert, key: options.https.key },
  }) as unknown as FastifyInstance
}

/** Builds the HTTP app; `main` only parses config and listens. */
export const buildApp = async (options: AppOptions): Promise<FastifyInstance> => {
  const app = createFastify(options)
  const metrics = options.metrics ?? createServerMetrics()
  // Before auth, so that `request.ws` is set by the time auth's hooks and the routes run.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: WEBSOCKET_MAX_PAYLOAD },
    // Shutdown: tell every socket the server is going away (runners keep running in tmux).
    // The plugin's own default closes them first without a code (1005), so it is replaced.
    preClose: function (this: FastifyInstance, done: () => void) {
      // As the plugin's own: stop taking upgrades (Node then drops the socket of any that comes;
      // routed, it would get Fastify's closing 503 on a socket nobody closes, holding
      // `app.close()`). Then the open sockets get 1001, and are cut if they do not answer.
      this.server.removeAllListeners("upgrade")
      stopHeartbeat()
      this.websocketServer.close()
      closeGoingAway(this.websocketServer.clients)
      done()
    },
  })
  // Half-open sockets (a sleeping laptop, a lost network) are found and closed.
  const stopHeartbeat = startHeartbeat(app.websocketServer, options.heartbeatMs)
  // One error shape for everything; never a stack trace to a client. Set before any route:
  // a route keeps the handler its context had when it was registered.
  app.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      if (error instanceof HttpError) {
        if (error.statusCode >= 500) {
          request.log.error(
            { code: error.code, status: error.statusCode, cause: error.cause },
            error.message,
          )
        }
        return reply
          .status(error.statusCode)
          .send(errorBody(error.code, error.message, { conflicts: error.conflicts }))
      }
      // Fastify's own 4xx (bad JSON, body too large, bad content type) keep their status.
      const status =
        error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500
      if (status === 500) request.log.error(error)
      return reply
        .status(status)
        .send(
          errorBody(
            status === 500 ? "InternalError" : (error.code ?? "BadRequest"),
            status === 500 ? "internal error" : error.message,
          ),
        )
    },
  )
  // First of the request hooks, so that refusals carry it too: a client that reports a
  // failure can quote the id its log lines carry.
  app.addHook("onRequest", async (request, reply) => {
    void reply.header("x-request-id", request.id)
  })
  decorateAudit(app, options.api?.runtime)
  // Then, before any route: every route registered from here on must declare its auth.
  await registerAuth(app, {
    ...options.auth,
    tls: options.auth.tls ?? options.https !== undefined,
  })
  registerSecurityHeaders(app, {
    // A missing build has no pages, hence no hashes.
    scriptHashes:
      options.dashboardDir === undefined ? [] : await dashboardScriptHashes(options.dashboardDir),
  })

  app.get("/api/health", { config: { auth: "public" } }, async (): Promise<HealthResponse> => {
    // Through the control client: a round trip while connected, else its lazy reconnect,
    // which never starts a tmux server and forks `tmux` at most once a second.
    const tmux =
      options.api === undefined
        ? undefined
        : await runEffect(
            options.api.runtime,
            Effect.flatMap(AiRunnerPort, (r) => r.tmuxStatus),
          )
    return {
      status: "ok",
      version: serverVersion,
      tmux: { version: options.tmuxVersion, ...tmux },
    }
  })

  decoratePresence(app)
  registerUserRoutes(app)
  if (options.api !== undefined) {
    registerAuditRoute(app)
    registerRunnerRoutes(app, options.api)
    registerWorkspaceRoutes(app, options.api)
    registerScheduleRoutes(app, options.api)
    registerLogRoute(app, options.api)
    registerSearchRoute(app, options.api)
    registerTranscriptRoutes(app, options.api)
    registerReplyRoute(app, options.api)
    await registerNotifications(app, options.api, {
      dataDir: options.auth.dataDir,
      ...options.notify,
    })
    registerEventsRoute(app, options.api, metrics)
    registerTerminalRoute(app, options.api, metrics)
  }
  registerMetricsRoute(app, metrics, options.api?.runtime)

  const hasDashboard =
    options.dashboardDir !== undefined && (await serveDashboard(app, options.dashboardDir))

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? ""
    if (hasDashboard && request.method === "GET" && !path.startsWith("/api/")) {
      // A client-side route of the dashboard: the SPA shell handles it. Not returned (see the
      // files' route in dashboard.ts): a returned reply is one more listener on the response.
      void reply.sendFile("index.html")
      return
    }
    void reply.status(404).send(errorBody("NotFoundError", `no route ${request.method} ${path}`))
  })
  return app
}
