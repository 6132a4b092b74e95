import { randomUUID } from "node:crypto"
import { Clock, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import { AiRunnerError, ValidationError } from "../domain/errors.js"
import { decodeSessionName, generateProcessId, ProcessId } from "../domain/ids.js"
import type { StartRunnerOptions, StartRunnerRequest } from "../domain/runner.js"
import { validateCwd, validateEnv, validateSize } from "../domain/validate.js"
import { agentHooks, withHookArgs, writeHookFiles } from "../providers/hooks.js"
import { checkLimits, type RunnerSlot } from "../providers/limits.js"
import { getProvider } from "../providers/registry.js"
import { agentHomeIn } from "../transcripts/agent-session.js"
import { budgetRefusal, type SpendItem, spentBudgets } from "../transcripts/budgets.js"
import type { RegistryContext } from "./registry-context.js"
import { resumeFrom } from "./resume-start.js"
import { readState } from "./runner-entry.js"
import { encodeRunnerMeta } from "./runner-meta.js"
import { newRunnerState } from "./runner-state.js"
import type { Watch } from "./watch.js"
import type { WorkspaceOps } from "./workspace.js"

const invalid = (field: string, message: string) => new ValidationError({ field, message })

/** Starting a runner: the request checked, its slot reserved, its process spawned and watched. */
export const makeStart = (ctx: RegistryContext, watching: Watch, workspace: WorkspaceOps) =>
  Effect.gen(function* () {
    const { settings, monitor, logs, entries, reserved } = ctx
    const startLock = yield* Effect.makeSemaphore(1)

    const liveSlots = Effect.gen(function* () {
      const slots: RunnerSlot[] = [...reserved.values()]
      for (const entry of entries.values()) {
        const s = yield* readState(entry)
        if (s.live) slots.push({ provider: s.provider, accountId: s.accountId })
      }
      return slots
    })

    const nameTaken = (name: string) =>
      Effect.gen(function* () {
        if ([...reserved.values()].some((r) => r.name === name)) return true
        for (const entry of entries.values()) {
          if ((yield* readState(entry)).name === name) return true
        }
        return false
      })

    /** A start under a spent budget is refused, naming the budget. */
    const checkBudgets = (who: { provider: string; accountId: string | undefined }) =>
      Effect.gen(function* () {
        const budgets = settings.budgets ?? []
        if (budgets.length === 0) return
        const items: SpendItem[] = []
        for (const entry of entries.values()) {
          const s = yield* readState(entry)
          items.push({
            provider: s.provider,
            accountId: s.accountId,
            createdAt: s.createdAt,
            costUsd: s.usage?.costUsd,
          })
        }
        const [over] = spentBudgets(budgets, who, items, yield* Clock.currentTimeMillis)
        if (over !== undefined) return yield* budgetRefusal(who, over.budget, over.spent)
      })

    const startRunner = (request: StartRunnerRequest, options: StartRunnerOptions = {}) =>
      Effect.gen(function* () {
        const provider = yield* getProvider(request.provider).pipe(
          Effect.mapError((e) => invalid("provider", e.message)),
        )
        const mode = request.mode ?? "interactive"
        // Resuming: the parent's folder, account and agent session (see resume-start.ts).
        const resumed = yield* resumeFrom(ctx, provider, request)
        const accountId = request.accountId ?? resumed?.accountId
        const account = accountId === undefined ? undefined : settings.accounts[accountId]
        if (accountId !== undefined && account === undefined) {
          return yield* invalid(
            "accountId",
            `there is no account ${JSON.stringify(accountId.slice(0, 64))} in the config`,
          )
        }
        // Claude Code takes the id of its session: its transcript is then known, not guessed.
        // A continued session keeps its id (and file); a fork gets a new one.
        const agentSessionId =
          provider.id !== "claude"
            ? undefined
            : resumed === undefined || resumed.session.fork
              ? randomUUID()
              : resumed.session.sessionId
        const plan = yield* provider.plan({
          mode,
          ...(agentSessionId !== undefined ? { sessionId: agentSessionId } : {}),
          ...(resumed !== undefined ? { resume: resumed.session } : {}),
          ...(request.prompt !== undefined ? { prompt: request.prompt } : {}),
          ...(request.command !== undefined ? { command: request.command } : {}),
          ...(account !== undefined ? { account } : {}),
        })
        const env = request.env ?? {}
        yield* validateEnv(env)
        const cwd = resumed?.cwd ?? request.cwd ?? settings.defaultCwd
        yield* validateCwd(cwd)
        const cols = request.cols ?? 120
        const rows = request.rows ?? 32
        yield* validateSize(cols, rows)
        const maxDurationMs = request.maxDurationMs
        if (
          maxDurationMs !== undefined &&
          (!Number.isInteger(maxDurationMs) || maxDurationMs <= 0)
        ) {
          return yield* invalid("maxDurationMs", "maxDurationMs must be a positive whole number")
        }
        const id = generateProcessId("run")
        const name = yield* decodeSessionName(
          request.name ?? `${provider.id}-${id.slice(4, 10)}`,
          "name",
        )
        // Refused up front rather than started unlogged on a full or read-only data dir.
        yield* logs.checkWritable

        // Limits and names are checked and the slot reserved in one step.
        yield* startLock.withPermits(1)(
          Effect.gen(function* () {
            if (yield* nameTaken(name)) {
              return yield* invalid("name", `a runner named ${name} already exists`)
            }
            if (yield* monitor.sessionExists(name).pipe(Effect.orElseSucceed(() => false))) {
              return yield* invalid("name", `a tmux session named ${name} already exists`)
            }
            yield* checkLimits({
              running: yield* liveSlots,
              request: { provider: provider.id, accountId },
              limits: settings.limits,
            })
            yield* checkBudgets({ provider: provider.id, accountId })
            reserved.set(id, { provider: provider.id, accountId, name })
          }),
        )

        return yield* Effect.gen(function* () {
          // Made once the start is sure to go ahead (limits, names), before anything runs in it.
          const where = yield* workspace.forStart({
            cwd,
            runnerId: id,
            name,
            worktree: request.worktree,
          })
          const runnerCwd = where?.isolated === true ? where.path : cwd
          const now = yield* Clock.currentTimeMillis
          const prompt = request.prompt === "" ? undefined : request.prompt
          const state = newRunnerState({
            id,
            name,
            provider: provider.id,
            mode,
            cwd: runnerCwd,
            workspace: where,
            prompt,
            accountId,
            maxDurationMs,
            adopted: false,
            scheduleId: options.scheduleId,
            parentId: resumed?.parentId,
            autoApprove: request.autoApprove ?? account?.autoApprove,
            at: now,
            cols,
            rows,
          })
          const agentHomeSet = agentHomeIn(provider.id, { ...plan.env, ...env })
          // An agent that picks its own id (Codex) keeps it when continued: same session, same
          // file; its own new runs get theirs once the transcript reader matches the file.
          const sessionId =
            agentSessionId ??
            (resumed !== undefined && !resumed.session.fork ? resumed.session.sessionId : undefined)
          // A fork by an agent that names it itself (Qwen Code): found by what it forked.
          const forkOf =
            agentSessionId === undefined && resumed?.session.fork === true
              ? resumed.session.sessionId
              : undefined
          const agentSession =
            sessionId !== undefined || agentHomeSet !== undefined || forkOf !== undefined
              ? {
                  ...(sessionId !== undefined ? { id: sessionId } : {}),
                  ...(agentHomeSet !== undefined ? { home: agentHomeSet } : {}),
                  ...(forkOf !== undefined ? { forkOf } : {}),
                }
              : undefined
          const entry = yield* ctx.newEntry(
            agentSession === undefined ? state : { ...state, agentSession },
          )
          const scope = yield* Scope.fork(ctx.registryScope, ExecutionStrategy.sequential)
          // Until the runner is registered, any failure (or an interruption at shutdown)
          // undoes its scope and its worktree: a retry with the same name must find no
          // branch left behind.
          const launched = Effect.gen(function* () {
            // The agent's own hooks (Claude Code, Codex) report into the runner's folder.
            const hooks = agentHooks(provider.id, entry.logDir)
            if (hooks !== undefined) {
              yield* logs.ensureDir(entry.logDir).pipe(
                Effect.zipRight(writeHookFiles(hooks)),
                Effect.mapError(
                  (e) =>
                    new AiRunnerError({
                      runnerId: id,
                      provider: provider.id,
                      operation: "start",
                      message: e.message,
                    }),
                ),
              )
            }
            const [command, ...args] = withHookArgs(plan.argv, hooks)
            if (command === undefined) return yield* invalid("command", "nothing to run")
            const handle = yield* monitor
              .spawn(command, args, {
                processId: ProcessId(id),
                sessionName: name,
                cwd: runnerCwd,
                env: { ...plan.env, ...env },
                cols,
                rows,
                metadata: { provider: provider.id, meta: encodeRunnerMeta(state) },
              })
              .pipe(Scope.extend(scope))
            return handle
          }).pipe(
            Effect.onExit((exit) =>
              Exit.isSuccess(exit)
                ? Effect.void
                : Scope.close(scope, Exit.void).pipe(Effect.zipRight(workspace.discard(where))),
            ),
          )
          const handle = yield* launched
          entries.set(id, entry)
          yield* watching.watch(entry, handle, scope)
          yield* ctx.persist(entry)
          yield* ctx.publishRunner(entry)
          return yield* ctx.detailOf(entry)
        }).pipe(Effect.ensuring(Effect.sync(() => reserved.delete(id))))
      }).pipe(Effect.withSpan("AiRunner.start"))

    return { startRunner } as const
  })
