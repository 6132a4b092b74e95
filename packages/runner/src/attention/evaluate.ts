import type { CompiledScreenRule, ScreenAnswer, ScreenRegion, ScreenRuleKind } from "./rules.js"

/** What the screen says about the agent; `unknown` when no rule matches. */
export interface ScreenVerdict {
  readonly kind: ScreenRuleKind | "unknown"
  readonly reason?: string
  readonly ruleId?: string
  readonly answers?: ReadonlyArray<ScreenAnswer>
}

const UNKNOWN: ScreenVerdict = { kind: "unknown" }

// Tie-break on equal priority: a prompt may be up while the spinner still shows.
const KIND_RANK: Record<ScreenRuleKind, number> = { waiting: 3, ready: 2, busy: 1 }

const isBlank = (line: string): boolean => line.trim() === ""

/** The screen without the blank rows a capture-pane leaves under the content. */
export const trimTrailingBlank = (lines: ReadonlyArray<string>): ReadonlyArray<string> => {
  let end = lines.length
  while (end > 0 && isBlank(lines[end - 1] ?? "")) end--
  return end === lines.length ? lines : lines.slice(0, end)
}

export const regionOf = (
  lines: ReadonlyArray<string>,
  region: ScreenRegion,
): ReadonlyArray<string> =>
  region.from === "top"
    ? lines.slice(0, region.lines)
    : lines.slice(Math.max(0, lines.length - region.lines))

const anyLine = (lines: ReadonlyArray<string>, re: RegExp): boolean =>
  lines.some((line) => re.test(line))

/** Every `all` pattern matches some line of the region (not necessarily the same one), no `none` does. */
export const ruleMatches = (rule: CompiledScreenRule, screen: ReadonlyArray<string>): boolean => {
  const region = regionOf(screen, rule.region)
  return (
    rule.compiled.all.every((re) => anyLine(region, re)) &&
    !rule.compiled.none.some((re) => anyLine(region, re))
  )
}

const outranks = (a: CompiledScreenRule, b: CompiledScreenRule): boolean =>
  a.priority !== b.priority ? a.priority > b.priority : KIND_RANK[a.kind] > KIND_RANK[b.kind]

/**
 * Classifies a screen with precompiled rules (see `compileRules`). The highest priority
 * match wins; on equal priority waiting > ready > busy, then the earlier rule.
 */
export const evaluateScreen = (
  lines: ReadonlyArray<string>,
  rules: ReadonlyArray<CompiledScreenRule>,
): ScreenVerdict => {
  const screen = trimTrailingBlank(lines)
  let best: CompiledScreenRule | undefined
  for (const rule of rules) {
    if ((best === undefined || outranks(rule, best)) && ruleMatches(rule, screen)) best = rule
  }
  if (best === undefined) return UNKNOWN
  return {
    kind: best.kind,
    ruleId: best.id,
    ...(best.reason !== undefined ? { reason: best.reason } : {}),
    ...(best.answers !== undefined ? { answers: best.answers } : {}),
  }
}
