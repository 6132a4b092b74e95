import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { builtinRuleFiles } from "../../src/attention/builtin-rules.js"
import { evaluateScreen, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import { decodeRuleFile } from "../../src/attention/rules.js"
import * as F from "./fixtures.js"

const verdict = (provider: string, lines: ReadonlyArray<string>) =>
  Effect.map(loadRuleSet(provider), (rules) => evaluateScreen(screenOf(lines), rules))

describe("builtin screen rules", () => {
  it.effect("every builtin file decodes and compiles", () =>
    Effect.forEach(Object.entries(builtinRuleFiles), ([name, file]) =>
      Effect.map(decodeRuleFile(`builtin:${name}`, file), (decoded) => {
        expect(decoded.provider).toBe(name)
        expect(decoded.rules.length).toBeGreaterThan(0)
      }),
    ),
  )

  it.effect("claude: a permission menu is waiting even with the spinner still drawn", () =>
    Effect.gen(function* () {
      const v = yield* verdict("claude", F.claudePermission)
      expect(v).toMatchObject({
        kind: "waiting",
        reason: "permission",
        ruleId: "claude.permission",
      })
      expect(v.answers).toEqual([
        { label: "Yes", keys: "1" },
        { label: "Yes, don't ask again", keys: "2" },
        { label: "No", keys: "\u001b" },
      ])
    }),
  )

  it.effect("claude: an edit dialog with two options offers Yes / No only", () =>
    Effect.gen(function* () {
      const v = yield* verdict("claude", F.claudeEditPermission)
      expect(v).toMatchObject({ kind: "waiting", ruleId: "claude.permission-yes-no" })
      expect(v.answers?.map((a) => a.label)).toEqual(["Yes", "No"])
    }),
  )

  it.effect("claude: spinner with 'esc to interrupt' is busy, not ready", () =>
    Effect.gen(function* () {
      expect(yield* verdict("claude", F.claudeBusy)).toMatchObject({ kind: "busy" })
      // Prompt-like words from a tool's output in the transcript are not a prompt.
      expect(yield* verdict("claude", F.claudeBusyWithPromptInTranscript)).toMatchObject({
        kind: "busy",
      })
    }),
  )

  it.effect("claude: an empty prompt box is ready", () =>
    Effect.gen(function* () {
      expect(yield* verdict("claude", F.claudeReady)).toMatchObject({
        kind: "ready",
        reason: "ready",
      })
      const newLayout = F.screen(`
● Done.

────────────────────────────────────────────────────────────
> 
────────────────────────────────────────────────────────────
  ? for shortcuts
`)
      expect(yield* verdict("claude", newLayout)).toMatchObject({ kind: "ready" })
    }),
  )

  it.effect("codex: approval prompts are waiting, 'Esc to interrupt' is busy", () =>
    Effect.gen(function* () {
      expect(yield* verdict("codex", F.codexApproval)).toMatchObject({
        kind: "waiting",
        reason: "permission",
        ruleId: "codex.confirm",
      })
      expect(yield* verdict("codex", F.codexLegacyAllow)).toMatchObject({
        kind: "waiting",
        ruleId: "codex.allow",
      })
      expect(yield* verdict("codex", F.codexBusy)).toMatchObject({ kind: "busy" })
    }),
  )

  it.effect("gemini and qwen: confirmation is waiting, 'esc to cancel' busy, input box ready", () =>
    Effect.gen(function* () {
      for (const provider of ["gemini", "qwen"]) {
        expect(yield* verdict(provider, F.geminiConfirmation)).toMatchObject({
          kind: "waiting",
          reason: "permission",
          ruleId: `${provider}.confirmation`,
        })
        expect(yield* verdict(provider, F.geminiBusy)).toMatchObject({ kind: "busy" })
        expect(yield* verdict(provider, F.geminiReady)).toMatchObject({ kind: "ready" })
      }
    }),
  )

  it.effect("opencode: 'Permission required' is waiting", () =>
    Effect.map(verdict("opencode", F.opencodePermission), (v) =>
      expect(v).toMatchObject({ kind: "waiting", reason: "permission" }),
    ),
  )

  it.effect("generic rules apply to any provider, including unknown ones", () =>
    Effect.gen(function* () {
      for (const provider of ["shell", "claude", "aider"]) {
        expect(yield* verdict(provider, F.shellYesNo)).toMatchObject({
          kind: "waiting",
          reason: "question",
          ruleId: "generic.yes-no",
        })
        expect(yield* verdict(provider, F.aptContinue)).toMatchObject({ kind: "waiting" })
      }
      expect(
        yield* verdict("shell", F.screen("Setup complete.\nPress Enter to continue...")),
      ).toMatchObject({
        kind: "waiting",
        ruleId: "generic.press-enter",
      })
    }),
  )

  it.effect("no false 'waiting' on busy screens or logs that merely mention prompts", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
        ["shell", F.buildLog],
        ["claude", F.buildLog],
        ["claude", F.claudeBusy],
        ["claude", F.claudeBusyWithPromptInTranscript],
        ["claude", F.claudeReady],
        ["codex", F.codexBusy],
        ["gemini", F.geminiBusy],
        ["gemini", F.geminiReady],
        ["qwen", F.geminiBusy],
        ["opencode", F.buildLog],
      ]
      for (const [provider, lines] of cases) {
        expect((yield* verdict(provider, lines)).kind, `${provider}`).not.toBe("waiting")
      }
    }),
  )

  it.effect("a prompt scrolled above the bottom region is ignored", () =>
    Effect.gen(function* () {
      const scrolled = [...F.shellYesNo.filter((l) => l.trim() !== ""), "y", "Deploying…", "done"]
      expect((yield* verdict("shell", scrolled)).kind).toBe("unknown")
    }),
  )
})
