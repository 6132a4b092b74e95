import { describe, expect, it } from "vitest"
import { parseAllow, parseAutoApproveDetail, patternCount, refusalOf } from "./auto-approve"

describe("the start form's auto-approve patterns", () => {
  it("takes one pattern a line, trimmed, blank lines skipped", () => {
    expect(
      parseAllow("npm (test|run lint)\n\n  git status  \nCreate file: src/.*\\.test\\.ts\n"),
    ).toEqual(["npm (test|run lint)", "git status", "Create file: src/.*\\.test\\.ts"])
    expect(parseAllow("")).toEqual([])
    expect(parseAllow(" \n \n")).toEqual([])
  })

  it("refuses what the server refuses, naming the line", () => {
    expect(parseAllow("git status\n\nnpm (test")).toMatch(
      /^line 3: Invalid regular expression: .*npm \(test/,
    )
    // Valid without the u flag, not with it (the server compiles with u).
    expect(parseAllow("\\-")).toMatch(/^line 1: Invalid regular expression/)
    expect(parseAllow(`ok\n${"a".repeat(501)}`)).toBe("line 2: at most 500 characters (it has 501)")
    expect(parseAllow(Array.from({ length: 51 }, (_, i) => `p${i}`).join("\n"))).toBe(
      "at most 50 patterns (there are 51)",
    )
    expect(parseAllow(Array.from({ length: 50 }, (_, i) => `p${i}`).join("\n"))).toHaveLength(50)
  })

  it("says which pattern the server refused", () => {
    expect(
      refusalOf(
        "body.autoApprove.allow.1: must be a valid regular expression (JavaScript, u flag)",
        "must be a valid regular expression (JavaScript, u flag)",
        ["git status", "x("],
      ),
    ).toBe("x(: must be a valid regular expression (JavaScript, u flag)")
    expect(refusalOf("body.autoApprove.allow: Too small", "Too small", [])).toBe("Too small")
  })

  it("counts patterns in words", () => {
    expect(patternCount(1)).toBe("1 pattern")
    expect(patternCount(3)).toBe("3 patterns")
  })
})

describe("runner.auto-approve audit details", () => {
  it("splits what was asked, the answer and the pattern, parentheses and all", () => {
    expect(parseAutoApproveDetail("npm test (Yes; allowed by npm (?:test|run lint))")).toEqual({
      asked: "npm test",
      label: "Yes",
      pattern: "npm (?:test|run lint)",
    })
    expect(parseAutoApproveDetail("echo (a) (b) (Yes; allowed by echo .*)")).toEqual({
      asked: "echo (a) (b)",
      label: "Yes",
      pattern: "echo .*",
    })
  })

  it("leaves any other shape alone", () => {
    expect(parseAutoApproveDetail("12 bytes")).toBeUndefined()
    expect(parseAutoApproveDetail("npm test")).toBeUndefined()
  })
})
