import type { CompiledScreenRule, ScreenAnswer, ScreenRegion, ScreenRuleKind } from "./rules.js"

/** What the screen says about the agent; `unknown` when no rule matches. */
export interface ScreenVerdict {
  readonly kind: ScreenRuleKind | "unknown"
  readonly reason?: string
  readonly ruleId?: string
  readonly answers?: ReadonlyArray<ScreenAnswer>
  /** What the dialog asks for, when the rule extracts it (see `ScreenDetail`). */
  readonly detail?: string
  /** The answer that says yes, when the rule declares one. */
  readonly yes?: ScreenAnswer
  /**
   * The rows the rule's `all` patterns matched, in order: tells one dialog from the next one
   * of the same rule (another file, another command), beyond the detail.
   */
  readonly fingerprint?: string
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

/** The longest detail taken: a longer one is not shortened (a cut command could match). */
export const MAX_DETAIL_LENGTH = 2000

// Box-drawing verticals a dialog frames its rows with (never ASCII `|`: it is a pipe).
const LEADING_BORDER = /^\s*(?:[│┃]\s?)+/u
const TRAILING_BORDER = /\s*[│┃]\s*$/u

/**
 * A detail as extracted: each row without a dialog's box borders and outer blanks, blank rows
 * at either end dropped, rows joined with `\n` (a command wrapped over rows stays several
 * rows, so a one-row allow pattern never matches it). Empty or longer than
 * `MAX_DETAIL_LENGTH`: no detail.
 */
export const cleanDetail = (raw: string): string | undefined => {
  const rows = raw.split("\n").map((row) => {
    let clean = row.replace(LEADING_BORDER, "")
    // Twice: a box inside a box ends a row with two borders.
    clean = clean.replace(TRAILING_BORDER, "").replace(TRAILING_BORDER, "")
    return clean.trim()
  })
  let start = 0
  let end = rows.length
  while (start < end && rows[start] === "") start++
  while (end > start && rows[end - 1] === "") end--
  const detail = rows.slice(start, end).join("\n")
  return detail === "" || detail.length > MAX_DETAIL_LENGTH ? undefined : detail
}

/** The rule's detail on this screen: from its own region only. */
export const detailOf = (rule: CompiledScreenRule, screen: Screen): string | undefined => {
  if (rule.compiled.detail.length === 0) return undefined
  const text = regionOf(screen, rule.region).join("\n")
  for (const [i, re] of rule.compiled.detail.entries()) {
    const match = re.exec(text)
    const raw = match?.groups?.detail ?? match?.[1]
    if (raw === undefined) continue
    const detail = cleanDetail(raw)
    return detail === undefined ? undefined : `${rule.detail?.[i]?.prefix ?? ""}${detail}`
  }
  return undefined
}

/** The first row each `all` pattern matches, joined: the dialog's identity on this screen. */
const fingerprintOf = (rule: CompiledScreenRule, screen: Screen): string => {
  const region = regionOf(screen, rule.region)
  return rule.compiled.all
    .map((re) => region.find((line) => re.test(line))?.trim() ?? "")
    .join("\n")
}

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
  const detail = detailOf(best, screen)
  const yes = best.yes === undefined ? undefined : best.answers?.find((a) => a.label === best.yes)
  return {
    kind: best.kind,
    ruleId: best.id,
    ...(best.reason !== undefined ? { reason: best.reason } : {}),
    ...(best.answers !== undefined ? { answers: best.answers } : {}),
    ...(detail !== undefined ? { detail } : {}),
    ...(yes !== undefined ? { yes } : {}),
    ...(best.kind === "waiting" ? { fingerprint: fingerprintOf(best, screen) } : {}),
  }
}
