import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { cleanDetail, evaluateScreen, type Screen } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import {
  type AttentionState,
  candidateOf,
  defaultAttentionSettings,
  initialAttention,
  onAttentionSample,
} from "../../src/attention/signals.js"
import { decideAutoApprove, matchesWhole } from "../../src/runners/auto-approve.js"
import {
  applyAttention,
  attentionOf,
  newRunnerState,
  type RunnerState,
} from "../../src/runners/runner-state.js"

/*
 * "Never a wrong key": the auto-approve decision table, and the negative cases of the issue
 * on the recorded real screens and screens made from them. Each case that must not answer
 * is checked at the step that refuses it (no permission verdict, no detail, no match, no
 * agreement between captures) and then through `decideAutoApprove` as a whole.
 */

const real = (file: string): ReadonlyArray<string> =>
  readFileSync(new URL(`./screens/${file}`, import.meta.url), "utf8").split("\n")

const verdictOn = (provider: string, lines: ReadonlyArray<string>, title = "") =>
  Effect.map(loadRuleSet(provider, undefined), (rules) =>
    evaluateScreen({ lines, title } satisfies Screen, rules),
  )

/** A live runner with `allow`, after the detector published what `lines` shows. */
const waitingOn = (
  provider: string,
  lines: ReadonlyArray<string>,
  allow: ReadonlyArray<string> | undefined,
) =>
  Effect.map(verdictOn(provider, lines), (verdict): RunnerState => {
    const base = newRunnerState({
      id: "run-1",
      name: "r",
      provider,
      mode: "interactive",
      cwd: "/tmp",
      adopted: false,
      at: 0,
      autoApprove: allow === undefined ? undefined : { allow },
    })
    const candidate = candidateOf(verdict, false)
    return candidate === undefined ? base : applyAttention(base, candidate, 1)
  })

describe("what a permission dialog asks for", () => {
  it.effect("is read from each provider's recorded dialog, and is absent elsewhere", () =>
    Effect.gen(function* () {
      const claude = yield* verdictOn("claude", real("claude-permission-bash.txt"))
      expect(claude).toMatchObject({
        reason: "permission",
        detail: "rm -rf build",
        yes: { label: "Yes", keys: "1" },
      })
      const ready = yield* verdictOn("claude", real("claude-ready-after-tool.txt"))
      expect(ready.detail).toBeUndefined()
    }),
  )

  it("is cleaned of box borders but never of an ASCII pipe, and kept whole or not at all", () => {
    expect(cleanDetail("│ │ ls | wc -l        │ │\n")).toBe("ls | wc -l")
    expect(cleanDetail("\n   npm test   \n\n")).toBe("npm test")
    expect(cleanDetail("npm run build &&\n  npm test")).toBe("npm run build &&\nnpm test")
    expect(cleanDetail("  \n  ")).toBeUndefined()
    expect(cleanDetail("x".repeat(2001))).toBeUndefined()
  })
})

describe("matchesWhole", () => {
  it("matches the whole detail only, one row, with the pattern's alternatives grouped", () => {
    expect(matchesWhole("npm test", "npm test")).toBe(true)
    expect(matchesWhole("npm test", "npm test; rm -rf /")).toBe(false)
    expect(matchesWhole("npm test", "xnpm test")).toBe(false)
    // `a|b` must not become `^a|b$`, which would match anything ending in b.
    expect(matchesWhole("npm test|npm run lint", "rm -rf / ; npm run lint")).toBe(false)
    expect(matchesWhole("npm test|npm run lint", "npm run lint")).toBe(true)
    // A detail of two rows is never matched by a one-row pattern.
    expect(matchesWhole("npm .*", "npm test\nrm -rf /")).toBe(false)
    expect(matchesWhole("(", "(")).toBe(false)
  })
})

describe("decideAutoApprove", () => {
  it.effect("answers an allowed permission dialog with its rule's yes, once", () =>
    Effect.gen(function* () {
      const s = yield* waitingOn("claude", real("claude-permission-bash.txt"), ["rm -rf build"])
      const decision = decideAutoApprove(s)
      expect(decision).toEqual({
        approve: true,
        attentionId: s.attentionId,
        answer: { label: "Yes", keys: "1" },
        detail: "rm -rf build",
        pattern: "rm -rf build",
      })
      const answered = { ...s, autoAnsweredId: s.attentionId ?? "" }
      expect(decideAutoApprove(answered)).toMatchObject({
        approve: false,
        why: expect.stringMatching(/answered already/),
      })
    }),
  )

  it.effect("leaves every other case to a person", () =>
    Effect.gen(function* () {
      const bash = real("claude-permission-bash.txt")
      const why = (s: RunnerState) => {
        const d = decideAutoApprove(s)
        expect(d.approve).toBe(false)
        return d.approve ? "" : d.why
      }
      // Off; not allowed; paused; ended.
      expect(why(yield* waitingOn("claude", bash, undefined))).toMatch(/off/)
      expect(why(yield* waitingOn("claude", bash, ["npm test", "rm -rf buil"]))).toMatch(
        /no allow pattern/,
      )
      const allowed = yield* waitingOn("claude", bash, ["rm -rf build"])
      expect(why({ ...allowed, paused: true })).toMatch(/not running/)
      expect(why({ ...allowed, live: false })).toMatch(/not running/)

      // A numbered list in ordinary output is no dialog at all.
      const list = [
        "● Here is the plan:",
        "  1. Yes, remove the build directory",
        "  2. Yes, and run the tests",
        "  3. No",
        "",
        "❯ 1. Yes",
        "Do you want to proceed?",
      ]
      expect(why(yield* waitingOn("claude", list, [".*"]))).not.toBe("")
      expect((yield* verdictOn("claude", list)).detail).toBeUndefined()

      // The dialog scrolled half off the screen: the menu is up, what it asks for is not.
      const start = bash.findIndex((l) => l.includes("Bash command"))
      const halfOff = bash.slice(start + 3)
      const v = yield* verdictOn("claude", halfOff)
      expect(v.reason).toBe("permission")
      expect(v.detail).toBeUndefined()
      expect(why(yield* waitingOn("claude", halfOff, [".*"]))).toMatch(/could not be read/)

      // A [y/N] question is a question, not a permission dialog.
      const yn = ["Overwrite build/out.txt? [y/N] "]
      expect(why(yield* waitingOn("shell", yn, [".*"]))).toMatch(/question/)

      // A permission dialog whose rule declares no yes answer (OpenCode: the answer is Enter on
      // whichever option is selected, which a capture cannot see).
      const opencode = yield* waitingOn("opencode", real("opencode-permission-bash.txt"), [".*"])
      expect(opencode.attentionDetail).toBe("rm -rf build")
      expect(why(opencode)).toMatch(/no yes answer/)
    }),
  )
})

describe("two captures must agree on the prompt", () => {
  it.effect("a prompt that changes between the two captures is not published", () =>
    Effect.gen(function* () {
      const bash = real("claude-permission-bash.txt")
      const other = bash.map((l) => l.replace("rm -rf build", "rm -rf /home"))
      const first = yield* verdictOn("claude", bash)
      const second = yield* verdictOn("claude", other)
      expect(second.detail).toBe("rm -rf /home")
      const s = defaultAttentionSettings
      let model = initialAttention(0, s)
      const sampled = onAttentionSample(model, s.debounceMs, first, s)
      expect(sampled.changed).toBeUndefined()
      model = sampled.model
      const confirmed = onAttentionSample(model, s.debounceMs + s.confirmMs, second, s)
      // Not published: the pair starts again on the new dialog.
      expect(confirmed.changed).toBeUndefined()
      expect(confirmed.model.pending?.kind).toBe("confirm")
      const again = onAttentionSample(confirmed.model, s.debounceMs + 2 * s.confirmMs, second, s)
      expect(again.changed).toMatchObject({ detail: "rm -rf /home" })
    }),
  )

  it.effect("another dialog of the same rule while waiting is a new prompt with a new id", () =>
    Effect.gen(function* () {
      const bash = real("claude-permission-bash.txt")
      const first = yield* waitingOn("claude", bash, ["rm -rf build"])
      const next = candidateOf(
        yield* verdictOn(
          "claude",
          bash.map((l) => l.replace("rm -rf build", "rm -rf dist")),
        ),
        false,
      ) as AttentionState
      const after = applyAttention(first, next, 2)
      expect(after.attentionId).not.toBe(first.attentionId)
      expect(attentionOf(after).detail).toBe("rm -rf dist")
      expect(decideAutoApprove(after)).toMatchObject({ approve: false })
    }),
  )
})
