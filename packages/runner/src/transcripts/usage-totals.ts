import { addUsage, zeroUsage } from "./entry.js"
import { type RunnerUsage, unpricedOf, withCost } from "./usage-tally.js"

export type UsageGrouping = "day" | "provider" | "account"

export interface UsageItem {
  readonly provider: string
  readonly accountId: string | undefined
  readonly createdAt: number
  readonly usage: RunnerUsage | undefined
}

export interface UsageGroupTotal {
  readonly key: string
  readonly runners: number
  readonly usage: RunnerUsage
}

const pad = (n: number) => String(n).padStart(2, "0")
const dayOf = (at: number) => {
  const d = new Date(at)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/**
 * Sums two usages: the known costs add up, and so do the tokens without a price, so one
 * unpriced runner leaves the others' cost shown (`$0.02 + N tokens with no price`).
 */
export const sumUsage = (a: RunnerUsage, b: RunnerUsage): RunnerUsage =>
  withCost(addUsage(a, b), {
    usd: (a.costUsd ?? 0) + (b.costUsd ?? 0),
    priced: a.costUsd !== undefined || b.costUsd !== undefined,
    unpriced: unpricedOf(a) + unpricedOf(b),
  })

/**
 * Usage of the runners started at or after `since`, grouped by the day they started, their
 * provider or their account; runners without usage (no transcript) are not counted.
 */
export const usageTotals = (
  items: ReadonlyArray<UsageItem>,
  since: number,
  by: UsageGrouping,
): { readonly groups: ReadonlyArray<UsageGroupTotal>; readonly total: RunnerUsage } => {
  const groups = new Map<string, { runners: number; usage: RunnerUsage }>()
  let total: RunnerUsage | undefined
  for (const item of items) {
    if (item.createdAt < since || item.usage === undefined) continue
    const key =
      by === "day"
        ? dayOf(item.createdAt)
        : by === "provider"
          ? item.provider
          : (item.accountId ?? "")
    const group = groups.get(key)
    // zeroUsage has no cost: a sum starting from it is priced only if an item is.
    groups.set(key, {
      runners: (group?.runners ?? 0) + 1,
      usage: sumUsage(group?.usage ?? zeroUsage, item.usage),
    })
    total = sumUsage(total ?? zeroUsage, item.usage)
  }
  return {
    groups: [...groups]
      .map(([key, g]) => ({ key, ...g }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    total: total ?? { ...zeroUsage, costUsd: 0 },
  }
}
