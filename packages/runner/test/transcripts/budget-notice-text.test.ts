import { describe, expect, it } from "@effect/vitest"
import { budgetNoticeDetail, formatUsd } from "../../src/transcripts/budgets.js"

describe("budget notice text", () => {
  it("shows cents, and four significant digits below a cent", () => {
    expect(formatUsd(0)).toBe("0.00")
    expect(formatUsd(12.345)).toBe("12.35")
    expect(formatUsd(0.01)).toBe("0.01")
    expect(formatUsd(0.0021)).toBe("0.0021")
    expect(formatUsd(0.00123456)).toBe("0.001235")
  })

  it("says what was spent of a small budget, not $0.00", () => {
    const text = budgetNoticeDetail({ period: "day", maxUsd: 0.002 }, 0.0024)
    expect(text).toBe("budget spent: all providers, per day, max $0.002 ($0.0024 spent this day)")
  })
})
