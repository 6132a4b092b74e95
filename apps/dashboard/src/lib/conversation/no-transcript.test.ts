import { describe, expect, it } from "vitest"
import { noTranscriptText, offersConversation, TRANSCRIPT_PROVIDERS } from "./transcript"

describe("which agents have a conversation to show", () => {
  it("offers the view for every agent, the four the server reads among them", () => {
    expect([...TRANSCRIPT_PROVIDERS].sort()).toEqual(["claude", "codex", "gemini", "qwen"])
    for (const provider of ["claude", "codex", "gemini", "qwen", "opencode", "my-agent"]) {
      expect(offersConversation(provider)).toBe(true)
    }
    expect(offersConversation("shell")).toBe(false)
  })

  it("says an agent the server does not read keeps no transcript it can read, live or not", () => {
    for (const live of [true, false]) {
      expect(noTranscriptText("opencode", "OpenCode", live)).toBe(
        "No conversation to show: OpenCode keeps no transcript we can read. Its terminal has all there is.",
      )
    }
  })

  it("says a read agent (Gemini, Qwen too) has not written its file yet, or left none", () => {
    expect(noTranscriptText("gemini", "Gemini CLI", true)).toBe(
      "No conversation yet: Gemini CLI has not written its session file.",
    )
    expect(noTranscriptText("qwen", "Qwen Code", false)).toBe(
      "No conversation to show: Qwen Code left no session file for this runner.",
    )
  })
})
