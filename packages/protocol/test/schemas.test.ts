import { describe, expect, it } from "vitest"
import { ProcessEvent, RunnerId, RunnerSummary, SessionName } from "../src/index.js"

describe("ids", () => {
  it("accepts URL- and path-safe ids and refuses everything else", () => {
    for (const ok of ["run-1", "a", "A_b.c-d", "x".repeat(64)])
      expect(RunnerId.safeParse(ok).success).toBe(true)
    for (const bad of [
      "",
      "-flag",
      ".hidden",
      "..",
      "a/b",
      "a b",
      "a;b",
      "#{x}",
      "x".repeat(65),
      "é",
    ]) {
      expect(RunnerId.safeParse(bad).success, bad).toBe(false)
    }
    // tmux rewrites '.' and ':' in session names, so ours never hold them.
    expect(SessionName.safeParse("a.b").success).toBe(false)
    expect(SessionName.safeParse("a_b-c").success).toBe(true)
  })
})

describe("ProcessEvent", () => {
  it("parses each event type and refuses unknown ones", () => {
    const events = [
      { type: "output", timestamp: 1, source: "pty", offset: 0, data: "aGk=" },
      { type: "activity", timestamp: 1, state: "idle" },
      { type: "exit", timestamp: 1, exitCode: 3, signal: null },
      { type: "exit", timestamp: 1, exitCode: null, signal: "SIGKILL" },
      { type: "error", timestamp: 1, error: { code: "TmuxSessionError", message: "gone" } },
      { type: "attention", timestamp: 1, waitingForInput: true, reason: "permission" },
      { type: "status", timestamp: 1, status: "completed" },
    ]
    for (const e of events) expect(ProcessEvent.parse(e)).toEqual(e)
    expect(
      ProcessEvent.safeParse({ type: "output", timestamp: 1, source: "pty", offset: -1, data: "" })
        .success,
    ).toBe(false)
    expect(ProcessEvent.safeParse({ type: "nope", timestamp: 1 }).success).toBe(false)
  })
})

describe("RunnerSummary", () => {
  it("requires the contract's fields", () => {
    const summary = {
      id: "run-1",
      name: "build",
      provider: "shell",
      mode: "oneshot",
      status: "running",
      activity: "active",
      waitingForInput: false,
      cwd: "/tmp",
      createdAt: 1,
      bytesOut: 0,
    }
    expect(RunnerSummary.parse(summary)).toEqual(summary)
    expect(RunnerSummary.safeParse({ ...summary, status: "weird" }).success).toBe(false)
  })
})
