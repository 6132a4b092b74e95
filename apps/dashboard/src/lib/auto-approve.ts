import { MAX_AUTO_APPROVE_PATTERNS } from "@geppetto/protocol"

/** The longest pattern the server takes (`AutoApprove` in the protocol). */
export const MAX_PATTERN_LENGTH = 500

/** How long a card shows that the server just answered a prompt for a person. */
export const AUTO_REPLY_SHOWN_MS = 15_000

/**
 * The start form's *Auto-approve* text, one pattern per line, into the `allow` list; or what
 * is wrong with it, naming the line. Blank lines are skipped and each line is trimmed: a
 * space at either end is invisible in a text box and would make the whole match fail (a
 * pattern that needs one can say `\x20`). Each must compile with the `u` flag, as the
 * server checks, so a typo is caught before the request.
 */
export const parseAllow = (text: string): ReadonlyArray<string> | string => {
  const allow: string[] = []
  for (const [i, raw] of text.split("\n").entries()) {
    const pattern = raw.trim()
    if (pattern === "") continue
    if (pattern.length > MAX_PATTERN_LENGTH) {
      return `line ${i + 1}: at most ${MAX_PATTERN_LENGTH} characters (it has ${pattern.length})`
    }
    try {
      new RegExp(pattern, "u")
    } catch (e) {
      // V8's message quotes the pattern: "Invalid regular expression: /npm (test/u: Unterminated group".
      return `line ${i + 1}: ${e instanceof Error ? e.message : String(e)}`
    }
    allow.push(pattern)
  }
  if (allow.length > MAX_AUTO_APPROVE_PATTERNS) {
    return `at most ${MAX_AUTO_APPROVE_PATTERNS} patterns (there are ${allow.length})`
  }
  return allow
}

/**
 * A server refusal of the patterns (`body.autoApprove.allow.1: must be …`) in the form's
 * words: which pattern, then why.
 */
export const refusalOf = (
  message: string,
  detail: string,
  allow: ReadonlyArray<string>,
): string => {
  const index = /^body\.autoApprove\.allow\.(\d+)/.exec(message)?.[1]
  const pattern = index === undefined ? undefined : allow[Number(index)]
  return pattern === undefined ? detail : `${pattern}: ${detail}`
}

/** `2 patterns`, `1 pattern`. */
export const patternCount = (n: number): string => `${n} ${n === 1 ? "pattern" : "patterns"}`

/** What a `runner.auto-approve` audit entry's detail says, in its parts. */
export interface AutoApproveDetail {
  /** What the prompt asked for (`npm test`). */
  readonly asked: string
  /** The answer typed (`Yes`). */
  readonly label: string
  /** The `allow` pattern that matched. */
  readonly pattern: string
}

/**
 * Splits the detail the server records for an auto-approval, `ASKED (LABEL; allowed by
 * PATTERN)`, so the list can show the command as code; undefined for any other shape (shown
 * as it is). The asked part may hold parentheses itself: the label never holds `;` or `(`.
 */
export const parseAutoApproveDetail = (detail: string): AutoApproveDetail | undefined => {
  const match = /^([\s\S]+) \(([^;()]+); allowed by ([\s\S]+)\)$/.exec(detail)
  if (match === null) return undefined
  const [, asked = "", label = "", pattern = ""] = match
  return { asked, label, pattern }
}
