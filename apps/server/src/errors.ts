import type { ErrorResponse } from "@geppetto/protocol"
import type { FastifyReply } from "fastify"

/** The one JSON shape of every error response (`ErrorResponse` in the protocol). */
export const errorBody = (code: string, message: string): ErrorResponse => ({
  error: { code, message },
})

/**
 * Answers `reply` with `status` and the one error shape. For hooks, which must reply rather
 * than throw when they add headers (`Retry-After`, `WWW-Authenticate`).
 */
export const sendError = (
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
): FastifyReply => reply.code(status).send(errorBody(code, message))
