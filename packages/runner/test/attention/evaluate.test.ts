import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { evaluateScreen, screenOf, trimTrailingBlank } from "../../src/attention/evaluate.js"
import {
  type CompiledScreenRule,
  compileRules,
  decodeRuleFile,
  exampleTitleBusyRule,
  type ScreenRule,
  TITLE_SPINNER_PATTERN,
} from "../../src/attention/rules.js"
import { screen } from "./fixtures.js"

const rule = (over: Partial<ScreenRule> & Pick<ScreenRule, "id" | "kind" | "all">): ScreenRule => ({
  priority: 0,
  region: { from: "bottom", lines: 5 },
  ...over,
})

const compile = (rules: ReadonlyArray<ScreenRule>): ReadonlyArray<CompiledScreenRule> =>
  Effect.runSync(compileRules(rules))

describe("evaluateScreen", () => {
  it("is unknown when nothing matches", () => {
    const rules = compile([rule({ id: "a", kind: "busy", all: ["spinner"] })])
    expect(evaluateScreen(screenOf(["hello", "world"]), rules)).toEqual({ kind: "unknown" })
    expect(evaluateScreen(screenOf([]), rules)).toEqual({ kind: "unknown" })
  })

  it("needs every `all` pattern, each on any line of the region, and no `none` pattern", () => {
    const rules = compile([
      rule({ id: "menu", kind: "waiting", reason: "permission", all: ["^Proceed\\?", "^❯ 1\\."] }),
    ])
    expect(evaluateScreen(screenOf(["Proceed?", "❯ 1. Yes", "  2. No"]), rules)).toMatchObject({
      kind: "waiting",
      reason: "permission",
      ruleId: "menu",
    })
    expect(evaluateScreen(screenOf(["Proceed?", "  2. No"]), rules).kind).toBe("unknown")

    const guarded = compile([rule({ id: "ready", kind: "ready", all: ["^> $"], none: ["busy"] })])
    expect(evaluateScreen(screenOf(["> "]), guarded).kind).toBe("ready")
    expect(evaluateScreen(screenOf(["busy…", "> "]), guarded).kind).toBe("unknown")
  })

  it("ignores trailing blank rows before taking the bottom region", () => {
    const rules = compile([
      rule({ id: "q", kind: "waiting", all: ["\\[y/N\\]"], region: { from: "bottom", lines: 1 } }),
    ])
    const lines = screen(`
Continue? [y/N]
   
   

`)
    expect(trimTrailingBlank(lines)).toEqual(["Continue? [y/N]"])
    expect(evaluateScreen(screenOf(lines), rules).kind).toBe("waiting")
  })

  it("matches only inside the declared region (bottom or top)", () => {
    const bottom = compile([
      rule({ id: "q", kind: "waiting", all: ["\\[y/N\\]"], region: { from: "bottom", lines: 2 } }),
    ])
    expect(evaluateScreen(screenOf(["Continue? [y/N]", "log 1", "log 2"]), bottom).kind).toBe(
      "unknown",
    )
    expect(evaluateScreen(screenOf(["log 0", "Continue? [y/N]", "log 1"]), bottom).kind).toBe(
      "waiting",
    )

    const top = compile([
      rule({ id: "t", kind: "ready", all: ["^Welcome"], region: { from: "top", lines: 1 } }),
    ])
    expect(evaluateScreen(screenOf(["Welcome", "x"]), top).kind).toBe("ready")
    expect(evaluateScreen(screenOf(["x", "Welcome"]), top).kind).toBe("unknown")
  })

  it("picks the highest priority, then waiting > ready > busy on a tie", () => {
    const lines = ["esc to interrupt", "Do you want to proceed?", "> "]
    const tied = compile([
      rule({ id: "busy", kind: "busy", all: ["esc to interrupt"] }),
      rule({ id: "ready", kind: "ready", all: ["^> $"] }),
      rule({ id: "wait", kind: "waiting", all: ["proceed\\?"] }),
    ])
    expect(evaluateScreen(screenOf(lines), tied).ruleId).toBe("wait")
    expect(evaluateScreen(screenOf(lines.slice(0, 1).concat("> ")), tied).ruleId).toBe("ready")

    const ranked = compile([
      rule({ id: "wait", kind: "waiting", all: ["proceed\\?"], priority: 1 }),
      rule({ id: "busy", kind: "busy", all: ["esc to interrupt"], priority: 5 }),
    ])
    expect(evaluateScreen(screenOf(lines), ranked).ruleId).toBe("busy")
  })

  it("returns the quick answers of the winning rule", () => {
    const answers = [
      { label: "Yes", keys: "1" },
      { label: "No", keys: "\u001b" },
    ]
    const rules = compile([rule({ id: "menu", kind: "waiting", all: ["❯ 1\\."], answers })])
    expect(evaluateScreen(screenOf(["❯ 1. Yes"]), rules).answers).toEqual(answers)
  })

  it("a title rule looks at the title only, never at the rows", () => {
    const rules = compile([
      rule({ id: "t", kind: "busy", all: ["^working$"], region: { from: "title" } }),
    ])
    expect(evaluateScreen(screenOf(["prompt"], "working"), rules).ruleId).toBe("t")
    expect(evaluateScreen(screenOf(["working"], "bash"), rules).kind).toBe("unknown")
    expect(evaluateScreen(screenOf(["working"]), rules).kind).toBe("unknown")
  })

  it("a title spinner is busy; a prompt rule still wins on priority", () => {
    const rules = compile([
      rule({
        id: "spinner",
        kind: "busy",
        all: [TITLE_SPINNER_PATTERN],
        priority: 50,
        region: { from: "title" },
      }),
      rule({ id: "ask", kind: "waiting", all: ["Allow\\?"], priority: 100 }),
      rule({ id: "ready", kind: "ready", all: ["^> $"], priority: 20 }),
    ])
    for (const title of ["⠋ Claude Code", "⠐ fix the tests", "◐ refactor", "  ⠏ x"]) {
      expect(evaluateScreen(screenOf(["> "], title), rules).ruleId, title).toBe("spinner")
    }
    // Claude Code's idle glyph, a plain title and blank braille padding are not spinners.
    for (const title of ["✳ fix the tests", "Claude Code", "\u2800 idle", "", "host.local"]) {
      expect(evaluateScreen(screenOf(["> "], title), rules).ruleId, title).toBe("ready")
    }
    expect(evaluateScreen(screenOf(["Allow?", "> "], "⠙ busy"), rules).ruleId).toBe("ask")
  })

  it("the example title rule decodes, compiles and matches a spinner title", () =>
    Effect.runSync(
      Effect.gen(function* () {
        const file = yield* decodeRuleFile("example", {
          provider: "x",
          rules: [exampleTitleBusyRule],
        })
        const rules = yield* compileRules(file.rules)
        expect(evaluateScreen(screenOf([], "⠹ Thinking"), rules)).toMatchObject({
          kind: "busy",
          ruleId: exampleTitleBusyRule.id,
        })
      }),
    ))

  it("a rule file may use the title region; a row region still needs its line count", () =>
    Effect.runSync(
      Effect.gen(function* () {
        const base = { id: "r", kind: "busy", priority: 1, all: ["x"] }
        const title = yield* decodeRuleFile("inline", {
          provider: "p",
          rules: [{ ...base, region: { from: "title" } }],
        })
        expect(title.rules[0]?.region).toEqual({ from: "title" })
        const noLines = yield* Effect.either(
          decodeRuleFile("inline", {
            provider: "p",
            rules: [{ ...base, region: { from: "bottom" } }],
          }),
        )
        expect(Either.isLeft(noLines) && noLines.left.ruleId).toBe("r")
      }),
    ))
})
