import { addUsage, zeroUsage } from "./entry.js"
import type { RunnerUsage } from "./usage-tally.js"

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

/** Sums two usages; a cost is known only when both are. */
export const sumUsage = (a: RunnerUsage, b: RunnerUsage): RunnerUsage => {
  const tokens = addUsage(a, b)
  return a.costUsd !== undefined && b.costUsd !== undefined
    ? { ...tokens, costUsd: Math.round((a.costUsd + b.costUsd) * 1e6) / 1e6 }
    : tokens
}

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
  let total: RunnerUsage = { ...zeroUsage, costUsd: 0 }
  for (const item of items) {
    if (item.createdAt < since || item.usage === undefined) continue
    const key =
      by === "day"
        ? dayOf(item.createdAt)
        : by === "provider"
          ? item.provider
          : (item.accountId ?? "")
    const group = groups.get(key) ?? { runners: 0, usage: { ...zeroUsage, costUsd: 0 } }
    groups.set(key, { runners: group.runners + 1, usage: sumUsage(group.usage, item.usage) })
    total = sumUsage(total, item.usage)
  }
  return {
    groups: [...groups]
      .map(([key, g]) => ({ key, ...g }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    total,
  }
}
