import { Registry } from "prom-client"
import { describe, expect, it } from "vitest"
import { UsageCounters } from "../src/observability/usage-counters.js"

const usage = (input: number, output: number, costUsd?: number) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  ...(costUsd === undefined ? {} : { costUsd }),
})

const value = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  const sample = (metric?.values ?? []).find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  )
  return sample?.value
}

describe("UsageCounters", () => {
  it("counts what usage grew by, once, from the figure first seen at start", async () => {
    const registry = new Registry()
    const counters = new UsageCounters(registry)
    const who = { provider: "claude", account: "work" }
    const tokens = (kind: string) =>
      value(registry, "geppetto_agent_tokens_total", { ...who, kind })
    // The history a runner brings in at start is the baseline, not news.
    counters.observe("r1", who, usage(1000, 500, 1), true)
    expect(await tokens("output")).toBeUndefined()
    counters.observe("r1", who, usage(1100, 550, 1.25), false)
    // The same figure again (a re-list after the feed slid, a push of another field): nothing.
    counters.observe("r1", who, usage(1100, 550, 1.25), false)
    counters.observe("r1", who, usage(1100, 550, 1.25), true)
    expect(await tokens("input")).toBe(100)
    expect(await tokens("output")).toBe(50)
    expect(await value(registry, "geppetto_agent_cost_usd_total", who)).toBeCloseTo(0.25, 9)
    // A runner started after the start counts from zero; an unpriced model adds no cost.
    counters.observe("r2", who, undefined, false)
    counters.observe("r2", who, usage(10, 5), false)
    expect(await tokens("output")).toBe(55)
    expect(await value(registry, "geppetto_agent_cost_usd_total", who)).toBeCloseTo(0.25, 9)
    // Removed: the counter keeps what it counted.
    counters.forget("r1")
    expect(counters.knows("r1")).toBe(false)
    expect(await tokens("input")).toBe(110)
  })
})
