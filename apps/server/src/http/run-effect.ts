import { Cause, Effect, Exit, type ManagedRuntime } from "effect"
import { type core, safeParse } from "zod"
import { badRequest, HttpError, toHttpError } from "./domain-errors.js"

/**
 * Runs a domain effect for a request: its value, or its typed failure thrown as an
 * `HttpError` (a defect is logged and becomes a plain 500).
 */
export const runEffect = async <A, E, R>(
  runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
  effect: Effect.Effect<A, E, R>,
): Promise<A> => {
  const exit = await runtime.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") throw toHttpError(failure.value)
  await runtime.runPromise(Effect.logError("request failed with a defect", exit.cause))
  throw new HttpError(500, "InternalError", "internal error", Cause.pretty(exit.cause))
}

/** Parses `value` with a protocol schema; a mismatch is a 400 naming the field. */
export const parseWith = <T>(schema: core.$ZodType<T>, value: unknown, where: string): T => {
  const result = safeParse(schema, value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const path = issue === undefined ? "" : issue.path.map(String).join(".")
  throw badRequest(`${where}${path === "" ? "" : `.${path}`}: ${issue?.message ?? "invalid"}`)
}
