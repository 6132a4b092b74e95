import {
  type CreatedSchedule,
  CreateScheduleRequest,
  type Schedule,
  ScheduleParams,
} from "@geppetto/protocol"
import { Schedules } from "@geppetto/runner"
import { Effect } from "effect"
import type { FastifyInstance } from "fastify"
import { parseWith, runEffect } from "../http/run-effect.js"
import { actor } from "../team/register.js"
import type { ApiContext } from "./context.js"

/**
 * `/api/schedules`: cron schedules that start runners (see `Schedules` in the runner domain).
 * Viewers list and read them; operators add, pause, resume and remove them. Adding and removing
 * are audited as `schedule.add` / `schedule.remove`, and each run's start as `runner.start` by
 * user `schedule:NAME` (recorded by the domain, which starts it).
 */
export const registerScheduleRoutes = (app: FastifyInstance, ctx: ApiContext) => {
  const withSchedules = <A, E>(f: (s: Schedules) => Effect.Effect<A, E>) =>
    runEffect(ctx.runtime, Effect.flatMap(Schedules, f))
  const idOf = (params: unknown) => parseWith(ScheduleParams, params, "params").id

  app.post("/api/schedules", { config: { auth: "operator" } }, async (request, reply) => {
    const body = parseWith(CreateScheduleRequest, request.body, "body")
    const created: CreatedSchedule = await withSchedules((s) => s.add(body))
    request.log.info({ scheduleId: created.id, cron: body.cron }, "schedule added")
    await app.audit.record({
      user: actor(request),
      action: "schedule.add",
      detail: `${body.name} (${created.id}): ${body.cron}${body.timezone === undefined ? "" : ` ${body.timezone}`}, ${body.start.provider}`,
    })
    return reply.code(201).send(created)
  })

  app.get(
    "/api/schedules",
    { config: { auth: "viewer" } },
    async (): Promise<ReadonlyArray<Schedule>> => withSchedules((s) => s.list),
  )

  app.get(
    "/api/schedules/:id",
    { config: { auth: "viewer" } },
    async (request): Promise<Schedule> => {
      const id = idOf(request.params)
      return withSchedules((s) => s.get(id))
    },
  )

  app.delete("/api/schedules/:id", { config: { auth: "operator" } }, async (request, reply) => {
    const id = idOf(request.params)
    const removed = await withSchedules((s) => s.remove(id))
    request.log.info({ scheduleId: id }, "schedule removed")
    await app.audit.record({
      user: actor(request),
      action: "schedule.remove",
      detail: `${removed.name} (${id})`,
    })
    return reply.code(204).send()
  })

  for (const action of ["pause", "resume"] as const) {
    app.post(
      `/api/schedules/:id/${action}`,
      { config: { auth: "operator" } },
      async (request): Promise<Schedule> => {
        const id = idOf(request.params)
        const schedule = await withSchedules((s) =>
          action === "pause" ? s.pause(id) : s.resume(id),
        )
        request.log.info({ scheduleId: id, action }, `schedule ${action}d`)
        await app.audit.record({
          user: actor(request),
          action: `schedule.${action}`,
          detail: `${schedule.name} (${id})`,
        })
        return schedule
      },
    )
  }
}
