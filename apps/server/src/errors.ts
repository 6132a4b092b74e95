import type { ErrorResponse } from "@geppetto/protocol"
import type { FastifyReply } from "fastify"
import { type DomainError, toHttpError } from "./http/domain-errors.js"

/** The one JSON shape of every error response (`ErrorResponse` in the protocol). */
export const errorBody = (
  code: string,
  message: string,
  details: { readonly conflicts?: ReadonlyArray<string> | undefined } = {},
): ErrorResponse => ({
  error: {
    code,
    message,
    ...(details.conflicts !== undefined ? { conflicts: [...details.conflicts] } : {}),
  },
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

/**
 * Answers `reply` with a domain error through the one mapping (`toHttpError`): its status and
 * code come from its `_tag`. For hooks that must reply rather than throw.
 */
export const sendDomainError = (reply: FastifyReply, error: DomainError): FastifyReply => {
  const http = toHttpError(error)
  return sendError(reply, http.statusCode, http.code, http.message)
}
