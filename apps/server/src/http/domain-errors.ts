import type { FastifyReply, FastifyServerOptions } from "fastify"

/**
 * The one mapping from a domain error (by `_tag`) to an HTTP status and the `code` clients
 * see, after the seed: process failures are `ProcessOperationError`, runner failures
 * `AiProviderOperationError`. A client's bad input is never a 5xx.
 */
const STATUS: Readonly<Record<string, { readonly status: number; readonly code?: string }>> = {
  ValidationError: { status: 400 },
  NotFoundError: { status: 404 },
  TierLimitError: { status: 429 },
  AuthenticationError: { status: 401 },
  ForbiddenError: { status: 403 },
  // The runner exists but cannot do that now (it finished, its pane is gone).
  AiRunnerError: { status: 409, code: "AiProviderOperationError" },
  ProcessMonitorError: { status: 500, code: "ProcessOperationError" },
  TmuxSessionError: { status: 503 },
  LogStoreError: { status: 500 },
  // The data dir is full or read-only: the server cannot store what the request needs.
  StorageError: { status: 507 },
  JournalError: { status: 500 },
}

/** A failure that carries its HTTP answer; thrown from handlers, turned into JSON by the app. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** For the server log only (a defect's cause, an unmapped failure's tag); never sent. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause })
  }
}

const tagOf = (e: unknown) =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string"
    ? e._tag
    : undefined

/** The HTTP form of a typed failure; anything unknown is a 500 that hides its message. */
export const toHttpError = (e: unknown): HttpError => {
  if (e instanceof HttpError) return e
  const tag = tagOf(e)
  const known = tag === undefined ? undefined : STATUS[tag]
  if (tag === undefined || known === undefined)
    return new HttpError(500, "InternalError", "internal error", tag ?? e)
  const message = typeof e === "object" && e !== null && "message" in e ? String(e.message) : tag
  return new HttpError(known.status, known.code ?? tag, message)
}

export const badRequest = (message: string) => new HttpError(400, "ValidationError", message)

/**
 * Fastify's `frameworkErrors`: the router answers a path it cannot decode (`%zz`) or a path
 * parameter past `maxParamLength` (100) before any hook or error handler runs, in a shape of
 * its own (and 414 for the latter). Both are a client's malformed input: 400 `ValidationError`
 * in the one error shape, with the path cut short rather than echoed whole.
 */
export const frameworkError: NonNullable<FastifyServerOptions["frameworkErrors"]> = (
  error,
  request,
  reply,
) => {
  const path = (request.url.split("?")[0] ?? "").slice(0, 120)
  const what =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? "has a path segment longer than 100 characters"
      : "is not a valid URL path"
  // A WebSocket upgrade answered here is on a socket no HTTP parser owns any more, and no
  // route hook sees it: nothing else would close it, and it would hold `app.close()` forever.
  if (request.headers.upgrade?.toLowerCase() === "websocket") {
    reply.raw.once("finish", () => request.raw.socket?.destroy())
  }
  // The hook is typed generic over route schemas, none of which applies to a router error.
  void (reply as unknown as FastifyReply).code(400).send({
    error: { code: "ValidationError", message: `${JSON.stringify(path)} ${what}` },
  })
}
