import { ReplyRequest, RunnerParams } from "@geppetto/protocol"
import { AiRunnerPort } from "@geppetto/runner"
import { Effect } from "effect"
import type { FastifyInstance } from "fastify"
import { badRequest, HttpError } from "../http/domain-errors.js"
import { parseWith, runEffect } from "../http/run-effect.js"
import { actor } from "../team/register.js"
import type { ApiContext } from "./context.js"

/**
 * `POST /api/runners/:id/reply { attentionId, label }`: types the keys of the quick answer
 * `label` only while the runner still waits on the prompt `attentionId`. A notification, or a
 * board left open, may be old: answering a later dialog with its keys could approve something
 * nobody saw, so any other prompt (or none) is a `409` and nothing is typed.
 */
export const registerReplyRoute = (app: FastifyInstance, ctx: ApiContext) => {
  app.post(
    "/api/runners/:id/reply",
    { config: { auth: "operator" }, bodyLimit: 4096 },
    async (request, reply) => {
      const { id } = parseWith(RunnerParams, request.params, "params")
      const body = parseWith(ReplyRequest, request.body, "body")
      const detail = await runEffect(
        ctx.runtime,
        Effect.flatMap(AiRunnerPort, (r) => r.getRunner(id)),
      )
      const runner = detail.runner
      if (!runner.waitingForInput || runner.attentionId !== body.attentionId) {
        throw new HttpError(
          409,
          "ConflictError",
          runner.waitingForInput
            ? `runner ${id} now waits on another prompt than ${body.attentionId}; nothing was typed`
            : `runner ${id} no longer waits on prompt ${body.attentionId}; nothing was typed`,
        )
      }
      const answer = detail.answers?.find((a) => a.label === body.label)
      if (answer === undefined) {
        throw badRequest(
          `body.label: prompt ${body.attentionId} of runner ${id} offers no answer ${JSON.stringify(body.label)}${
            detail.answers === undefined || detail.answers.length === 0
              ? " (it offers none)"
              : ` (it offers ${detail.answers.map((a) => JSON.stringify(a.label)).join(", ")})`
          }`,
        )
      }
      await runEffect(
        ctx.runtime,
        Effect.flatMap(AiRunnerPort, (r) => r.write(id, Buffer.from(answer.keys, "utf8"))),
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
