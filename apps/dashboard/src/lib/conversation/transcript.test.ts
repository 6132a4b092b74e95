import type { TranscriptEntry } from "@geppetto/protocol"
import { describe, expect, it } from "vitest"
import { conversationItems, lineCount, mergeEntries, searchNeedle } from "./transcript"

const e = (seq: number, kind: TranscriptEntry["kind"], more: Partial<TranscriptEntry> = {}) =>
  ({ seq, kind, ...more }) as TranscriptEntry

describe("conversationItems", () => {
  it("draws each result under its call, a result whose call is not loaded on its own", () => {
    const entries = [
      e(3, "tool-result", { callId: "t0", text: "older" }),
      e(4, "assistant", { text: "hi" }),
      e(5, "tool-call", { callId: "t1", tool: "Bash" }),
      e(6, "tool-call", { callId: "t2", tool: "Read" }),
      e(7, "tool-result", { callId: "t1", text: "1 failed", isError: true }),
    ]
    expect(
      conversationItems(entries).map((i) =>
        i.kind === "tool" ? ["tool", i.call.seq, i.result?.seq] : [i.kind, i.entry.seq],
      ),
    ).toEqual([
      ["result", 3],
      ["message", 4],
      ["tool", 5, 7],
      ["tool", 6, undefined],
    ])
  })
})

describe("mergeEntries", () => {
  it("joins an earlier page and a live page in order, each entry once", () => {
    const merged = mergeEntries(
      [e(2, "user"), e(3, "assistant", { text: "old" })],
      [e(0, "user"), e(1, "assistant"), e(3, "assistant", { text: "new" }), e(4, "user")],
    )
    expect(merged.map((x) => x.seq)).toEqual([0, 1, 2, 3, 4])
    expect(merged[3]?.text).toBe("new")
  })
})

describe("searchNeedle", () => {
  it("takes a command's first line, cut to what a terminal shows on one line", () => {
    expect(searchNeedle({ command: "npm test" })).toBe("npm test")
    expect(searchNeedle({ command: "\n  cd app\n  make all" })).toBe("cd app")
    expect(searchNeedle({ command: "x".repeat(300) })).toBe("x".repeat(60))
    expect(searchNeedle({ command: "echo \u0007bell\u001b[0m" })).toBe("echo bell[0m")
  })

  it("reads Codex's argv and Claude's paths (relative to the runner's folder)", () => {
    expect(searchNeedle({ command: ["bash", "-lc", "cargo build"] })).toBe("cargo build")
    expect(searchNeedle({ command: ["ls", "-la"] })).toBe("ls -la")
    expect(searchNeedle({ file_path: "/work/app/src/main.ts" }, "/work/app")).toBe("src/main.ts")
    expect(searchNeedle({ pattern: "TODO" })).toBe("TODO")
  })

  it("finds nothing in an input that names nothing searchable", () => {
    expect(searchNeedle(undefined)).toBeUndefined()
    expect(searchNeedle({ todos: [{ content: "x" }] })).toBeUndefined()
    expect(searchNeedle({ command: "a" })).toBeUndefined()
    expect(searchNeedle({ command: "\u0001\u0002" })).toBeUndefined()
  })

  it("counts lines", () => {
    expect(lineCount("")).toBe("0 lines")
    expect(lineCount("one\n")).toBe("1 line")
    expect(lineCount("a\nb\nc")).toBe("3 lines")
  })
})
