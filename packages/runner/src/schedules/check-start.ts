import { SCHEDULE_NAME_MAX, type StartRunnerRequest } from "@geppetto/protocol"
import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import { validateCwd, validateEnv, validateSize } from "../domain/validate.js"
import type { AiRunner } from "../ports.js"
import { getProvider } from "../providers/registry.js"
import type { RunnerSettingsShape } from "../runners/settings.js"

const invalid = (field: string, message: string) =>
  new ValidationError({ field: `start.${field}`, message: `start.${field}: ${message}` })

/**
 * A schedule's `start`, checked when the schedule is made as far as a start would check it
 * without starting anything: the provider and its plan (mode, prompt, command, account), env,
 * cwd (an existing folder, in a git work tree for a `worktree`), size and the name's room for
 * the run suffix. What can only be known at run time (limits, a name taken by then, a folder
 * deleted since) makes that run `failed`, with the reason.
 */
export const checkStart = (
  start: StartRunnerRequest,
  settings: RunnerSettingsShape,
  runners: AiRunner,
): Effect.Effect<void, ValidationError> =>
  Effect.gen(function* () {
    const provider = yield* getProvider(start.provider).pipe(
      Effect.mapError((e) => invalid("provider", e.message)),
    )
    const account = start.accountId === undefined ? undefined : settings.accounts[start.accountId]
    if (start.accountId !== undefined && account === undefined) {
      return yield* invalid(
        "accountId",
        `there is no account ${JSON.stringify(start.accountId.slice(0, 64))} in the config`,
      )
    }
    yield* provider
      .plan({
        mode: start.mode ?? "interactive",
        ...(start.prompt !== undefined ? { prompt: start.prompt } : {}),
        ...(start.command !== undefined ? { command: start.command } : {}),
        ...(account !== undefined ? { account } : {}),
      })
      .pipe(Effect.mapError((e) => invalid(e.field, e.message)))
    const envCheck: Effect.Effect<void, ValidationError> = validateEnv(start.env ?? {})
    yield* envCheck.pipe(Effect.mapError((e) => invalid(e.field, e.message)))
    const sizeCheck: Effect.Effect<void, ValidationError> = validateSize(
      start.cols ?? 120,
      start.rows ?? 32,
    )
    yield* sizeCheck.pipe(Effect.mapError((e) => invalid(e.field, e.message)))
    const cwd = start.cwd ?? settings.defaultCwd
    yield* validateCwd(cwd).pipe(Effect.mapError((e) => invalid(e.field, e.message)))
    if (start.name !== undefined && start.name.length > SCHEDULE_NAME_MAX) {
      return yield* invalid(
        "name",
        `a schedule's runner name may have at most ${SCHEDULE_NAME_MAX} characters: each run adds -YYYYMMDD-HHMMSS`,
      )
    }
    if (start.worktree !== undefined) {
      if (typeof start.worktree === "object" && start.worktree.branch !== undefined) {
        return yield* invalid(
          "worktree.branch",
          "each run of a schedule gets a branch of its own (geppetto/RUNNER-NAME): leave worktree.branch out",
        )
      }
      if ((yield* runners.gitWorkTree(cwd)) === undefined) {
        return yield* invalid(
          "cwd",
          `cwd ${JSON.stringify(cwd.slice(0, 200))} is not in a git work tree, so a worktree cannot be made from it`,
        )
      }
    }
  })
