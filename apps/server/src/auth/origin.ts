import type { FastifyRequest } from "fastify"

export type OriginCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const originOf = (url: string): string | undefined => {
  try {
    const parsed = new URL(url)
    return parsed.origin === "null" ? undefined : parsed.origin
  } catch {
    return undefined
  }
}

/**
 * Whether a request's `Origin` header, when present, is the server's own origin: the same
 * scheme, host and port as the request's `Host` header on this connection. An absent
 * `Origin` (curl, scripts, the CLI) passes: browsers always send one on WebSocket upgrades
 * and on cross-origin or non-GET fetches, which is what this defends against (a page on
 * another origin, including another port of the same host, driving the user's session).
 */
export const checkOrigin = (request: FastifyRequest): OriginCheck => {
  const origin = request.headers.origin
  if (origin === undefined) return { ok: true }
  const host = request.headers.host
  if (host === undefined || host === "") {
    return { ok: false, reason: "an Origin header without a Host header" }
  }
  const own = originOf(`${request.protocol}://${host}`)
  const given = originOf(origin)
  if (own === undefined || given === undefined || own !== given) {
    return { ok: false, reason: `origin ${origin.slice(0, 200)} is not this server's` }
  }
  return { ok: true }
}

/** Whether the raw request asks to become a WebSocket. */
export const isWebSocketUpgrade = (request: FastifyRequest): boolean =>
  request.headers.upgrade?.toLowerCase() === "websocket"
