import type { AiRunner, AuthenticationError, ForbiddenError, JournalError } from "@geppetto/runner"
import type { Effect, Stream } from "effect"
import type { FastifyReply, FastifyServerOptions } from "fastify"

/** The failure type of a port member: an effect, a stream, or a function returning either. */
type FailureOf<T> =
  T extends Effect.Effect<infer _A, infer E, infer _R>
    ? E
    : T extends Stream.Stream<infer _A, infer E, infer _R>
      ? E
      : T extends (...args: never) => infer Result
        ? FailureOf<Result>
        : never

/**
 * Every typed failure that can reach an HTTP answer: whatever a method of the runner port can
 * fail with (read off `AiRunner` itself, so an error added to the port is in here at once),
 * plus what the server raises on its own (auth) and the journal's failures.
 */
export type DomainError =
  | FailureOf<AiRunner[keyof AiRunner]>
  | AuthenticationError
  | ForbiddenError
  | JournalError

export type DomainErrorTag = DomainError["_tag"]

interface HttpMapping {
  readonly status: number
  /** The `code` clients see when it is not the `_tag` itself (names kept from the seed). */
  readonly code?: string
}

/**
 * The one mapping from a domain error (by `_tag`) to an HTTP status and the `code` clients
 * see, after the seed: process failures are `ProcessOperationError`, runner failures
 * `AiProviderOperationError`. A client's bad input is never a 5xx. Checked against
 * `DomainError`: an error the port gains without an entry here fails typecheck, and so does
 * an entry for an error nothing raises.
 */
const STATUS = {
  ValidationError: { status: 400 },
  NotFoundError: { status: 404 },
  TierLimitError: { status: 429 },
  AuthenticationError: { status: 401 },
  ForbiddenError: { status: 403 },
  // The runner exists but cannot do that now (it finished, its pane is gone).
  AiRunnerError: { status: 409, code: "AiProviderOperationError" },
  // A quick answer for a prompt that is gone or changed: nothing was typed.
  PromptChangedError: { status: 409, code: "ConflictError" },
  ProcessMonitorError: { status: 500, code: "ProcessOperationError" },
  TmuxSessionError: { status: 503 },
  LogStoreError: { status: 500 },
  // The data dir is full or read-only: the server cannot store what the request needs.
  StorageError: { status: 507 },
  JournalError: { status: 500 },
  // git refused (an existing branch, a conflict, a dirty target): the request clashes with
  // the repository's state, and nothing was changed.
  GitOperationError: { status: 409 },
} as const satisfies Readonly<Record<DomainErrorTag, HttpMapping>>

/** The status and code of each domain error, for tests and docs. */
export const DOMAIN_ERROR_STATUS: Readonly<Record<DomainErrorTag, HttpMapping>> = STATUS

const isDomainErrorTag = (tag: string): tag is DomainErrorTag => Object.hasOwn(STATUS, tag)

/** A failure that carries its HTTP answer; thrown from handlers, turned into JSON by the app. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** For the server log only (a defect's cause, an unmapped failure's tag); never sent. */
    cause?: unknown,
    /** Sent: the files in conflict of a refused merge. */
    readonly conflicts?: ReadonlyArray<string>,
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
  if (tag === undefined || !isDomainErrorTag(tag))
    return new HttpError(500, "InternalError", "internal error", tag ?? e)
  const known: HttpMapping = STATUS[tag]
  const message = typeof e === "object" && e !== null && "message" in e ? String(e.message) : tag
  const conflicts =
    tag === "GitOperationError" && typeof e === "object" && e !== null && "conflicts" in e
      ? (e.conflicts as ReadonlyArray<string> | undefined)
      : undefined
  return new HttpError(known.status, known.code ?? tag, message, undefined, conflicts)
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
