import { Schema } from "effect"
import { TierLimitError } from "../providers/limits.js"

/** A spending limit over the runners of a provider and/or an account, per day or month. */
export const BudgetSchema = Schema.Struct({
  provider: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  accountId: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  period: Schema.Literal("day", "month"),
  maxUsd: Schema.Number.pipe(Schema.finite(), Schema.positive()),
})
export type Budget = typeof BudgetSchema.Type

/** What a budget is measured over: a runner's cost, where and when it ran. */
export interface SpendItem {
  readonly provider: string
  readonly accountId: string | undefined
  readonly createdAt: number
  readonly costUsd: number | undefined
}

/** `provider=claude account=work per day ≤ $5`: how messages name a budget. */
export const budgetName = (b: Budget): string =>
  [
    b.provider === undefined ? "all providers" : `provider ${b.provider}`,
    ...(b.accountId === undefined ? [] : [`account ${b.accountId}`]),
    `per ${b.period}`,
    `max $${b.maxUsd}`,
  ].join(", ")

/** Start of the budget's period holding `now` (local time, as people read "today"). */
export const periodStart = (period: Budget["period"], now: number): number => {
  const d = new Date(now)
  return period === "day"
    ? new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime()
    : new Date(d.getFullYear(), d.getMonth(), 1).getTime()
}

const covers = (b: Budget, who: { provider: string; accountId: string | undefined }) =>
  (b.provider === undefined || b.provider === who.provider) &&
  (b.accountId === undefined || b.accountId === who.accountId)

/**
 * Spend under a budget this period: the cost of the runners it covers that were started in the
 * period (a runner's whole cost counts in the period it started).
 */
export const spentUnder = (b: Budget, items: ReadonlyArray<SpendItem>, now: number): number => {
  const since = periodStart(b.period, now)
  let sum = 0
  for (const item of items) if (covers(b, item) && item.createdAt >= since) sum += item.costUsd ?? 0
  return sum
}

/** The budgets `who` falls under that are spent (at or over their max) this period. */
export const spentBudgets = (
  budgets: ReadonlyArray<Budget>,
  who: { provider: string; accountId: string | undefined },
  items: ReadonlyArray<SpendItem>,
  now: number,
): ReadonlyArray<{ readonly budget: Budget; readonly spent: number }> =>
  budgets
    .filter((b) => covers(b, who))
    .map((budget) => ({ budget, spent: spentUnder(budget, items, now) }))
    .filter(({ budget, spent }) => spent >= budget.maxUsd)

/** The refusal of a start over `budget`. */
export const budgetRefusal = (
  who: { provider: string; accountId: string | undefined },
  budget: Budget,
  spent: number,
) =>
  new TierLimitError({
    provider: who.provider,
    ...(who.accountId === undefined ? {} : { accountId: who.accountId }),
    scope: budget.accountId !== undefined ? "account" : "provider",
    limit: budget.maxUsd,
    message: budgetNoticeDetail(budget, spent),
  })

/** One crossing of a budget: the budget and the period it was crossed in (raised once each). */
export const budgetCrossingKey = (budget: Budget, now: number): string =>
  `${budgetName(budget)}@${periodStart(budget.period, now)}`

/**
 * Dollars as people read them: cents, or four significant digits below a cent (a $0.002
 * budget spent must not read "$0.00 spent").
 */
export const formatUsd = (usd: number): string =>
  usd >= 0.01 || usd === 0 ? usd.toFixed(2) : usd.toPrecision(4).replace(/0+$/, "")

/** What a budget notice says (config text only: nothing from the terminal). */
export const budgetNoticeDetail = (budget: Budget, spent: number): string =>
  `budget spent: ${budgetName(budget)} ($${formatUsd(spent)} spent this ${budget.period})`
