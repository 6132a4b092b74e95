import { describe, expect, it } from "vitest"
import {
  budgetShown,
  dismissBudgetNotice,
  raiseBudgetNotice,
} from "../../src/runners/budget-notice.js"
import { applyOutput, lastLineOf } from "../../src/runners/output-tally.js"
import {
  applyActivity,
  applyAttention,
  applyExit,
  metricsAt,
  newRunnerState,
  statusOf,
  toSummary,
} from "../../src/runners/runner-state.js"

const base = newRunnerState({
  id: "run-1",
  name: "one",
  provider: "claude",
  mode: "interactive",
  cwd: "/tmp",
  adopted: false,
  at: 1_000,
})

describe("runner state", () => {
  it("counts bytes by offset and lines by newline", () => {
    const s1 = applyOutput(base, 0, Buffer.from("a\nb\n"), 1_100)
    const s2 = applyOutput(s1, 4, Buffer.from("no newline"), 1_200)
    expect(s2.metrics).toMatchObject({ bytesOut: 14, lines: 2, lastActivityAt: 1_200 })
  })

  it("splits time into active and idle, counting the open segment on read", () => {
    const idle = applyActivity(base, "idle", 3_000)
    expect(idle.metrics).toMatchObject({ activeMs: 2_000, idleMs: 0 })
    expect(applyActivity(idle, "idle", 4_000)).toBe(idle)
    expect(metricsAt(idle, 3_500)).toMatchObject({ activeMs: 2_000, idleMs: 500 })
  })

  it("counts each entry into waiting once and the time spent waiting", () => {
    const waiting = applyAttention(base, { waitingForInput: true, reason: "permission" }, 2_000)
    expect(toSummary(waiting)).toMatchObject({
      status: "running",
      waitingForInput: true,
      attentionReason: "permission",
    })
    const working = applyAttention(waiting, { waitingForInput: false }, 2_600)
    expect(working.metrics).toMatchObject({ attentionCount: 1, waitingMs: 600 })
    expect(toSummary(working).attentionReason).toBeUndefined()
    const ready = applyAttention(working, { waitingForInput: true, reason: "ready" }, 3_000)
    expect(statusOf(ready)).toBe("idle")
    expect(metricsAt(ready, 3_400).waitingMs).toBe(1_000)
  })

  it("hides waiting while paused and ends waiting at exit", () => {
    const waiting = applyAttention(base, { waitingForInput: true, reason: "question" }, 2_000)
    const paused = { ...waiting, paused: true }
    expect(toSummary(paused)).toMatchObject({ status: "paused", waitingForInput: false })
    const ended = applyExit(waiting, { exitCode: 0, signal: null }, 5_000)
    expect(toSummary(ended)).toMatchObject({
      status: "completed",
      waitingForInput: false,
      exitCode: 0,
      endedAt: 5_000,
    })
    expect(ended.metrics).toMatchObject({ waitingMs: 3_000, attentionCount: 1, endedAt: 5_000 })
  })

  it.each([
    [{ exitCode: 0, signal: null }, {}, "completed", undefined],
    [{ exitCode: 2, signal: null }, {}, "failed", "exited with code 2"],
    [{ exitCode: null, signal: "SIGKILL" }, {}, "failed", "killed by SIGKILL"],
    [
      { exitCode: null, signal: "SIGINT" },
      { stopCause: "terminated" as const },
      "failed",
      "terminated: killed by SIGINT",
    ],
    [
      { exitCode: 0, signal: null },
      { stopCause: "timeout" as const, maxDurationMs: 50 },
      "failed",
      "timeout: ran longer than maxDurationMs (50 ms)",
    ],
    [
      { exitCode: null, signal: null },
      { lastError: "tmux session one vanished" },
      "failed",
      "tmux session one vanished",
    ],
    [
      { exitCode: null, signal: "SIGHUP" },
      { lastError: "tmux session one vanished (the tmux server is gone)" },
      "failed",
      "killed by SIGHUP: tmux session one vanished (the tmux server is gone)",
    ],
  ])("exit %j with %j is %s (%s)", (exit, extra, status, reason) => {
    const ended = applyExit({ ...base, ...extra }, exit, 2_000)
    expect(statusOf(ended)).toBe(status)
    expect(toSummary(ended).failureReason).toBe(reason)
  })
})

describe("lastLineOf", () => {
  it.each([
    ["plain\nlast one\n", "last one"],
    ["\x1b[1;31mred\x1b[0m text\r\n\r\n", "red text"],
    [
      "✻ Working… (1s)\r\x1b[K✢ Working… (2s · esc to interrupt)",
      "✢ Working… (2s · esc to interrupt)",
    ],
    ["\x1b]0;⠋ title\x07visible", "visible"],
    ["\x1b[2J\x1b[H", undefined],
    ["tab\there", "tab\there"],
  ])("%j → %j", (input, expected) => {
    expect(lastLineOf(Buffer.from(input))).toBe(expected)
  })

  it("keeps the previous last line when a chunk has no text, and shows it in the summary", () => {
    const s1 = applyOutput(base, 0, Buffer.from("building…\n"), 1_100)
    const s2 = applyOutput(s1, 10, Buffer.from("\x1b[?25l"), 1_200)
    expect(toSummary(s2).lastLine).toBe("building…")
  })

  it("shows a budget notice as attention `budget`: over a ready agent, under a prompt, once per crossing", () => {
    const key = "provider claude, per day, max $5@0"
    const raised = raiseBudgetNotice(base, [key], "budget spent: provider claude", 2_000)
    const notice = toSummary(raised)
    expect(notice).toMatchObject({
      waitingForInput: true,
      attentionReason: "budget",
      attentionDetail: "budget spent: provider claude",
      status: "running",
    })
    expect(notice.attentionId).toMatch(/^budget-/)
    // Raised once: the same crossing again changes nothing, even once dismissed.
    expect(raiseBudgetNotice(raised, [key], "again", 3_000)).toBe(raised)
    expect(
      raiseBudgetNotice(dismissBudgetNotice(raised), [key], "again", 3_000).budgetNotice,
    ).toBeUndefined()
    // Back at its prompt the agent is idle, and the notice stays in view.
    const ready = applyAttention(raised, { waitingForInput: true, reason: "ready" }, 2_500)
    expect(toSummary(ready)).toMatchObject({ status: "idle", attentionReason: "budget" })
    // A prompt that asks something comes first (its answers too); the notice is back after it.
    const asked = applyAttention(raised, { waitingForInput: true, reason: "permission" }, 2_500)
    expect(toSummary(asked)).toMatchObject({ attentionReason: "permission", attentionId: "a1" })
    expect(budgetShown(asked)).toBeUndefined()
    const answered = applyAttention(asked, { waitingForInput: false }, 2_600)
    expect(toSummary(answered).attentionId).toBe(notice.attentionId)
    // Paused or ended: not shown; an ended runner drops it.
    expect(toSummary({ ...raised, paused: true }).waitingForInput).toBe(false)
    const ended = applyExit(raised, { exitCode: 0, signal: null }, 4_000)
    expect(ended.budgetNotice).toBeUndefined()
    expect(toSummary(ended).attentionReason).toBeUndefined()
    expect(raiseBudgetNotice(ended, ["another"], "x", 5_000)).toBe(ended)
  })
})
