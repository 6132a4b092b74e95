import { ReplyRequest, RunnerParams } from "@geppetto/protocol"
import { AiRunnerPort } from "@geppetto/runner"
import { Effect } from "effect"
import type { FastifyInstance } from "fastify"
import { parseWith, runEffect } from "../http/run-effect.js"
import { actor } from "../team/register.js"
import type { ApiContext } from "./context.js"

/**
 * `POST /api/runners/:id/reply { attentionId, label }`: types the keys of the quick answer
 * `label` only while the runner still waits on the prompt `attentionId` and its screen still
 * shows it (`AiRunner.reply`). A notification, or a board left open, may be old: answering a
 * later dialog with its keys could approve something nobody saw, so any other prompt (or
 * none) is a `409` and nothing is typed.
 */
export const registerReplyRoute = (app: FastifyInstance, ctx: ApiContext) => {
  app.post(
    "/api/runners/:id/reply",
    { config: { auth: "operator" }, bodyLimit: 4096 },
    async (request, reply) => {
      const { id } = parseWith(RunnerParams, request.params, "params")
      const body = parseWith(ReplyRequest, request.body, "body")
      const answer = await runEffect(
        ctx.runtime,
        Effect.flatMap(AiRunnerPort, (r) => r.reply(id, body.attentionId, body.label)),
      )
      request.log.info({ runnerId: id, attentionId: body.attentionId }, "quick answer typed")
      app.notifier.answered(id, body.attentionId)
      await app.audit.record({
        user: actor(request),
        action: "runner.reply",
        runnerId: id,
        detail: answer.label,
      })
      return reply.code(204).send()
    },
  )
}
