import { Effect } from "effect"
import { ValidationError } from "../domain/errors.js"
import { validateArgv, validateEnv } from "../domain/validate.js"

export type ProviderMode = "interactive" | "oneshot"

/** A named set of provider env (e.g. `CLAUDE_CONFIG_DIR`) so two accounts run side by side. */
export interface AccountProfile {
  readonly id: string
  readonly provider: string
  readonly env: Readonly<Record<string, string>>
  /** Auto-approve for the account's runners when a start does not set its own. */
  readonly autoApprove?: { readonly allow: ReadonlyArray<string> }
}

export interface PlanRequest {
  readonly mode: ProviderMode
  readonly prompt?: string
  /** Only for the `shell` provider: the argv to run. */
  readonly command?: ReadonlyArray<string>
  readonly account?: AccountProfile
  /** The agent's session id to start with (Claude Code `--session-id`), so its file is known. */
  readonly sessionId?: string
  /** The agent session to continue (`fork`: as a new session from its history). */
  readonly resume?: ResumeSession
}

/** An earlier agent session to pick up: its id, and whether to fork it rather than continue. */
export interface ResumeSession {
  readonly sessionId: string
  readonly fork: boolean
}

/** What to exec: argv (never a shell string) and the env to add on top of the server's. */
export interface ProviderPlan {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

/** Facts about the host a plan may depend on (only `shell` uses one); defaults to `process.env`. */
export interface PlanContext {
  /** The user's `$SHELL`; `/bin/sh` when unset or empty. */
  readonly shell?: string | undefined
}

/** What is known of a provider without planning a run. */
export interface ProviderInfo {
  readonly id: string
  readonly name: string
  /** Executable looked up on PATH. */
  readonly binary: string
  readonly modes: ReadonlyArray<ProviderMode>
  readonly versionArgs: ReadonlyArray<string>
  /**
   * Whether an interactive start can carry the prompt as its first message. When false a
   * prompt is rejected rather than silently dropped; the caller may type it in instead.
   */
  readonly interactivePrompt: boolean
}

export interface Provider extends ProviderInfo {
  /** Whether it resumes an earlier session (and forks one); see `PlanRequest.resume`. */
  readonly resumes?: { readonly fork: boolean }
  readonly plan: (
    request: PlanRequest,
    context?: PlanContext,
  ) => Effect.Effect<ProviderPlan, ValidationError>
}

/** The per-provider data: everything except the shared validation in `plan`. */
export interface ProviderSpec extends ProviderInfo {
  /** Whether `command` is accepted (the shell provider); every other provider rejects it. */
  readonly takesCommand?: boolean
  /** Provider env set before the account's (the account wins on a clash). */
  readonly env?: Readonly<Record<string, string>>
  /** argv after validation: `prompt` is non-empty when present, `command` only for shell. */
  readonly argv: (input: ArgvInput) => Effect.Effect<ReadonlyArray<string>, ValidationError>
  /** Whether `argv` takes `resume`, and a fork of it; without it a resume is refused. */
  readonly resumes?: { readonly fork: boolean }
}

export interface ArgvInput {
  readonly mode: ProviderMode
  readonly prompt: string | undefined
  readonly command: ReadonlyArray<string> | undefined
  readonly shell: string
  readonly sessionId: string | undefined
  readonly resume: ResumeSession | undefined
}

// Same cap as validateArgv: one argv element larger than this fails exec on Linux anyway.
const MAX_PROMPT_BYTES = 128 * 1024

export const invalidRequest = (field: string, message: string) =>
  Effect.fail(new ValidationError({ field, message }))

const checkPrompt = (prompt: string) => {
  if (prompt.includes("\0")) return invalidRequest("prompt", "prompt contains a NUL byte")
  if (Buffer.byteLength(prompt) > MAX_PROMPT_BYTES)
    return invalidRequest("prompt", `prompt is longer than ${MAX_PROMPT_BYTES} bytes`)
  return Effect.void
}

/** Builds a provider whose `plan` validates the request the same way for every CLI. */
export const makeProvider = (spec: ProviderSpec): Provider => ({
  id: spec.id,
  name: spec.name,
  binary: spec.binary,
  modes: spec.modes,
  versionArgs: spec.versionArgs,
  interactivePrompt: spec.interactivePrompt,
  ...(spec.resumes !== undefined ? { resumes: spec.resumes } : {}),
  plan: (request, context) =>
    Effect.gen(function* () {
      if (!spec.modes.includes(request.mode))
        return yield* invalidRequest(
          "mode",
          `provider ${spec.id} has no ${JSON.stringify(request.mode)} mode (has: ${spec.modes.join(", ")})`,
        )
      if (request.command !== undefined && spec.takesCommand !== true)
        return yield* invalidRequest("command", `provider ${spec.id} does not take a command`)
      if (request.command !== undefined) yield* validateArgv(request.command)

      // An empty prompt means "no prompt": it would only start the agent with a blank message.
      const prompt = request.prompt === "" ? undefined : request.prompt
      if (prompt !== undefined) {
        yield* checkPrompt(prompt)
        if (request.mode === "interactive" && !spec.interactivePrompt)
          return yield* invalidRequest(
            "prompt",
            `provider ${spec.id} cannot take a prompt when started interactively`,
          )
      }

      const account = request.account
      if (account !== undefined) {
        if (account.provider !== spec.id)
          return yield* invalidRequest(
            "account.provider",
            `account ${account.id} is for ${account.provider}, not ${spec.id}`,
          )
        // validateEnv's return is a union of Effects; widen it so mapError sees the error type.
        const envCheck: Effect.Effect<void, ValidationError> = validateEnv(account.env)
        yield* envCheck.pipe(
          Effect.mapError(
            (e) => new ValidationError({ field: `account.${e.field}`, message: e.message }),
          ),
        )
      }

      const resume = request.resume
      if (resume !== undefined && spec.resumes === undefined)
        return yield* invalidRequest("resume", `provider ${spec.id} cannot resume a session`)
      if (resume?.fork === true && spec.resumes?.fork !== true)
        return yield* invalidRequest("resume.fork", `provider ${spec.id} cannot fork a session`)

      // Without a context, the server's own `$SHELL` is the user's.
      const userShell = context === undefined ? process.env.SHELL : context.shell
      const shell = userShell !== undefined && userShell !== "" ? userShell : "/bin/sh"
      const argv = yield* spec.argv({
        mode: request.mode,
        prompt,
        command: request.command,
        shell,
        sessionId: request.sessionId,
        resume,
      })
      // Belt and braces: whatever a spec built must still be a valid argv.
      yield* validateArgv(argv)
      return { argv, env: { ...spec.env, ...account?.env } }
    }),
})

/** `oneshot` needs something to do; the field is `prompt`. */
export const requirePrompt = (id: string, prompt: string | undefined) =>
  prompt === undefined
    ? invalidRequest("prompt", `provider ${id} needs a prompt in oneshot mode`)
    : Effect.succeed(prompt)
