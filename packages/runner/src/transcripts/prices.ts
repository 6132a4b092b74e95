import { Schema } from "effect"
import type { TokenUsage } from "./entry.js"
import table from "./prices.json" with { type: "json" }

/** USD per million tokens of each kind. */
export const ModelPrice = Schema.Struct({
  input: Schema.Number.pipe(Schema.nonNegative()),
  output: Schema.Number.pipe(Schema.nonNegative()),
  cacheRead: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 0 }),
  cacheWrite: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 0 }),
})
export type ModelPrice = typeof ModelPrice.Type

/** Prices by model name or prefix. */
export type PriceTable = Readonly<Record<string, ModelPrice>>

/** The built-in table (`prices.json`), checked as config overrides are. */
export const defaultPrices: PriceTable = Schema.decodeUnknownSync(
  Schema.Record({ key: Schema.String, value: ModelPrice }),
)(table.models)

/** The price of `model`: its own entry, else the longest key it starts with; else none. */
export const priceOf = (prices: PriceTable, model: string | undefined): ModelPrice | undefined => {
  if (model === undefined) return undefined
  const exact = prices[model]
  if (exact !== undefined) return exact
  let best: string | undefined
  for (const key of Object.keys(prices)) {
    if (model.startsWith(key) && (best === undefined || key.length > best.length)) best = key
  }
  return best === undefined ? undefined : prices[best]
}

export const costOf = (price: ModelPrice, usage: TokenUsage): number =>
  (usage.inputTokens * price.input +
    usage.outputTokens * price.output +
    usage.cacheReadTokens * price.cacheRead +
    usage.cacheWriteTokens * price.cacheWrite) /
  1_000_000
