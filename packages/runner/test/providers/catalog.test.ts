import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeProviderCatalog } from "../../src/providers/catalog.js"
import { fixture } from "../harness.js"

describe("provider catalog", () => {
  it.effect("lists every provider, installed ones with their version", () =>
    Effect.gen(function* () {
      const catalog = makeProviderCatalog({ PATH: `${fixture("fake-bin")}:/usr/bin:/bin` })
      const list = yield* catalog.list
      expect(list.map((p) => p.id)).toEqual([
        "claude",
        "codex",
        "gemini",
        "opencode",
        "qwen",
        "cursor-agent",
        "aider",
        "shell",
      ])
      expect(list.find((p) => p.id === "claude")).toEqual({
        id: "claude",
        name: "Claude Code",
        installed: true,
        modes: ["interactive", "oneshot"],
        version: "9.9.9 (Fake Code)",
        resumes: { fork: true },
      })
      expect(list.find((p) => p.id === "shell")?.installed).toBe(true)
      // Only providers that resume say so (the dashboard's Continue and Fork follow it).
      expect(list.find((p) => p.id === "codex")?.resumes).toEqual({ fork: false })
      expect(list.find((p) => p.id === "shell")?.resumes).toBeUndefined()
      // Cached: the same array for a minute.
      expect(yield* catalog.list).toBe(list)
    }),
  )
})
