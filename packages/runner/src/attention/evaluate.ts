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

/** What a capture shows: the rows as plain text, and the title the program set. */
export interface Screen {
  readonly lines: ReadonlyArray<string>
  readonly title: string
}

/** A screen from plain rows, for callers without a title (tests, fixtures). */
export const screenOf = (lines: ReadonlyArray<string>, title = ""): Screen => ({ lines, title })

/** The text a rule looks at: some rows, or the title alone (so no row can fake a title). */
export const regionOf = (screen: Screen, region: ScreenRegion): ReadonlyArray<string> => {
  switch (region.from) {
    case "title":
      return [screen.title]
    case "top":
      return screen.lines.slice(0, region.lines)
    case "bottom":
      return screen.lines.slice(Math.max(0, screen.lines.length - region.lines))
  }
}

const anyLine = (lines: ReadonlyArray<string>, re: RegExp): boolean =>
  lines.some((line) => re.test(line))

/** Every `all` pattern matches some line of the region (not necessarily the same one), no `none` does. */
export const ruleMatches = (rule: CompiledScreenRule, screen: Screen): boolean => {
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
  captured: Screen,
  rules: ReadonlyArray<CompiledScreenRule>,
): ScreenVerdict => {
  const screen = { lines: trimTrailingBlank(captured.lines), title: captured.title }
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
