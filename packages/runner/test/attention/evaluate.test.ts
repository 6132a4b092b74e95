import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { evaluateScreen, trimTrailingBlank } from "../../src/attention/evaluate.js"
import {
  type CompiledScreenRule,
  compileRules,
  type ScreenRule,
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
    expect(evaluateScreen(["hello", "world"], rules)).toEqual({ kind: "unknown" })
    expect(evaluateScreen([], rules)).toEqual({ kind: "unknown" })
  })

  it("needs every `all` pattern, each on any line of the region, and no `none` pattern", () => {
    const rules = compile([
      rule({ id: "menu", kind: "waiting", reason: "permission", all: ["^Proceed\\?", "^❯ 1\\."] }),
    ])
    expect(evaluateScreen(["Proceed?", "❯ 1. Yes", "  2. No"], rules)).toMatchObject({
      kind: "waiting",
      reason: "permission",
      ruleId: "menu",
    })
    expect(evaluateScreen(["Proceed?", "  2. No"], rules).kind).toBe("unknown")

    const guarded = compile([rule({ id: "ready", kind: "ready", all: ["^> $"], none: ["busy"] })])
    expect(evaluateScreen(["> "], guarded).kind).toBe("ready")
    expect(evaluateScreen(["busy…", "> "], guarded).kind).toBe("unknown")
  })

  it("ignores trailing blank rows before taking the bottom region", () => {
    const rules = compile([
      rule({ id: "q", kind: "waiting", all: ["\\[y/N\\]"], region: { from: "bottom", lines: 1 } }),
    ])
    const lines = screen(`
Continue? [y/N]
   
   

`)
    expect(trimTrailingBlank(lines)).toEqual(["Continue? [y/N]"])
    expect(evaluateScreen(lines, rules).kind).toBe("waiting")
  })

  it("matches only inside the declared region (bottom or top)", () => {
    const bottom = compile([
      rule({ id: "q", kind: "waiting", all: ["\\[y/N\\]"], region: { from: "bottom", lines: 2 } }),
    ])
    expect(evaluateScreen(["Continue? [y/N]", "log 1", "log 2"], bottom).kind).toBe("unknown")
    expect(evaluateScreen(["log 0", "Continue? [y/N]", "log 1"], bottom).kind).toBe("waiting")

    const top = compile([
      rule({ id: "t", kind: "ready", all: ["^Welcome"], region: { from: "top", lines: 1 } }),
    ])
    expect(evaluateScreen(["Welcome", "x"], top).kind).toBe("ready")
    expect(evaluateScreen(["x", "Welcome"], top).kind).toBe("unknown")
  })

  it("picks the highest priority, then waiting > ready > busy on a tie", () => {
    const lines = ["esc to interrupt", "Do you want to proceed?", "> "]
    const tied = compile([
      rule({ id: "busy", kind: "busy", all: ["esc to interrupt"] }),
      rule({ id: "ready", kind: "ready", all: ["^> $"] }),
      rule({ id: "wait", kind: "waiting", all: ["proceed\\?"] }),
    ])
    expect(evaluateScreen(lines, tied).ruleId).toBe("wait")
    expect(evaluateScreen(lines.slice(0, 1).concat("> "), tied).ruleId).toBe("ready")

    const ranked = compile([
      rule({ id: "wait", kind: "waiting", all: ["proceed\\?"], priority: 1 }),
      rule({ id: "busy", kind: "busy", all: ["esc to interrupt"], priority: 5 }),
    ])
    expect(evaluateScreen(lines, ranked).ruleId).toBe("busy")
  })

  it("returns the quick answers of the winning rule", () => {
    const answers = [
      { label: "Yes", keys: "1" },
      { label: "No", keys: "\u001b" },
    ]
    const rules = compile([rule({ id: "menu", kind: "waiting", all: ["❯ 1\\."], answers })])
    expect(evaluateScreen(["❯ 1. Yes"], rules).answers).toEqual(answers)
  })
})
