import {
  AdoptParams,
  InputRequest,
  type ProviderInfo,
  RunnerParams,
  type RunnerSummary,
  type SessionListing,
  StartRunnerRequest,
} from "@geppetto/protocol"
import { type AiRunner, AiRunnerPort, inputBurst } from "@geppetto/runner"
import { Effect } from "effect"
import type { FastifyInstance } from "fastify"
import { parseWith, runEffect } from "../http/run-effect.js"
import { actor } from "../team/register.js"
import { type ApiContext, toWireDetail } from "./context.js"

const ACTION_LOG = {
  pause: "runner paused",
  resume: "runner resumed",
  terminate: "runner terminated",
} as const

/** The REST part of the contract: providers, runners and their actions, tmux sessions. */
export const registerRunnerRoutes = (app: FastifyInstance, ctx: ApiContext) => {
  const run = <A, E>(effect: Effect.Effect<A, E, AiRunnerPort>) => runEffect(ctx.runtime, effect)
  const withRegistry = <A, E>(f: (r: AiRunner) => Effect.Effect<A, E>) =>
    run(Effect.flatMap(AiRunnerPort, f))
  const idOf = (params: unknown) => parseWith(RunnerParams, params, "params").id

  app.get(
    "/api/providers",
    { config: { auth: "viewer" } },
    async (): Promise<ReadonlyArray<ProviderInfo>> =>
      (await ctx.runtime.runPromise(ctx.providers.list)).map((p) => ({
        id: p.id,
        name: p.name,
        installed: p.installed,
        modes: [...p.modes],
        ...(p.version !== undefined ? { version: p.version } : {}),
        ...(p.resumes !== undefined ? { resumes: { fork: p.resumes.fork } } : {}),
      })),
  )

  app.get(
    "/api/runners",
    { config: { auth: "viewer" } },
    async (): Promise<ReadonlyArray<RunnerSummary>> => withRegistry((r) => r.listRunners),
  )

  app.post("/api/runners", { config: { auth: "operator" } }, async (request, reply) => {
    const body = parseWith(StartRunnerRequest, request.body, "body")
    const detail = await withRegistry((r) => r.startRunner(body))
    // Not the prompt, command or env: they may hold secrets, and are the operator's own.
    request.log.info(
      { runnerId: detail.runner.id, provider: detail.runner.provider, mode: detail.runner.mode },
      "runner started",
    )
    await app.audit.record({
      user: actor(request),
      action: "runner.start",
      runnerId: detail.runner.id,
      detail: `${detail.runner.name} (${detail.runner.provider}, ${detail.runner.mode})`,
    })
    return reply.code(201).send(toWireDetail(detail, ctx.tmuxSocket))
  })

  app.get("/api/runners/:id", { config: { auth: "viewer" } }, async (request) => {
    const id = idOf(request.params)
    const detail = toWireDetail(await withRegistry((r) => r.getRunner(id)), ctx.tmuxSocket)
    return { ...detail, viewers: app.presence.viewers(id) }
  })

  for (const action of ["pause", "resume", "terminate"] as const) {
    app.post(`/api/runners/:id/${action}`, { config: { auth: "operator" } }, async (request) => {
      const id = idOf(request.params)
      const detail = await withRegistry((r) =>
        action === "pause"
          ? r.pauseRunner(id)
          : action === "resume"
            ? r.resumeRunner(id)
            : r.terminateRunner(id),
      )
      request.log.info({ runnerId: id, action, status: detail.runner.status }, ACTION_LOG[action])
      await app.audit.record({
        user: actor(request),
        action: `runner.${action}`,
        runnerId: id,
        detail: detail.runner.name,
      })
      return toWireDetail(detail, ctx.tmuxSocket)
    })
  }

  app.delete("/api/runners/:id", { config: { auth: "operator" } }, async (request, reply) => {
    const id = idOf(request.params)
    await withRegistry((r) => r.removeRunner(id))
    request.log.info({ runnerId: id, action: "remove" }, "runner removed")
    await app.audit.record({ user: actor(request), action: "runner.remove", runnerId: id })
    return reply.code(204).send()
  })

  app.post("/api/runners/:id/input", { config: { auth: "operator" } }, async (request, reply) => {
    const id = idOf(request.params)
    const { data } = parseWith(InputRequest, request.body, "body")
    const bytes = Buffer.from(data, "utf8")
    await withRegistry((r) => r.write(id, bytes))
    // One request is one burst: its size, never its content.
    await app.audit.record(inputBurst({ user: actor(request), runnerId: id, bytes: bytes.length }))
    return reply.code(204).send()
  })

  app.get(
    "/api/sessions",
    { config: { auth: "viewer" } },
    async (): Promise<ReadonlyArray<SessionListing>> =>
      (await withRegistry((r) => r.unmanagedSessions)).map((s) => ({
        name: s.name,
        windows: s.windows,
        panes: s.panes,
        attached: s.attached,
        createdAt: s.createdAt,
        ...(s.command !== undefined ? { command: s.command } : {}),
      })),
  )

  app.post(
    "/api/sessions/:name/adopt",
    { config: { auth: "operator" } },
    async (request, reply) => {
      const { name } = parseWith(AdoptParams, request.params, "params")
      const detail = await withRegistry((r) => r.adoptSession(name))
      request.log.info({ runnerId: detail.runner.id, session: name }, "session adopted")
      await app.audit.record({
        user: actor(request),
        action: "session.adopt",
        runnerId: detail.runner.id,
        detail: name,
      })
      return reply.code(201).send(toWireDetail(detail, ctx.tmuxSocket))
    },
  )
}
