import { Readable } from "node:stream"
import {
  SEARCH_DEFAULT_LIMIT,
  type SearchHit,
  SearchQuery,
  type SearchStreamLine,
} from "@geppetto/protocol"
import { AiRunnerPort, type LogSearchEvent } from "@geppetto/runner"
import { Effect, Stream } from "effect"
import type { FastifyInstance } from "fastify"
import { parseWith, runEffect } from "../http/run-effect.js"
import type { ApiContext } from "./context.js"

/** How long one search may read logs; then it ends with what it found and `timedOut`. */
export const SEARCH_TIME_BUDGET_MS = 2000

const NDJSON = "application/x-ndjson"

const hitOf = (e: Extract<LogSearchEvent, { _tag: "Hit" }>): SearchHit => ({
  runnerId: e.runnerId,
  name: e.name,
  offset: e.offset,
  line: e.line,
})

/**
 * `GET /api/search?q=&runner=&limit=`: a literal, case-insensitive search of every kept log
 * byte, streamed as it is found. By default the body is the one JSON document
 * `{ hits, truncated, timedOut }`, written hit by hit (chunked); with `Accept:
 * application/x-ndjson` it is one `SearchStreamLine` per line (`hit`s, then an `end`). Either
 * way a client that goes away stops the search.
 */
export const registerSearchRoute = (app: FastifyInstance, ctx: ApiContext) => {
  app.get("/api/search", { config: { auth: "viewer" } }, async (request, reply) => {
    const query = parseWith(SearchQuery, request.query, "query")
    const runnerId = query.runner
    // An unknown runner is a 404 before anything is sent.
    if (runnerId !== undefined) {
      await runEffect(
        ctx.runtime,
        Effect.flatMap(AiRunnerPort, (r) => r.getRunner(runnerId)),
      )
    }
    const ndjson = (request.headers.accept ?? "").includes(NDJSON)
    const contentType = ndjson ? `${NDJSON}; charset=utf-8` : "application/json; charset=utf-8"
    // HEAD: the headers alone; Fastify's own HEAD would run the whole search for nothing.
    if (request.method === "HEAD") {
      return reply.code(200).header("Content-Type", contentType).send(Readable.from([]))
    }
    const runtime = await ctx.runtime.runtime()
    const events = Stream.unwrap(
      Effect.map(AiRunnerPort, (r) =>
        r.searchLogs({
          query: query.q,
          limit: query.limit ?? SEARCH_DEFAULT_LIMIT,
          timeBudgetMs: SEARCH_TIME_BUDGET_MS,
          runnerId,
        }),
      ),
    ).pipe(Stream.orDie)

    async function* body(): AsyncGenerator<string> {
      let first = true
      if (!ndjson) yield '{"hits":['
      for await (const event of Stream.toAsyncIterableRuntime(events, runtime)) {
        if (event._tag === "Hit") {
          if (ndjson) {
            const line: SearchStreamLine = { type: "hit", ...hitOf(event) }
            yield `${JSON.stringify(line)}\n`
          } else {
            yield `${first ? "" : ","}${JSON.stringify(hitOf(event))}`
          }
          first = false
        } else if (ndjson) {
          const line: SearchStreamLine = {
            type: "end",
            truncated: event.truncated,
            timedOut: event.timedOut,
          }
          yield `${JSON.stringify(line)}\n`
        } else {
          yield `],"truncated":${event.truncated},"timedOut":${event.timedOut}}`
        }
      }
    }
    return reply
      .code(200)
      .header("Content-Type", contentType)
      .header("Cache-Control", "no-store")
      .send(Readable.from(body()))
  })
}
