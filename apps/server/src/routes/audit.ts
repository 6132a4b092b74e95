import { PassThrough } from "node:stream"
import { AuditQuery, type AuditResponse } from "@geppetto/protocol"
import type { AuditQuery as DomainQuery } from "@geppetto/runner"
import type { FastifyInstance } from "fastify"
import { parseWith } from "../http/run-effect.js"
import { actor } from "../team/register.js"

/**
 * `GET /api/audit?user=&runner=&action=&limit=` (admins): the trail, newest first. With
 * `follow=true`, NDJSON: the newest `limit` entries oldest first, then each new one as it is
 * recorded, until the client goes (or its user loses the admin role or is removed: the stream
 * ends, like their sockets).
 */
export const registerAuditRoute = (app: FastifyInstance) => {
  // Open follow streams: ended when the server closes, which would otherwise wait on them.
  const following = new Set<() => void>()
  app.addHook("preClose", (done) => {
    for (const end of [...following]) end()
    done()
  })
  app.get("/api/audit", { config: { auth: "admin" } }, async (request, reply) => {
    const query = parseWith(AuditQuery, request.query, "query")
    const domain: DomainQuery = {
      ...(query.user === undefined ? {} : { user: query.user }),
      ...(query.runner === undefined ? {} : { runnerId: query.runner }),
      ...(query.action === undefined ? {} : { action: query.action }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
    }
    if (query.follow !== "true" && query.follow !== "1") {
      const entries = await app.audit.query(domain)
      const body: AuditResponse = { entries: [...entries] }
      return body
    }
    const user = actor(request)
    // Lines go out as they come; a client that stops reading fills only its own buffers.
    const body = new PassThrough()
    let stop: (() => void) | undefined
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      following.delete(end)
      stop?.()
      unwatch()
      body.end()
    }
    following.add(end)
    // Removed, or no longer an admin: the stream ends, as the user's sockets close.
    const unwatch = app.userSockets.onChange(user, () => {
      if (app.users.roleOf(user) !== "admin") end()
    })
    reply.raw.on("close", end)
    stop = await app.audit.follow(domain, (entry) => {
      if (!ended) body.write(`${JSON.stringify(entry)}\n`)
    })
    if (ended) stop()
    return reply.type("application/x-ndjson; charset=utf-8").send(body)
  })
}
