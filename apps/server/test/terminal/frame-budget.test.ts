import { describe, expect, it } from "vitest"
import { FrameBudget } from "../../src/terminal/frame-budget.js"

describe("FrameBudget", () => {
  it("refuses frames past the byte bound, newest first, and reports the overflow once", () => {
    const budget = new FrameBudget(1024, 3 * 1024 * 1024)
    const mib = 1024 * 1024
    expect(budget.admit(mib)).toEqual({ admitted: true, overflowed: false })
    expect(budget.admit(mib)).toEqual({ admitted: true, overflowed: false })
    expect(budget.admit(mib)).toEqual({ admitted: true, overflowed: false })
    expect(budget.admit(1)).toEqual({ admitted: false, overflowed: true })
    expect(budget.admit(mib)).toEqual({ admitted: false, overflowed: false })
    expect(budget.queuedBytes).toBe(3 * mib)
    budget.release(mib)
    // Room again for what fits, but the burst is not over until everything queued is handled.
    expect(budget.admit(mib)).toEqual({ admitted: true, overflowed: false })
    expect(budget.admit(mib)).toEqual({ admitted: false, overflowed: false })
    for (let i = 0; i < 3; i++) budget.release(mib)
    expect(budget.queuedBytes).toBe(0)
    expect(budget.admit(4 * mib)).toEqual({ admitted: false, overflowed: true })
  })

  it("refuses frames past the count bound however small", () => {
    const budget = new FrameBudget(2, 1024)
    expect(budget.admit(1).admitted).toBe(true)
    expect(budget.admit(1).admitted).toBe(true)
    expect(budget.admit(0)).toEqual({ admitted: false, overflowed: true })
    budget.release(1)
    expect(budget.admit(1).admitted).toBe(true)
  })
})
