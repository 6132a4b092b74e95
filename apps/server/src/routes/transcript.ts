import {
  RunnerParams,
  TranscriptQuery,
  type TranscriptResponse,
  UsageQuery,
  type UsageResponse,
} from "@geppetto/protocol"
import { Transcripts } from "@geppetto/runner"
import { Effect } from "effect"
import type { FastifyInstance } from "fastify"
import { HttpError } from "../http/domain-errors.js"
import { parseWith, runEffect } from "../http/run-effect.js"
import type { ApiContext } from "./context.js"

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * `GET /api/runners/:id/transcript`: the conversation read from the agent's own session file
 * (Claude Code, Codex), paged by entry number (see `TranscriptQuery`). `GET /api/usage`:
 * tokens and cost of the runners started since a time, by day, provider or account.
 */
export const registerTranscriptRoutes = (app: FastifyInstance, ctx: ApiContext) => {
  app.get("/api/runners/:id/transcript", { config: { auth: "viewer" } }, async (request) => {
    const { id } = parseWith(RunnerParams, request.params, "params")
    const query = parseWith(TranscriptQuery, request.query, "query")
    if (query.after !== undefined && query.before !== undefined)
      throw new HttpError(400, "ValidationError", "give after or before, not both")
    const t = await runEffect(
      ctx.runtime,
      Effect.flatMap(Transcripts, (s) =>
        s.transcript(id, {
          ...(query.after !== undefined ? { after: query.after } : {}),
          ...(query.before !== undefined ? { before: query.before } : {}),
          ...(query.limit !== undefined ? { limit: query.limit } : {}),
        }),
      ),
    )
    return {
      provider: t.provider,
      sessionId: t.sessionId,
      entries: t.entries.map((e) => ({ ...e })),
      total: t.total,
      skipped: t.skipped,
      usage: t.usage,
      ...(t.model !== undefined ? { model: t.model } : {}),
    } satisfies TranscriptResponse
  })

  app.get("/api/usage", { config: { auth: "viewer" } }, async (request) => {
    const query = parseWith(UsageQuery, request.query, "query")
    const since =
      query.since === undefined
        ? Date.now() - 30 * DAY_MS
        : /^[0-9]+$/.test(query.since)
          ? Number(query.since)
          : Date.parse(query.since)
    const by = query.by ?? "day"
    const totals = await runEffect(
      ctx.runtime,
      Effect.flatMap(Transcripts, (s) => s.totals(since, by)),
    )
    return {
      since,
      by,
      groups: totals.groups.map((g) => ({ ...g })),
      total: totals.total,
    } satisfies UsageResponse
  })
}
