import type { RunnerUsage, UsageResponse } from "@geppetto/protocol"

/** `950`, `12.3k`, `4.1M`: token counts as a card has room for. */
export const formatTokens = (n: number): string => {
  if (n < 1000) return String(n)
  const [value, unit] = n < 1e6 ? [n / 1e3, "k"] : n < 1e9 ? [n / 1e6, "M"] : [n / 1e9, "B"]
  return `${value < 100 ? value.toFixed(1).replace(/\.0$/, "") : Math.round(value)}${unit}`
}

/** `$1.23`, `$0.042`, `$0.0015`: a cost to the cent, or to what a single message costs. */
export const formatUsd = (usd: number): string => {
  if (usd === 0) return "$0"
  if (usd >= 1) return `$${usd.toFixed(2)}`
  if (usd >= 0.01) return `$${usd.toFixed(3).replace(/(\.\d\d)0$/, "$1")}`
  if (usd >= 0.0001) return `$${usd.toFixed(4)}`
  return "< $0.0001"
}

export const totalTokens = (u: RunnerUsage): number =>
  u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens

/** The four token counts, in the order every view shows them. */
export const TOKEN_PARTS = [
  { key: "inputTokens", label: "Input", short: "in" },
  { key: "outputTokens", label: "Output", short: "out" },
  { key: "cacheReadTokens", label: "Cache read", short: "cache read" },
  { key: "cacheWriteTokens", label: "Cache write", short: "cache write" },
] as const satisfies ReadonlyArray<{ key: keyof RunnerUsage; label: string; short: string }>

export type TokenPart = (typeof TOKEN_PARTS)[number]["key"]

/**
 * Tokens of models with no price (config `prices`), left out of `costUsd`. A figure from a
 * server before `unpricedTokens` left the cost out whenever a model had no price: then none
 * of its tokens is known to be priced.
 */
export const unpricedTokens = (u: RunnerUsage): number =>
  u.unpricedTokens ?? (u.costUsd === undefined ? totalTokens(u) : 0)

/**
 * The cost as shown: `$0.02`; `$0.02 + 1.2k tokens with no price` when some model has no price
 * (config `prices`); "no price" when none has.
 */
export const costText = (u: RunnerUsage): string => {
  const unpriced = unpricedTokens(u)
  if (unpriced === 0) return formatUsd(u.costUsd ?? 0)
  if (u.costUsd === undefined) return "no price"
  return `${formatUsd(u.costUsd)} + ${formatTokens(unpriced)} ${unpriced === 1 ? "token" : "tokens"} with no price`
}

/** A tooltip for the cost: the exact figure, and what it leaves out. */
export const costTitle = (u: RunnerUsage): string => {
  const unpriced = unpricedTokens(u)
  const exact = u.costUsd === undefined ? "" : `$${u.costUsd}`
  if (unpriced === 0) return exact
  const left = `${unpriced.toLocaleString("en")} tokens of a model with no price (config.json prices) are not in the cost`
  return exact === "" ? `No price: ${left}` : `${exact}; ${left}`
}

export type UsageGrouping = UsageResponse["by"]
export type ChartMetric = "cost" | "tokens"

/** One bar of the Usage page's chart: stacked segments (tokens by kind, or the cost). */
export interface Bar {
  readonly key: string
  readonly label: string
  readonly segments: ReadonlyArray<{ readonly part: TokenPart | "cost"; readonly value: number }>
  readonly total: number
  /**
   * Cost chart only: the group used tokens of a model without a price, so the bar (the known
   * part of its cost, if any) is not its whole cost.
   */
  readonly unpriced: boolean
  /** The group's tokens of models without a price. */
  readonly unpricedTokens: number
  readonly runners: number
}

const DAY_MS = 86_400_000
const MAX_DAYS = 400
const dayKey = (ms: number): string => new Date(ms).toISOString().slice(0, 10)
const localDay = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`
}
const isDay = (key: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(key)

/** Every day from `first` to `last` (`YYYY-MM-DD`, both included), at most MAX_DAYS. */
export const daysBetween = (first: string, last: string): string[] => {
  const from = Date.parse(`${first}T00:00:00Z`)
  const to = Date.parse(`${last}T00:00:00Z`)
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from) return []
  const days: string[] = []
  for (let t = from; t <= to && days.length < MAX_DAYS; t += DAY_MS) days.push(dayKey(t))
  return days
}

const EMPTY: RunnerUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
}

/**
 * `GET /api/usage` as the chart's bars. By day: one bar per day from `since` to today (or
 * the newest day the server names), days without use as empty bars, so the axis is time.
 * By provider or account: the groups, largest first. `now` is for tests.
 */
export const chartBars = (
  response: UsageResponse,
  metric: ChartMetric,
  now: number = Date.now(),
): Bar[] => {
  const byKey = new Map(response.groups.map((g) => [g.key, g]))
  let keys = response.groups.map((g) => g.key)
  if (response.by === "day") {
    const known = keys.filter(isDay).sort()
    const first = [localDay(response.since), ...known].sort()[0] ?? localDay(now)
    const last = [localDay(now), ...known].sort().at(-1) ?? first
    keys = daysBetween(first, last)
    // A key the range missed (a day past MAX_DAYS) still shows.
    for (const key of known) if (!keys.includes(key)) keys.push(key)
    keys.sort()
  }
  const bars = keys.map((key): Bar => {
    const group = byKey.get(key)
    const usage = group?.usage ?? EMPTY
    const segments =
      metric === "cost"
        ? [{ part: "cost" as const, value: usage.costUsd ?? 0 }]
        : TOKEN_PARTS.map((p) => ({ part: p.key, value: usage[p.key] }))
    return {
      key,
      label: labelOf(response.by, key),
      segments,
      total: segments.reduce((sum, s) => sum + s.value, 0),
      unpriced: metric === "cost" && unpricedTokens(usage) > 0,
      unpricedTokens: unpricedTokens(usage),
      runners: group?.runners ?? 0,
    }
  })
  return response.by === "day"
    ? bars
    : bars.sort((a, b) => b.total - a.total || a.label.localeCompare(b.label))
}

/** A group's name for people: `Dec 7` for a day, `(no account)` for the empty account. */
export const labelOf = (by: UsageGrouping, key: string): string => {
  if (by === "account") return key === "" ? "(no account)" : key
  if (by === "day" && isDay(key)) {
    const [, m, d] = key.split("-")
    return `${MONTHS[Number(m) - 1] ?? m} ${Number(d)}`
  }
  return key
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/** The top of the chart's axis: `max` rounded up to 1, 2 or 5 × a power of ten. */
export const axisMax = (max: number): number => {
  if (!(max > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  for (const step of [1, 2, 5, 10]) {
    const top = step * power
    // Float error: 3 × 0.1 is 0.30000000000000004.
    if (top >= max * (1 - 1e-12)) return top
  }
  return 10 * power
}
