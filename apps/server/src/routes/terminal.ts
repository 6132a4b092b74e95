import { RunnerParams, TerminalQuery } from "@geppetto/protocol"
import { AiRunnerPort, PaneId } from "@geppetto/runner"
import { Effect, Fiber } from "effect"
import type { FastifyInstance } from "fastify"
import { HttpError } from "../http/domain-errors.js"
import { parseWith, runEffect } from "../http/run-effect.js"
import type { ServerMetrics } from "../observability/metrics.js"
import { serveTerminal, type TerminalTarget } from "../terminal/terminal-session.js"
import type { ApiContext } from "./context.js"

/**
 * `WS /api/runners/:id/terminal?pane=&from=`: params, query and the runner (and pane) are
 * checked before the upgrade, so a bad request is a plain 400/404, not a socket that closes.
 */
export const registerTerminalRoute = (
  app: FastifyInstance,
  ctx: ApiContext,
  metrics?: ServerMetrics,
) => {
  app.get(
    "/api/runners/:id/terminal",
    {
      websocket: true,
      config: { auth: "viewer" },
      preValidation: async (request) => {
        const { id } = parseWith(RunnerParams, request.params, "params")
        const query = parseWith(TerminalQuery, request.query, "query")
        const detail = await runEffect(
          ctx.runtime,
          Effect.flatMap(AiRunnerPort, (r) => r.getRunner(id)),
        )
        if (
          query.pane !== undefined &&
          !(detail.session?.panes ?? []).some((p) => p.id === query.pane)
        ) {
          throw new HttpError(404, "NotFoundError", `runner ${id} has no pane ${query.pane}`)
        }
      },
    },
    (socket, request) => {
      const { id } = parseWith(RunnerParams, request.params, "params")
      const query = parseWith(TerminalQuery, request.query, "query")
      const role = request.auth.role === "anonymous" ? "viewer" : request.auth.role
      const user = request.auth.user
      // Watching, and typing: on the runner page and cards of everyone, via /api/events.
      const seat = user === undefined ? undefined : app.presence.join(id, user, role)
      const target: TerminalTarget = {
        runnerId: id,
        paneId: query.pane === undefined ? undefined : PaneId(query.pane),
        from: query.from,
        role,
        // Per frame, from the store: a demoted operator's next keystroke is refused.
        ...(user !== undefined ? { currentRole: () => app.users.roleOf(user) } : {}),
        ...(seat !== undefined ? { onInput: seat.input } : {}),
      }
      // Who watched what, never what they saw or typed.
      const where = { runnerId: id, pane: query.pane, user, role, resume: query.from !== undefined }
      request.log.info(where, "terminal socket opened")
      metrics?.terminalViewers.inc({ role })
      const onFlow = ctx.terminal?.onFlow
      const fiber = ctx.runtime.runFork(
        serveTerminal(
          socket,
          target,
          ctx.terminal?.limits,
          onFlow === undefined ? undefined : (flow) => onFlow(flow, target),
          metrics === undefined ? undefined : (bytes) => metrics.terminalOutputBytes.inc(bytes),
        ),
      )
      socket.on("close", (code) => {
        seat?.leave()
        metrics?.terminalViewers.dec({ role })
        request.log.info({ ...where, code }, "terminal socket closed")
        ctx.runtime.runFork(Fiber.interrupt(fiber))
      })
    },
  )
}
