import { addUsage, type TokenUsage, type UsageReport, zeroUsage } from "./entry.js"
import { costOf, type PriceTable, priceOf } from "./prices.js"

/** Message ids remembered for de-duplication: a message's lines come together, never far apart. */
const REMEMBERED_MESSAGES = 1024

/** A runner's tokens and their cost; `costUsd` is absent when a model with tokens has no price. */
export interface RunnerUsage extends TokenUsage {
  readonly costUsd?: number
}

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

/**
 * Sums usage reports: a message's usage counts once however many lines repeat it (the largest
 * figures win, so a later line with more output tokens adds only the difference); a running
 * total replaces the previous one. Memory: at most `REMEMBERED_MESSAGES` message ids.
 */
export class UsageTally {
  private readonly messages = new Map<string, TokenUsage>()
  private messageSum: TokenUsage = zeroUsage
  private messageCost = 0
  private runningTotal: TokenUsage = zeroUsage
  private runningCost = 0
  private unpriced = false
  model: string | undefined

  constructor(private readonly prices: PriceTable) {}

  add(report: UsageReport): void {
    const model = report.model ?? this.model
    const price = priceOf(this.prices, model)
    if (report.type === "total") {
      this.runningTotal = report.usage
      if (price === undefined) {
        if (!isZero(report.usage)) this.unpriced = true
      } else this.runningCost = costOf(price, report.usage)
      return
    }
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
    if (price === undefined) this.unpriced = true
    else this.messageCost += costOf(price, delta)
  }

  /** Message ids held now (bounded). */
  get remembered(): number {
    return this.messages.size
  }

  get usage(): RunnerUsage {
    const tokens = addUsage(this.messageSum, this.runningTotal)
    if (this.unpriced) return tokens
    // Rounded to a millionth of a dollar: sums of float products otherwise show 0.30000000000000004.
    return { ...tokens, costUsd: Math.round((this.messageCost + this.runningCost) * 1e6) / 1e6 }
  }
}
