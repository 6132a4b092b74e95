import type { RunnerStatus } from "@geppetto/protocol"
import { describe, expect, it } from "vitest"
import { announcement, isBudgetNotice, newlyWaiting, statusView } from "./status"

const runner = (
  status: RunnerStatus,
  attentionReason?: string,
  attentionDetail?: string,
): {
  name: string
  provider: string
  status: RunnerStatus
  waitingForInput: boolean
  attentionReason?: string
  attentionDetail?: string
} => ({
  name: "spender",
  provider: "claude",
  status,
  waitingForInput: attentionReason !== undefined,
  ...(attentionReason !== undefined ? { attentionReason } : {}),
  ...(attentionDetail !== undefined ? { attentionDetail } : {}),
})

const DETAIL = "budget spent: provider claude, per day, max $0.002 ($0.00 spent this day)"

describe("a budget notice", () => {
  it("reads 'Over budget' in a tone of its own, not as a waiting prompt", () => {
    expect(statusView(runner("running", "budget", DETAIL))).toEqual({
      tone: "budget",
      word: "Over budget",
      reason: undefined,
    })
    expect(statusView(runner("idle", "budget", DETAIL)).tone).toBe("budget")
    expect(isBudgetNotice(runner("running", "budget"))).toBe(true)
  })

  it("is no notice once the runner ended or without the reason; prompts stay prompts", () => {
    expect(isBudgetNotice(runner("completed", "budget"))).toBe(false)
    expect(statusView(runner("completed", "budget")).tone).toBe("completed")
    expect(isBudgetNotice({ ...runner("running", "budget"), waitingForInput: false })).toBe(false)
    expect(isBudgetNotice(runner("running", "permission"))).toBe(false)
    expect(statusView(runner("running", "permission"))).toEqual({
      tone: "waiting",
      word: "Waiting",
      reason: "permission",
    })
    expect(statusView(runner("running", "ready")).reason).toBe("ready for a prompt")
  })

  it("is announced as over budget with the budget's text, as text", () => {
    expect(announcement(runner("running", "budget", DETAIL))).toEqual({
      title: "spender is over budget",
      body: `${DETAIL}. It keeps running · claude`,
    })
    // Whatever the text holds stays a string: a notification body is never markup.
    const odd = "budget spent: account <b>x</b>"
    expect(announcement(runner("running", "budget", odd)).body).toBe(
      "budget spent: account <b>x</b>. It keeps running · claude",
    )
    expect(announcement(runner("running", "budget")).body).toBe(
      "A budget is spent. It keeps running · claude",
    )
  })

  it("leaves a prompt's announcement as it was", () => {
    expect(announcement(runner("running", "question"))).toEqual({
      title: "spender is waiting for you",
      body: "question · claude",
    })
    expect(announcement(runner("running", "permission", "npm test")).body).toBe(
      "permission · claude",
    )
  })
})

describe("newlyWaiting", () => {
  const at = (
    status: RunnerStatus,
    waitingForInput: boolean,
    attentionId?: string,
  ): { status: RunnerStatus; waitingForInput: boolean; attentionId?: string } => ({
    status,
    waitingForInput,
    ...(attentionId !== undefined ? { attentionId } : {}),
  })

  it("is true into waiting, and for a runner first seen waiting", () => {
    expect(newlyWaiting(at("running", false), at("running", true, "a1"))).toBe(true)
    expect(newlyWaiting(undefined, at("running", true, "a1"))).toBe(true)
  })

  it("is true from one prompt straight to another (a budget notice, then a permission prompt)", () => {
    expect(newlyWaiting(at("running", true, "budget-1"), at("running", true, "perm-2"))).toBe(true)
  })

  it("is false for the same prompt again, out of waiting, or for an ended runner", () => {
    expect(newlyWaiting(at("running", true, "a1"), at("running", true, "a1"))).toBe(false)
    expect(newlyWaiting(at("running", true, "a1"), at("running", false))).toBe(false)
    expect(newlyWaiting(at("running", false), at("completed", true, "a1"))).toBe(false)
    // No id to tell prompts apart: only the step into waiting counts.
    expect(newlyWaiting(at("running", true), at("running", true))).toBe(false)
  })
})
