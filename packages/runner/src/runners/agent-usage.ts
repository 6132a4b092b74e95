import { Clock, Effect } from "effect"
import type { AgentSessionInfo } from "../ports.js"
import {
  budgetCrossingKey,
  budgetNoticeDetail,
  type SpendItem,
  spentBudgets,
} from "../transcripts/budgets.js"
import type { RunnerUsage } from "../transcripts/usage-tally.js"
import { raiseBudgetNotice } from "./budget-notice.js"
import type { RegistryContext } from "./registry-context.js"
import { type RunnerEntry, readState } from "./runner-entry.js"

const sameUsage = (a: RunnerUsage | undefined, b: RunnerUsage) =>
  a !== undefined &&
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  a.cacheReadTokens === b.cacheReadTokens &&
  a.cacheWriteTokens === b.cacheWriteTokens &&
  a.costUsd === b.costUsd &&
  a.unpricedTokens === b.unpricedTokens

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
        parentId: s.parentId,
        endedAt: s.endedAt,
        ref: s.agentSession,
        usage: s.usage,
      } satisfies AgentSessionInfo
    })

  /**
   * A live runner whose usage grew while a budget over it is spent gets a notice (attention
   * `budget`), once per budget and period: a notice, never a stop.
   */
  const checkBudgets = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const budgets = ctx.settings.budgets ?? []
      if (budgets.length === 0) return
      const s = yield* readState(entry)
      if (!s.live) return
      const items: SpendItem[] = []
      for (const other of ctx.entries.values()) {
        const o = yield* readState(other)
        items.push({
          provider: o.provider,
          accountId: o.accountId,
          createdAt: o.createdAt,
          costUsd: o.usage?.costUsd,
        })
      }
      const now = yield* Clock.currentTimeMillis
      const who = { provider: s.provider, accountId: s.accountId }
      const crossed = spentBudgets(budgets, who, items, now)
        .map((over) => ({ ...over, key: budgetCrossingKey(over.budget, now) }))
        .filter(({ key }) => !(s.budgetCrossings ?? []).includes(key))
      const [first] = crossed
      if (first === undefined) return
      // Budgets crossed by the same message make one notice, naming the first.
      yield* ctx.update(
        entry,
        (st, at) =>
          raiseBudgetNotice(
            st,
            crossed.map((c) => c.key),
            budgetNoticeDetail(first.budget, first.spent),
            at,
          ),
        (at) => [
          {
            type: "attention",
            timestamp: at,
            waitingForInput: true,
            reason: "budget",
          },
        ],
      )
    })

  /** A new figure is pushed (`update`) and journaled; the same one again changes nothing. */
  const setUsage = (id: string, usage: RunnerUsage) =>
    Effect.gen(function* () {
      const entry = yield* ctx.entryOf(id)
      if (sameUsage((yield* readState(entry)).usage, usage)) return
      yield* ctx.update(entry, (s) => ({ ...s, usage }))
      yield* checkBudgets(entry)
      yield* ctx.persist(entry)
    })

  const setAgentSessionId = (id: string, sessionId: string) =>
    Effect.gen(function* () {
      const entry = yield* ctx.entryOf(id)
      if ((yield* readState(entry)).agentSession?.id !== undefined) return
      yield* ctx.update(entry, (s) =>
        s.agentSession?.id !== undefined
          ? s
          : { ...s, agentSession: { ...s.agentSession, id: sessionId } },
      )
      yield* ctx.persist(entry)
    })

  return { agentSession, setUsage, setAgentSessionId } as const
}
