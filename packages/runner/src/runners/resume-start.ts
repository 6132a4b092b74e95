import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import type { StartRunnerRequest } from "../domain/runner.js"
import type { Provider, ResumeSession } from "../providers/provider.js"
import type { RegistryContext } from "./registry-context.js"
import { readState } from "./runner-entry.js"

/** What a start that resumes takes from its parent runner. */
export interface ResumedFrom {
  readonly parentId: string
  readonly cwd: string
  readonly accountId: string | undefined
  readonly session: ResumeSession
}

const invalid = (field: string, message: string) => new ValidationError({ field, message })

/**
 * `StartRunnerRequest.resume` checked against its parent: a finished runner of the same
 * provider whose agent session id is known (Claude Code's, given at its start). The new
 * runner works in the parent's folder (its worktree, if it had one) under its account, so
 * the agent finds the session's file; `cwd`, `worktree` and `command` are refused beside it.
 */
export const resumeFrom = (
  ctx: RegistryContext,
  provider: Provider,
  request: StartRunnerRequest,
): Effect.Effect<ResumedFrom | undefined, ValidationError> =>
  Effect.gen(function* () {
    const resume = request.resume
    if (resume === undefined) return undefined
    if (provider.resumes === undefined) {
      return yield* invalid("resume", `provider ${provider.id} cannot resume a session`)
    }
    if (resume.fork === true && !provider.resumes.fork) {
      return yield* invalid("resume.fork", `provider ${provider.id} cannot fork a session`)
    }
    for (const field of ["cwd", "worktree", "command"] as const) {
      if (request[field] !== undefined) {
        return yield* invalid(field, `${field} cannot be set when resuming: the parent's is used`)
      }
    }
    const entry = ctx.entries.get(resume.runnerId)
    if (entry === undefined) {
      return yield* invalid(
        "resume.runnerId",
        `there is no runner ${JSON.stringify(resume.runnerId)} to resume`,
      )
    }
    const parent = yield* readState(entry)
    if (parent.live) {
      return yield* invalid(
        "resume.runnerId",
        `runner ${parent.id} is still running: it can be continued once it has finished`,
      )
    }
    if (parent.provider !== request.provider) {
      return yield* invalid(
        "provider",
        `runner ${parent.id} ran ${parent.provider}, not ${request.provider}: a session resumes with its own agent`,
      )
    }
    const sessionId = parent.agentSession?.id
    if (sessionId === undefined) {
      return yield* invalid(
        "resume.runnerId",
        `the ${parent.provider} session id of runner ${parent.id} is not known, so it cannot be resumed`,
      )
    }
    return {
      parentId: parent.id,
      cwd: parent.cwd,
      accountId: parent.accountId,
      session: { sessionId, fork: resume.fork === true },
    }
  })
