import { addUsage, type TokenUsage, type UsageReport, zeroUsage } from "./entry.js"
import { costOf, type PriceTable, priceOf } from "./prices.js"

/** Message ids remembered for de-duplication: a message's lines come together, never far apart. */
const REMEMBERED_MESSAGES = 1024

/**
 * A runner's tokens and their cost. `costUsd` is the cost of the tokens whose model has a price;
 * `unpricedTokens` counts the others (all four kinds), absent when there are none. `costUsd` is
 * absent only when tokens were used and none of them has a price: nothing of the cost is known.
 */
export interface RunnerUsage extends TokenUsage {
  readonly costUsd?: number
  readonly unpricedTokens?: number
}

const tokenCount = (u: TokenUsage): number =>
  u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens

/**
 * Tokens of `u` without a price. A figure from before `unpricedTokens` existed (a journal's)
 * left the cost out when any model had no price: then none of its tokens is known to be priced.
 */
export const unpricedOf = (u: RunnerUsage): number =>
  u.unpricedTokens ?? (u.costUsd === undefined ? tokenCount(u) : 0)

/** `costUsd` and `unpricedTokens` as `RunnerUsage` carries them, from what was priced and not. */
export const withCost = (
  tokens: TokenUsage,
  cost: { readonly usd: number; readonly priced: boolean; readonly unpriced: number },
): RunnerUsage => ({
  ...tokens,
  // Rounded to a millionth of a dollar: sums of float products otherwise show 0.30000000000000004.
  ...(cost.priced || cost.unpriced === 0 ? { costUsd: Math.round(cost.usd * 1e6) / 1e6 } : {}),
  ...(cost.unpriced > 0 ? { unpricedTokens: cost.unpriced } : {}),
})

const max = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: Math.max(a.inputTokens, b.inputTokens),
  outputTokens: Math.max(a.outputTokens, b.outputTokens),
  cacheReadTokens: Math.max(a.cacheReadTokens, b.cacheReadTokens),
  cacheWriteTokens: Math.max(a.cacheWriteTokens, b.cacheWriteTokens),
})

const minus = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: a.inputTokens - b.inputTokens,
  outputTokens: a.outputTokens - b.outputTokens,
  cacheReadTokens: a.cacheReadTokens - b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens - b.cacheWriteTokens,
})

const isZero = (u: TokenUsage) =>
  u.inputTokens === 0 && u.outputTokens === 0 && u.cacheReadTokens === 0 && u.cacheWriteTokens === 0

/** Whether every figure of `a` is at least `b`'s. */
const covers = (a: TokenUsage, b: TokenUsage) =>
  a.inputTokens >= b.inputTokens &&
  a.outputTokens >= b.outputTokens &&
  a.cacheReadTokens >= b.cacheReadTokens &&
  a.cacheWriteTokens >= b.cacheWriteTokens

/**
 * Sums usage reports: a message's usage counts once however many lines repeat it (the largest
 * figures win, so a later line with more output tokens adds only the difference); a running
 * total replaces the previous one. Memory: at most `REMEMBERED_MESSAGES` message ids.
 *
 * With `since` (a runner that continues or forks an agent session), only what was reported from
 * then on counts: the session's earlier messages are its parent's, already counted there. A
 * running total from before `since` is the base the later ones are counted from, unless one
 * falls below it (the count started over in the new process). With `until` (the runner has
 * ended), nothing reported after it counts: that is whoever continued the session.
 */
export class UsageTally {
  private readonly messages = new Map<string, TokenUsage>()
  private messageSum: TokenUsage = zeroUsage
  private messageCost = 0
  private runningTotal: TokenUsage = zeroUsage
  private messagePriced = false
  private messageUnpriced = 0
  private runningCost = 0
  private runningPriced = false
  private runningUnpriced = 0
  model: string | undefined

  /** The last running total reported before `since`. */
  private baseTotal: TokenUsage | undefined
  /**
   * When the runner ended, once it has: what is reported after it is a continuation's (a
   * runner that resumed the session), counted there. Set by the reader before it reads on.
   */
  until: number | undefined

  constructor(
    private readonly prices: PriceTable,
    private readonly since?: number,
  ) {}

  add(report: UsageReport): void {
    if (this.until !== undefined && report.at !== undefined && report.at > this.until) return
    const earlier = this.since !== undefined && report.at !== undefined && report.at < this.since
    const model = report.model ?? this.model
    const price = priceOf(this.prices, model)
    if (report.type === "total") {
      if (earlier) {
        this.baseTotal = report.usage
        return
      }
      const base = this.baseTotal
      const total =
        base !== undefined && covers(report.usage, base) ? minus(report.usage, base) : report.usage
      // A running total replaces the last one, priced by the model it names now.
      this.runningTotal = total
      this.runningPriced = price !== undefined && !isZero(total)
      this.runningCost = price === undefined ? 0 : costOf(price, total)
      this.runningUnpriced = price === undefined ? tokenCount(total) : 0
      return
    }
    if (earlier) return
    const before = this.messages.get(report.id) ?? zeroUsage
    const after = max(before, report.usage)
    const delta = minus(after, before)
    this.messages.delete(report.id)
    this.messages.set(report.id, after)
    if (this.messages.size > REMEMBERED_MESSAGES) {
      const oldest = this.messages.keys().next().value
      if (oldest !== undefined) this.messages.delete(oldest)
    }
    if (isZero(delta)) return
    this.messageSum = addUsage(this.messageSum, delta)
    if (price === undefined) this.messageUnpriced += tokenCount(delta)
    else {
      this.messageCost += costOf(price, delta)
      this.messagePriced = true
    }
  }

  /** Message ids held now (bounded). */
  get remembered(): number {
    return this.messages.size
  }

  get usage(): RunnerUsage {
    return withCost(addUsage(this.messageSum, this.runningTotal), {
      usd: this.messageCost + this.runningCost,
      priced: this.messagePriced || this.runningPriced,
      unpriced: this.messageUnpriced + this.runningUnpriced,
    })
  }
}
