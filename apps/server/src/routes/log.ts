import { Readable } from "node:stream"
import { LogQuery, RunnerParams } from "@geppetto/protocol"
import { AiRunnerRegistry } from "@geppetto/runner"
import { Effect, Stream } from "effect"
import type { FastifyInstance } from "fastify"
import { HttpError } from "../http/domain-errors.js"
import { parseWith, runEffect } from "../http/run-effect.js"
import type { ApiContext } from "./context.js"

/** `bytes=A-B`, `bytes=A-` or `bytes=-N` over absolute output offsets; one range only. */
export const parseRange = (
  header: string,
  start: number,
  end: number,
): { readonly from: number; readonly to: number } | "unsatisfiable" | undefined => {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return undefined // malformed or multi-range: ignored, as RFC 9110 allows
  const [, a = "", b = ""] = m
  if (a === "" && b === "") return undefined
  if (a === "") {
    const suffix = Number(b)
    if (suffix === 0) return "unsatisfiable"
    return { from: Math.max(start, end - suffix), to: end }
  }
  const from = Number(a)
  const to = b === "" ? end : Math.min(end, Number(b) + 1)
  if (from < start || from >= end || to <= from) return "unsatisfiable"
  return { from, to }
}

/**
 * `GET /api/runners/:id/log`: output bytes from `?from` (default the oldest kept) up to the
 * end written when the request came, streamed from disk. `X-Log-Start` gives the oldest
 * kept offset; `Range` works on absolute offsets (bytes before `X-Log-Start` are gone: 416).
 */
export const registerLogRoute = (app: FastifyInstance, ctx: ApiContext) => {
  app.get("/api/runners/:id/log", { config: { auth: "viewer" } }, async (request, reply) => {
    const { id } = parseWith(RunnerParams, request.params, "params")
    const query = parseWith(LogQuery, request.query, "query")
    const bounds = await runEffect(
      ctx.runtime,
      Effect.flatMap(AiRunnerRegistry, (r) => r.logBounds(id)),
    )
    let from = query.from ?? bounds.start
    let to = bounds.end
    let status = 200
    const range = request.headers.range
    if (range !== undefined) {
      const parsed = parseRange(range, bounds.start, bounds.end)
      if (parsed === "unsatisfiable") {
        void reply.header("Content-Range", `bytes */${bounds.end}`)
        throw new HttpError(
          416,
          "RangeNotSatisfiable",
          `range ${range} is outside the kept output ${bounds.start}-${bounds.end}`,
        )
      }
      if (parsed !== undefined) {
        ;({ from, to } = parsed)
        status = 206
        void reply.header("Content-Range", `bytes ${from}-${to - 1}/${bounds.end}`)
      }
    } else if (from < bounds.start || from > bounds.end) {
      throw new HttpError(
        416,
        "RangeNotSatisfiable",
        `from=${from} is outside the kept output ${bounds.start}-${bounds.end}`,
      )
    }
    const stream = Stream.unwrap(Effect.map(AiRunnerRegistry, (r) => r.output(id, from))).pipe(
      Stream.takeWhile((chunk) => chunk.offset < to),
      Stream.map((chunk) => {
        const bytes = Buffer.from(chunk.bytes)
        return chunk.offset + bytes.length > to ? bytes.subarray(0, to - chunk.offset) : bytes
      }),
    )
    const runtime = await ctx.runtime.runtime()
    const body =
      to > from ? Readable.from(Stream.toAsyncIterableRuntime(runtime)(stream)) : Buffer.alloc(0)
    return reply
      .code(status)
      .header("Content-Type", "application/octet-stream")
      .header("Accept-Ranges", "bytes")
      .header("X-Log-Start", String(bounds.start))
      .header("X-Log-End", String(bounds.end))
      .header("Content-Length", String(to - from))
      .send(body)
  })
}
