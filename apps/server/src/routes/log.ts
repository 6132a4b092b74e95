import { Readable } from "node:stream"
import { LogQuery, RunnerParams } from "@geppetto/protocol"
import { AiRunnerPort, type LogChunk } from "@geppetto/runner"
import { Effect, Stream } from "effect"
import type { FastifyInstance, FastifyReply } from "fastify"
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
    // Nothing kept (yet): no last N bytes to give (RFC 9110 § 14.1.2), not an empty 206.
    if (suffix === 0 || end <= start) return "unsatisfiable"
    return { from: Math.max(start, end - suffix), to: end }
  }
  const from = Number(a)
  const to = b === "" ? end : Math.min(end, Number(b) + 1)
  if (from < start || from >= end || to <= from) return "unsatisfiable"
  return { from, to }
}

const send = (
  reply: FastifyReply,
  status: number,
  from: number,
  to: number,
  bounds: { readonly start: number; readonly end: number },
  body: Buffer | Readable,
) =>
  reply
    .code(status)
    .header("Content-Type", "application/octet-stream")
    .header("Accept-Ranges", "bytes")
    .header("X-Log-Start", String(bounds.start))
    .header("X-Log-End", String(bounds.end))
    .header("Content-Length", String(to - from))
    .send(body)

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
      Effect.flatMap(AiRunnerPort, (r) => r.logBounds(id)),
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
    if (to <= from) return send(reply, status, from, to, bounds, Buffer.alloc(0))
    // HEAD: the headers a GET would get, without reading the log (Fastify's HEAD route would
    // read a streamed body to its end and throw it away). An empty stream keeps Content-Length.
    if (request.method === "HEAD") return send(reply, status, from, to, bounds, Readable.from([]))

    // Retention may delete the oldest segments while this request runs (the log reader then
    // skips ahead): the first chunk is read before any header is sent, so that the offsets
    // the headers claim are the bytes the body holds.
    const runtime = await ctx.runtime.runtime()
    const end = to
    const chunksFrom = (start: number): AsyncIterator<LogChunk> => {
      const stream: Stream.Stream<LogChunk, unknown, AiRunnerPort> = Stream.unwrap(
        Effect.map(AiRunnerPort, (r) => r.output(id, start)),
      ).pipe(
        // Ends with the chunk that reaches `to`: waiting for one past it would hang on a quiet
        // live runner, whose log does not grow.
        Stream.takeUntil((chunk) => chunk.offset + chunk.bytes.length >= end),
      )
      return Stream.toAsyncIterableRuntime(stream, runtime)[Symbol.asyncIterator]()
    }
    /**
     * The bytes `[start, to)`, checked contiguous: should retention delete a segment before
     * it is read, the connection is cut short of its Content-Length (whether or not the
     * headers went out yet) rather than splice later bytes in as if they were the missing ones.
     */
    async function* body(
      start: number,
      source: AsyncIterator<LogChunk>,
      head: IteratorResult<LogChunk>,
    ): AsyncGenerator<Buffer> {
      let at = start
      try {
        for (let next = head; next.done !== true && at < end; ) {
          const chunk = next.value
          if (chunk.offset !== at) break
          const bytes = Buffer.from(chunk.bytes)
          const part = at + bytes.length > end ? bytes.subarray(0, end - at) : bytes
          at += part.length
          yield part
          if (at < end) next = await source.next()
        }
        if (at < end) {
          request.log.warn(`runner ${id}: log bytes from ${at} were deleted while being sent`)
          reply.raw.destroy()
        }
      } finally {
        await source.return?.()
      }
    }

    const chunks = chunksFrom(from)
    const first = await chunks.next()
    if (first.done !== true && first.value.offset === from) {
      return send(reply, status, from, to, bounds, Readable.from(body(from, chunks, first)))
    }
    await chunks.return?.()
    const now = first.done === true ? undefined : first.value.offset
    // Asked for everything kept: what is kept now starts a little later.
    if (query.from === undefined && range === undefined && now !== undefined && now < to) {
      const again = chunksFrom(now)
      const head = await again.next()
      return send(
        reply,
        status,
        now,
        to,
        { ...bounds, start: now },
        Readable.from(body(now, again, head)),
      )
    }
    void reply.header("Content-Range", `bytes */${bounds.end}`)
    throw new HttpError(
      416,
      "RangeNotSatisfiable",
      `bytes from ${from} of runner ${id} were deleted by log retention meanwhile`,
    )
  })
}
