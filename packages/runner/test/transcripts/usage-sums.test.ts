import { describe, expect, it } from "@effect/vitest"
import { defaultPrices } from "../../src/transcripts/prices.js"
import { UsageTally } from "../../src/transcripts/usage-tally.js"
import { type UsageItem, usageTotals } from "../../src/transcripts/usage-totals.js"

/*
 * Cost with a model that has no price: the known part is kept and the unpriced tokens are
 * counted beside it, in one runner's tally and in the totals of GET /api/usage.
 * Prices (per million, prices.json): sonnet 3 / 15 / 0.30 / 3.75, haiku-4-5 1 / 5, gpt-5 1.25 / 10.
 */

const tokens = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheWriteTokens: cacheWrite,
})

describe("one runner's tally", () => {
  it("keeps the cost of the priced models and counts the unpriced model's tokens", () => {
    const tally = new UsageTally(defaultPrices)
    // 1000·3 + 200·15 + 10000·0.3 + 400·3.75 = 10500 → $0.0105, its two lines counted once.
    const sonnet = tokens(1000, 200, 10_000, 400)
    tally.add({ type: "message", id: "m1", model: "claude-sonnet-4-5", usage: sonnet })
    tally.add({ type: "message", id: "m1", model: "claude-sonnet-4-5", usage: sonnet })
    tally.add({ type: "message", id: "m2", model: "mystery-model-1", usage: tokens(300, 100) })
    // 2000·1 + 500·5 = 4500 → $0.0045.
    tally.add({ type: "message", id: "m3", model: "claude-haiku-4-5", usage: tokens(2000, 500) })
    expect(tally.usage).toEqual({
      ...tokens(3300, 800, 10_000, 400),
      costUsd: 0.015,
      unpricedTokens: 400,
    })
  })

  it("a message of an unpriced model that grows on a later line adds only its growth", () => {
    const tally = new UsageTally(defaultPrices)
    tally.add({ type: "message", id: "m1", model: "mystery-model-1", usage: tokens(10, 5) })
    tally.add({ type: "message", id: "m1", model: "mystery-model-1", usage: tokens(10, 25) })
    expect(tally.usage).toEqual({ ...tokens(10, 25), unpricedTokens: 35 })
  })

  it("has no cost at all when no token has a price, and a priced tally has no unpriced count", () => {
    const unpriced = new UsageTally(defaultPrices)
    unpriced.add({ type: "message", id: "m", model: "mystery-model-1", usage: tokens(1, 2) })
    expect(unpriced.usage).toEqual({ ...tokens(1, 2), unpricedTokens: 3 })

    const priced = new UsageTally(defaultPrices)
    priced.add({ type: "message", id: "m", model: "claude-haiku-4-5", usage: tokens(1000, 100) })
    expect(priced.usage).toEqual({ ...tokens(1000, 100), costUsd: 0.0015 })
    expect(new UsageTally(defaultPrices).usage).toEqual({ ...tokens(0, 0), costUsd: 0 })
  })

  it("prices a running total (Codex) by the model it names now", () => {
    const tally = new UsageTally(defaultPrices)
    // 1000·1.25 + 100·10 = 2250 → $0.00225.
    tally.add({ type: "total", model: "gpt-5", usage: tokens(1000, 100) })
    expect(tally.usage).toEqual({ ...tokens(1000, 100), costUsd: 0.00225 })
    tally.add({ type: "total", model: "mystery-model-1", usage: tokens(1500, 200) })
    expect(tally.usage).toEqual({ ...tokens(1500, 200), unpricedTokens: 1700 })
  })
})

describe("the tally of a runner that continues a session (since its start)", () => {
  const since = Date.UTC(2026, 11, 7, 9, 0, 0)
  const sonnet = "claude-sonnet-4-5"

  it("leaves out the messages written before it started: they are its parent's", () => {
    const tally = new UsageTally(defaultPrices, since)
    tally.add({
      type: "message",
      id: "old",
      model: sonnet,
      usage: tokens(1000, 200),
      at: since - 1,
    })
    // 2000·1 + 500·5 = 4500 → $0.0045.
    const haiku = "claude-haiku-4-5"
    tally.add({ type: "message", id: "new", model: haiku, usage: tokens(2000, 500), at: since })
    // A line with no time counts (nothing says it is older).
    tally.add({ type: "message", id: "undated", model: haiku, usage: tokens(1000, 0) })
    expect(tally.usage).toEqual({ ...tokens(3000, 500), costUsd: 0.0055 })
    // Without `since`, the same lines count whole.
    const whole = new UsageTally(defaultPrices)
    whole.add({ type: "message", id: "old", model: haiku, usage: tokens(1000, 200), at: since - 1 })
    expect(whole.usage).toEqual({ ...tokens(1000, 200), costUsd: 0.002 })
  })

  it("once its runner has ended (until), leaves out what a continuation adds after", () => {
    const tally = new UsageTally(defaultPrices)
    const haiku = "claude-haiku-4-5"
    tally.add({ type: "message", id: "own", model: haiku, usage: tokens(1000, 0), at: since })
    tally.until = since + 1000
    tally.add({
      type: "message",
      id: "last",
      model: haiku,
      usage: tokens(1000, 0),
      at: since + 1000,
    })
    tally.add({
      type: "message",
      id: "later",
      model: haiku,
      usage: tokens(5000, 0),
      at: since + 1001,
    })
    tally.add({ type: "total", model: "gpt-5", usage: tokens(7000, 0), at: since + 2000 })
    expect(tally.usage).toEqual({ ...tokens(2000, 0), costUsd: 0.002 })
  })

  it("counts a running total (Codex) from the last one before it started, or whole if it started over", () => {
    const tally = new UsageTally(defaultPrices, since)
    tally.add({ type: "total", model: "gpt-5", usage: tokens(1000, 100), at: since - 5 })
    tally.add({ type: "total", model: "gpt-5", usage: tokens(3000, 400), at: since - 1 })
    expect(tally.usage).toEqual({ ...tokens(0, 0), costUsd: 0 })
    // 1000·1.25 + 100·10 = 2250 → $0.00225.
    tally.add({ type: "total", model: "gpt-5", usage: tokens(4000, 500), at: since + 10 })
    expect(tally.usage).toEqual({ ...tokens(1000, 100), costUsd: 0.00225 })
    // Below the base: the new process counts from zero, so its total is all its own.
    tally.add({ type: "total", model: "gpt-5", usage: tokens(200, 20), at: since + 20 })
    expect(tally.usage).toEqual({ ...tokens(200, 20), costUsd: 0.00045 })
  })
})

describe("usage totals", () => {
  const day = (d: number) => new Date(2026, 11, d, 12).getTime()
  const items: ReadonlyArray<UsageItem> = [
    // Priced: sonnet, $0.0105.
    {
      provider: "claude",
      accountId: "work",
      createdAt: day(6),
      usage: { ...tokens(1000, 200, 10_000, 400), costUsd: 0.0105 },
    },
    // Mixed: haiku ($0.0045) and 400 tokens of a model with no price.
    {
      provider: "claude",
      accountId: undefined,
      createdAt: day(7),
      usage: { ...tokens(2300, 600), costUsd: 0.0045, unpricedTokens: 400 },
    },
    // No price at all.
    {
      provider: "gemini",
      accountId: "work",
      createdAt: day(7),
      usage: { ...tokens(50, 25), unpricedTokens: 75 },
    },
    // A journal's figure from before `unpricedTokens`: no cost means none of it is priced.
    { provider: "codex", accountId: undefined, createdAt: day(7), usage: tokens(100, 10) },
    // Before `since`, and one without a transcript: neither counts.
    {
      provider: "claude",
      accountId: "work",
      createdAt: day(1),
      usage: { ...tokens(9, 9), costUsd: 9 },
    },
    { provider: "claude", accountId: "work", createdAt: day(7), usage: undefined },
  ]
  const since = day(5)

  it("by provider: each group keeps its known cost and counts its unpriced tokens", () => {
    const { groups, total } = usageTotals(items, since, "provider")
    expect(groups).toEqual([
      {
        key: "claude",
        runners: 2,
        usage: { ...tokens(3300, 800, 10_000, 400), costUsd: 0.015, unpricedTokens: 400 },
      },
      { key: "codex", runners: 1, usage: { ...tokens(100, 10), unpricedTokens: 110 } },
      { key: "gemini", runners: 1, usage: { ...tokens(50, 25), unpricedTokens: 75 } },
    ])
    expect(total).toEqual({
      ...tokens(3450, 835, 10_000, 400),
      costUsd: 0.015,
      unpricedTokens: 585,
    })
  })

  it("by account and by day", () => {
    expect(usageTotals(items, since, "account").groups).toEqual([
      {
        key: "",
        runners: 2,
        usage: { ...tokens(2400, 610), costUsd: 0.0045, unpricedTokens: 510 },
      },
      {
        key: "work",
        runners: 2,
        usage: { ...tokens(1050, 225, 10_000, 400), costUsd: 0.0105, unpricedTokens: 75 },
      },
    ])
    expect(usageTotals(items, since, "day").groups).toEqual([
      {
        key: "2026-12-06",
        runners: 1,
        usage: { ...tokens(1000, 200, 10_000, 400), costUsd: 0.0105 },
      },
      {
        key: "2026-12-07",
        runners: 3,
        usage: { ...tokens(2450, 635), costUsd: 0.0045, unpricedTokens: 585 },
      },
    ])
  })

  it("all priced: no unpriced count; nothing used: a zero cost", () => {
    const priced = items.slice(0, 1)
    expect(usageTotals(priced, since, "day").total).toEqual({
      ...tokens(1000, 200, 10_000, 400),
      costUsd: 0.0105,
    })
    expect(usageTotals([], since, "day")).toEqual({
      groups: [],
      total: { ...tokens(0, 0), costUsd: 0 },
    })
  })
})
