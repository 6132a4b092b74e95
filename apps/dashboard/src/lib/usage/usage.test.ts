import type { RunnerUsage, UsageResponse } from "@geppetto/protocol"
import { describe, expect, it } from "vitest"
import {
  axisMax,
  chartBars,
  costText,
  costTitle,
  daysBetween,
  formatTokens,
  formatUsd,
  labelOf,
  unpricedTokens,
} from "./usage"

const usage = (input: number, output: number, costUsd?: number): RunnerUsage => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: 1000,
  cacheWriteTokens: 10,
  ...(costUsd !== undefined ? { costUsd } : {}),
})

// Local noon, so the day is the same in every time zone the test may run in.
const at = (day: string) => new Date(`${day}T12:00:00`).getTime()

describe("chartBars", () => {
  it("by day: one bar per day from since to today, days without use empty", () => {
    const response: UsageResponse = {
      since: at("2026-11-29"),
      by: "day",
      groups: [
        { key: "2026-12-02", runners: 1, usage: usage(10, 5, 0.5) },
        { key: "2026-11-30", runners: 2, usage: usage(100, 50, 1.25) },
      ],
      total: usage(110, 55, 1.75),
    }
    const bars = chartBars(response, "cost", at("2026-12-03"))
    expect(bars.map((b) => [b.key, b.label, b.total])).toEqual([
      ["2026-11-29", "Nov 29", 0],
      ["2026-11-30", "Nov 30", 1.25],
      ["2026-12-01", "Dec 1", 0],
      ["2026-12-02", "Dec 2", 0.5],
      ["2026-12-03", "Dec 3", 0],
    ])
    expect(bars.map((b) => b.runners)).toEqual([0, 2, 0, 1, 0])
  })

  it("stacks tokens by kind, in the order input, output, cache read, cache write", () => {
    const response: UsageResponse = {
      since: at("2026-12-03"),
      by: "day",
      groups: [{ key: "2026-12-03", runners: 1, usage: usage(100, 50) }],
      total: usage(100, 50),
    }
    const [bar] = chartBars(response, "tokens", at("2026-12-03"))
    expect(bar?.segments).toEqual([
      { part: "inputTokens", value: 100 },
      { part: "outputTokens", value: 50 },
      { part: "cacheReadTokens", value: 1000 },
      { part: "cacheWriteTokens", value: 10 },
    ])
    expect(bar?.total).toBe(1160)
    expect(bar?.unpriced).toBe(false)
  })

  it("marks a group whose model has no price: its cost is unknown, not zero", () => {
    const response: UsageResponse = {
      since: 0,
      by: "provider",
      groups: [
        { key: "claude", runners: 1, usage: usage(1, 1, 0.2) },
        { key: "gemini", runners: 1, usage: usage(5, 5) },
        { key: "codex", runners: 3, usage: usage(1, 1, 2) },
      ],
      total: usage(7, 7),
    }
    const bars = chartBars(response, "cost")
    // Largest first; the unpriced group last, with nothing drawn for it.
    expect(bars.map((b) => [b.key, b.total, b.unpriced])).toEqual([
      ["codex", 2, false],
      ["claude", 0.2, false],
      ["gemini", 0, true],
    ])
  })

  it("draws the known part of a group's cost and marks the group that has tokens with no price", () => {
    const response: UsageResponse = {
      since: 0,
      by: "provider",
      groups: [
        // Priced and unpriced runners together: $0.02 known, 1,500 tokens without a price.
        { key: "claude", runners: 2, usage: { ...usage(200, 290, 0.02), unpricedTokens: 1500 } },
        { key: "codex", runners: 1, usage: usage(1, 1, 0.01) },
        { key: "qwen", runners: 1, usage: { ...usage(10, 0), unpricedTokens: 1010 } },
      ],
      total: { ...usage(211, 291, 0.03), unpricedTokens: 2510 },
    }
    expect(
      chartBars(response, "cost").map((b) => [b.key, b.total, b.unpriced, b.unpricedTokens]),
    ).toEqual([
      ["claude", 0.02, true, 1500],
      ["codex", 0.01, false, 0],
      ["qwen", 0, true, 1010],
    ])
    // The tokens chart has no price to mark.
    expect(chartBars(response, "tokens").some((b) => b.unpriced)).toBe(false)
  })

  it("names the empty account", () => {
    const response: UsageResponse = {
      since: 0,
      by: "account",
      groups: [{ key: "", runners: 1, usage: usage(1, 1, 0.1) }],
      total: usage(1, 1, 0.1),
    }
    expect(chartBars(response, "cost").map((b) => b.label)).toEqual(["(no account)"])
  })
})

describe("helpers", () => {
  it("lists days across a month's end, and none for a reversed range", () => {
    expect(daysBetween("2026-02-27", "2026-03-01")).toEqual([
      "2026-02-27",
      "2026-02-28",
      "2026-03-01",
    ])
    expect(daysBetween("2026-03-01", "2026-02-27")).toEqual([])
  })

  it("rounds the axis up to 1, 2 or 5 times a power of ten", () => {
    expect(axisMax(0)).toBe(1)
    expect(axisMax(0.3)).toBeCloseTo(0.5)
    expect(axisMax(0.0014)).toBeCloseTo(0.002)
    expect(axisMax(7)).toBe(10)
    expect(axisMax(1160)).toBe(2000)
    expect(axisMax(2000)).toBe(2000)
  })

  it("formats tokens and dollars", () => {
    expect(formatTokens(950)).toBe("950")
    expect(formatTokens(1000)).toBe("1k")
    expect(formatTokens(12_345)).toBe("12.3k")
    expect(formatTokens(4_100_000)).toBe("4.1M")
    expect(formatUsd(0.00135)).toBe("$0.0014")
    expect(formatUsd(0.042)).toBe("$0.042")
    expect(formatUsd(0.5)).toBe("$0.50")
    expect(formatUsd(12.5)).toBe("$12.50")
    expect(costText(usage(1, 1))).toBe("no price")
    expect(costText({ ...usage(0, 0), cacheReadTokens: 0, cacheWriteTokens: 0 })).toBe("$0")
    expect(labelOf("provider", "claude")).toBe("claude")
  })

  it("shows the known cost and the tokens with no price apart", () => {
    const partial = { ...usage(200, 290, 0.02), unpricedTokens: 1500 }
    expect(costText(partial)).toBe("$0.02 + 1.5k tokens with no price")
    expect(costTitle(partial)).toBe(
      "$0.02; 1,500 tokens of a model with no price (config.json prices) are not in the cost",
    )
    expect(costText({ ...usage(0, 0, 0.0105), cacheReadTokens: 0, unpricedTokens: 1 })).toBe(
      "$0.011 + 1 token with no price",
    )
    // None priced: no dollar figure at all, new server or old.
    expect(costText({ ...usage(1, 1), unpricedTokens: 1012 })).toBe("no price")
    expect(unpricedTokens(usage(1, 1))).toBe(1012)
    expect(costTitle(usage(1, 1))).toMatch(/^No price: 1,012 tokens/)
    // All priced: the cost alone.
    expect(costText(usage(1, 1, 0.5))).toBe("$0.50")
    expect(costTitle(usage(1, 1, 0.5))).toBe("$0.5")
    expect(unpricedTokens(usage(1, 1, 0.5))).toBe(0)
  })
})
