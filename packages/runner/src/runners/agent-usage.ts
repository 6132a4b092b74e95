import { Effect } from "effect"
import type { AgentSessionInfo } from "../ports.js"
import type { RunnerUsage } from "../transcripts/usage-tally.js"
import type { RegistryContext } from "./registry-context.js"
import { readState } from "./runner-entry.js"

const sameUsage = (a: RunnerUsage | undefined, b: RunnerUsage) =>
  a !== undefined &&
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  a.cacheReadTokens === b.cacheReadTokens &&
  a.cacheWriteTokens === b.cacheWriteTokens &&
  a.costUsd === b.costUsd

/** The registry's side of transcripts: what a reader needs of a runner, and its usage kept. */
export const makeAgentUsage = (ctx: RegistryContext) => {
  const agentSession = (id: string) =>
    Effect.gen(function* () {
      const s = yield* readState(yield* ctx.entryOf(id))
      return {
        id: s.id,
        provider: s.provider,
        cwd: s.cwd,
        accountId: s.accountId,
        createdAt: s.createdAt,
        live: s.live,
        ref: s.agentSession,
        usage: s.usage,
      } satisfies AgentSessionInfo
    })

  /** A new figure is pushed (`update`) and journaled; the same one again changes nothing. */
  const setUsage = (id: string, usage: RunnerUsage) =>
    Effect.gen(function* () {
      const entry = yield* ctx.entryOf(id)
      if (sameUsage((yield* readState(entry)).usage, usage)) return
      yield* ctx.update(entry, (s) => ({ ...s, usage }))
      yield* ctx.persist(entry)
    })

  return { agentSession, setUsage } as const
}
