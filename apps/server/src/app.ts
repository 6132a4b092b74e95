import type { HealthResponse } from "@geppetto/protocol"
import Fastify, { type FastifyInstance } from "fastify"
import { serveDashboard } from "./dashboard.js"
import { serverVersion } from "./version.js"

export interface AppOptions {
  /** The tmux version checked at start; reported by `/api/health`. */
  readonly tmuxVersion: string
  readonly logger?: boolean
  /** The built dashboard to serve at `/`; omitted or missing means API only. */
  readonly dashboardDir?: string
}

/** Builds the HTTP app; `main` only parses config and listens. */
export const buildApp = async (options: AppOptions): Promise<FastifyInstance> => {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 1024 * 1024 })

  app.get(
    "/api/health",
    async (): Promise<HealthResponse> => ({
      status: "ok",
      version: serverVersion,
      tmux: { version: options.tmuxVersion },
    }),
  )

  const hasDashboard =
    options.dashboardDir !== undefined && (await serveDashboard(app, options.dashboardDir))

  // One error shape for everything; never a stack trace to a client.
  app.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, _request, reply) => {
      const status =
        error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500
      void reply.status(status).send({
        error: {
          code: error.code ?? (status === 500 ? "InternalError" : "BadRequest"),
          message: status === 500 ? "internal error" : error.message,
        },
      })
    },
  )
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? ""
    if (hasDashboard && request.method === "GET" && !path.startsWith("/api/")) {
      // A client-side route of the dashboard: the SPA shell handles it.
      return reply.sendFile("index.html")
    }
    void reply.status(404).send({
      error: {
        code: "NotFoundError",
        message: `no route ${request.method} ${path}`,
      },
    })
  })
  return app
}
