import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { evaluateScreen, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"

// Titles as recorded from the real CLIs (see screens/index.json): codex 0.169, gemini 0.61.
const body = ["some output the screen rules do not know", ""]

describe("builtin title rules", () => {
  it.effect("'Action Required' in the title is a permission wait for codex and gemini", () =>
    Effect.gen(function* () {
      const codex = yield* loadRuleSet("codex")
      expect(
        evaluateScreen(screenOf(body, "[ . ] Action Required | project"), codex),
      ).toMatchObject({
        kind: "waiting",
        reason: "permission",
        ruleId: "codex.title-action-required",
      })
      const gemini = yield* loadRuleSet("gemini")
      expect(evaluateScreen(screenOf(body, "✋  Action Required (project)"), gemini)).toMatchObject(
        { kind: "waiting", reason: "permission" },
      )
      // Not for other providers: a shell title is the user's own business.
      const shell = yield* loadRuleSet("shell")
      expect(evaluateScreen(screenOf(body, "Action Required"), shell).kind).toBe("unknown")
    }),
  )

  it.effect("a spinner glyph leading the title is busy, above a stale [y/N] on screen", () =>
    Effect.gen(function* () {
      const rules = yield* loadRuleSet("shell")
      expect(evaluateScreen(screenOf(body, "⠸ project"), rules)).toMatchObject({
        kind: "busy",
        ruleId: "generic.title-spinner",
      })
      const stale = screenOf(["Continue? [y/N] y", "Continue? [y/N] "], "◐ working")
      expect(evaluateScreen(stale, rules).kind).toBe("busy")
      expect(evaluateScreen(screenOf(stale.lines, "project"), rules).kind).toBe("waiting")
      // Claude Code's idle glyph is not a spinner.
      expect(evaluateScreen(screenOf(body, "✳ Claude Code"), rules).kind).toBe("unknown")
    }),
  )
})
