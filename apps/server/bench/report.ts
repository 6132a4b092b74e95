/**
 * The shape every suite scenario returns, and how the suite prints it: each figure beside
 * its target and a baseline measured in the same run, with the ratio and PASS/MISS.
 */
import { table } from "../../../packages/runner/bench/stats.js"
import { fmt, loadAverage } from "./harness.js"

/** `value OP limit` is the goal (e.g. CPU % `<` 25). */
export interface Target {
  readonly op: "<" | "<=" | ">" | ">="
  readonly limit: number
}

export interface Figure {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly target?: Target
  /** The same measurement in an easier condition of the same run, or a reference point. */
  readonly baseline?: { readonly label: string; readonly value: number }
  readonly digits?: number
}

/** JSON-serializable detail: numbers, strings, booleans, null, arrays and objects of them. */
export type Json = string | number | boolean | null | ReadonlyArray<Json> | { [k: string]: Json }

export interface ScenarioReport {
  readonly scenario: string
  readonly title: string
  /** What ran, in one line (counts, window lengths). */
  readonly setup: string
  readonly figures: ReadonlyArray<Figure>
  readonly details: { readonly [k: string]: Json }
  /** Observations that explain a figure (e.g. a miss and its measured cause). */
  readonly notes: ReadonlyArray<string>
}

/** What the suite adds around a scenario: when, how long, and the load it ran under. */
export interface TimedReport extends ScenarioReport {
  readonly at: string
  readonly wallS: number
  readonly loadBefore: ReadonlyArray<number>
  readonly loadAfter: ReadonlyArray<number>
  readonly error?: string
}

export type Verdict = "PASS" | "MISS" | "-" | "n/a"

export const verdictOf = (f: Figure): Verdict => {
  if (f.target === undefined) return "-"
  if (!Number.isFinite(f.value)) return "n/a"
  const { op, limit } = f.target
  const ok =
    op === "<"
      ? f.value < limit
      : op === "<="
        ? f.value <= limit
        : op === ">"
          ? f.value > limit
          : f.value >= limit
  return ok ? "PASS" : "MISS"
}

/** value / limit: below 1 passes a `<` target, above 1 a `>` target. */
export const ratioOf = (f: Figure): number =>
  f.target === undefined || f.target.limit === 0 ? Number.NaN : f.value / f.target.limit

const withUnit = (value: number, unit: string, digits: number) =>
  Number.isFinite(value) ? `${fmt(value, digits)}${unit === "" ? "" : ` ${unit}`}` : "-"

export interface FigureRow {
  readonly figure: string
  readonly value: string
  readonly target: string
  readonly ratio: string
  readonly baseline: string
  readonly verdict: Verdict
}

export const rowOf = (f: Figure): FigureRow => {
  const digits = f.digits ?? 1
  return {
    figure: f.name,
    value: withUnit(f.value, f.unit, digits),
    target:
      f.target === undefined ? "-" : `${f.target.op} ${withUnit(f.target.limit, f.unit, digits)}`,
    ratio: f.target === undefined ? "-" : fmt(ratioOf(f), 2),
    baseline:
      f.baseline === undefined
        ? "-"
        : `${withUnit(f.baseline.value, f.unit, digits)} (${f.baseline.label})`,
    verdict: verdictOf(f),
  }
}

const HEADER = ["figure", "value", "target", "value/target", "baseline (same run)", "verdict"]

const cells = (r: FigureRow) => [r.figure, r.value, r.target, r.ratio, r.baseline, r.verdict]

export const printReport = (r: TimedReport, log: (line: string) => void) => {
  log(`\n== ${r.scenario}: ${r.title}`)
  log(`   ${r.setup}`)
  log(
    `   ${r.at}, ${r.wallS.toFixed(0)} s, load ${r.loadBefore.join(" ")} -> ${r.loadAfter.join(" ")}`,
  )
  if (r.error !== undefined) log(`   FAILED: ${r.error}`)
  if (r.figures.length > 0) log(table(HEADER, r.figures.map(rowOf).map(cells)))
  for (const note of r.notes) log(`   note: ${note}`)
}

const mdCell = (s: string) => s.replaceAll("|", "\\|")

export const markdownTable = (figures: ReadonlyArray<Figure>): string => {
  const rows = figures.map(rowOf).map(cells)
  return [
    `| ${HEADER.join(" | ")} |`,
    `| ${HEADER.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(mdCell).join(" | ")} |`),
  ].join("\n")
}

/** The message and stack, and the cause's message (undici's "fetch failed" hides the reason). */
const describeError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? `\ncaused by: ${error.cause.message}` : ""
  return `${error.stack ?? error.message}${cause}`
}

/** Runs one scenario with the load average around it; a failure becomes a report, not a crash. */
export const timed = async (
  scenario: string,
  title: string,
  run: () => Promise<ScenarioReport>,
): Promise<TimedReport> => {
  const at = new Date().toISOString()
  const loadBefore = loadAverage()
  const t0 = performance.now()
  try {
    const report = await run()
    return {
      ...report,
      at,
      wallS: (performance.now() - t0) / 1000,
      loadBefore,
      loadAfter: loadAverage(),
    }
  } catch (error) {
    return {
      scenario,
      title,
      setup: "The scenario failed before it could report its figures.",
      figures: [],
      details: {},
      notes: [],
      at,
      wallS: (performance.now() - t0) / 1000,
      loadBefore,
      loadAfter: loadAverage(),
      error: describeError(error),
    }
  }
}
