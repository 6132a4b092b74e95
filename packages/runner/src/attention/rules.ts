import { Effect, ParseResult, Schema } from "effect"

/** A screen-rule file (builtin or the user's) is malformed: bad JSON, bad shape, bad regex. */
export class ScreenRuleError extends Schema.TaggedError<ScreenRuleError>()("ScreenRuleError", {
  source: Schema.String,
  ruleId: Schema.optional(Schema.String),
  message: Schema.String,
}) {}

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** A quick reply offered while the rule matches; `keys` are the exact bytes sent to the pane. */
export const ScreenAnswer = Schema.Struct({ label: NonEmpty, keys: NonEmpty })
export type ScreenAnswer = typeof ScreenAnswer.Type

/** The first or last `lines` rows of the screen. */
export const LinesRegion = Schema.Struct({
  from: Schema.Literal("bottom", "top"),
  lines: Schema.Int.pipe(Schema.between(1, 200)),
})
export type LinesRegion = typeof LinesRegion.Type

/** The pane's title, as the program set it with OSC 0/2 (tmux `#{pane_title}`). */
export const TitleRegion = Schema.Struct({ from: Schema.Literal("title") })
export type TitleRegion = typeof TitleRegion.Type

export const ScreenRegion = Schema.Union(LinesRegion, TitleRegion)
export type ScreenRegion = typeof ScreenRegion.Type

export const ScreenRuleKind = Schema.Literal("waiting", "busy", "ready")
export type ScreenRuleKind = typeof ScreenRuleKind.Type

/**
 * What a permission dialog asks for, read from the rule's region only: `pattern` (flags `mu`)
 * runs over the region's rows joined with newlines, and its group `detail` (else group 1) is
 * the detail, cleaned by `cleanDetail`; `prefix` goes before it (`"Create file: "`), so that a
 * file operation never reads as a command.
 */
export const ScreenDetail = Schema.Struct({
  pattern: NonEmpty,
  prefix: Schema.optionalWith(Schema.String, { exact: true }),
})
export type ScreenDetail = typeof ScreenDetail.Type

export const ScreenRule = Schema.Struct({
  id: NonEmpty,
  kind: ScreenRuleKind,
  reason: Schema.optionalWith(NonEmpty, { exact: true }),
  priority: Schema.Number.pipe(Schema.finite()),
  region: ScreenRegion,
  // Non-empty: a rule with no required pattern would match every screen.
  all: Schema.NonEmptyArray(NonEmpty),
  none: Schema.optionalWith(Schema.Array(NonEmpty), { exact: true }),
  answers: Schema.optionalWith(Schema.Array(ScreenAnswer), { exact: true }),
  /** Where the dialog says what it asks for; the first pattern that matches gives it. */
  detail: Schema.optionalWith(Schema.NonEmptyArray(ScreenDetail), { exact: true }),
  /**
   * The label of the answer that says yes to this dialog, once: what auto-approve types. A
   * rule without it is never answered for a person.
   */
  yes: Schema.optionalWith(NonEmpty, { exact: true }),
})
export type ScreenRule = typeof ScreenRule.Type
/** The plain-JSON shape of one rule. */
export type ScreenRuleJson = typeof ScreenRule.Encoded

export const ScreenRuleFile = Schema.Struct({
  provider: NonEmpty,
  rules: Schema.Array(ScreenRule),
})
export type ScreenRuleFile = typeof ScreenRuleFile.Type
/** The plain-JSON shape of a rule file, as written on disk or in the builtin modules. */
export type ScreenRuleFileJson = typeof ScreenRuleFile.Encoded

/*
 * Agents animate a glyph at the start of the title while they work. Claude Code used braille
 * dots (`⠂`, `⠐`) and, from 2.1.228, quarter circles (`◐◑◒◓`); Gemini CLI, OpenCode and
 * cli-spinners use the braille "dots" set (`⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏`). Claude Code's `✳` prefix is its
 * idle glyph, not a spinner, and since 2.1.236 it stays `✳` for the whole turn under tmux
 * (anthropics/claude-code#88542), so a title rule is a hint that may never fire, not the only
 * busy signal. U+2800 (blank braille) is left out: it can be plain padding.
 */
export const TITLE_SPINNER_PATTERN = "^\\s*[\\u2801-\\u28FF\\u25D0-\\u25D3]"

/** An example title rule: a spinner at the start of the title means busy (the busy band, 50). */
export const exampleTitleBusyRule: ScreenRuleJson = {
  id: "example.title-spinner",
  kind: "busy",
  priority: 50,
  region: { from: "title" },
  all: [TITLE_SPINNER_PATTERN],
}

/** A rule with its regexes compiled once, so evaluation on every screen change is cheap. */
export interface CompiledScreenRule extends ScreenRule {
  readonly compiled: {
    readonly all: ReadonlyArray<RegExp>
    readonly none: ReadonlyArray<RegExp>
    readonly detail: ReadonlyArray<RegExp>
  }
}

// "u" so that astral glyphs count as one character; no "g"/"y": stateless `test`.
const REGEX_FLAGS = "u"

const compilePattern = (
  source: string,
  ruleId: string,
  pattern: string,
  flags = REGEX_FLAGS,
): Effect.Effect<RegExp, ScreenRuleError> =>
  Effect.try({
    try: () => new RegExp(pattern, flags),
    catch: (cause) =>
      new ScreenRuleError({
        source,
        ruleId,
        message: `rule "${ruleId}": invalid regex /${pattern}/: ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
      }),
  })

/** Compiles every pattern of a rule set; fails on the first regex that does not compile. */
export const compileRules = (
  rules: ReadonlyArray<ScreenRule>,
  source = "rules",
): Effect.Effect<ReadonlyArray<CompiledScreenRule>, ScreenRuleError> =>
  Effect.forEach(rules, (rule) =>
    Effect.all({
      all: Effect.forEach(rule.all, (p) => compilePattern(source, rule.id, p)),
      none: Effect.forEach(rule.none ?? [], (p) => compilePattern(source, rule.id, p)),
      detail: Effect.forEach(rule.detail ?? [], (d) =>
        compilePattern(source, rule.id, d.pattern, DETAIL_FLAGS),
      ),
      yes: checkYes(source, rule),
    }).pipe(
      Effect.map(
        ({ all, none, detail }): CompiledScreenRule => ({
          ...rule,
          compiled: { all, none, detail },
        }),
      ),
    ),
  )

// Rows joined with newlines: `^`/`$` per row, and a pattern may span the rows of a dialog.
const DETAIL_FLAGS = "mu"

/** A rule's `yes` must name one of its answers, and needs a `detail` to be of any use. */
const checkYes = (source: string, rule: ScreenRule): Effect.Effect<void, ScreenRuleError> => {
  if (rule.yes === undefined) return Effect.void
  if (!(rule.answers ?? []).some((a) => a.label === rule.yes)) {
    return Effect.fail(
      new ScreenRuleError({
        source,
        ruleId: rule.id,
        message: `rule "${rule.id}": yes "${rule.yes}" is not the label of one of its answers`,
      }),
    )
  }
  if (rule.detail === undefined || rule.reason !== "permission") {
    return Effect.fail(
      new ScreenRuleError({
        source,
        ruleId: rule.id,
        message: `rule "${rule.id}": yes needs reason "permission" and a detail to answer against`,
      }),
    )
  }
  return Effect.void
}

/** The id of the rule an issue path points into (`rules.3.all.0` → `rules[3].id`), if any. */
export const ruleIdAt = (input: unknown, path: ReadonlyArray<PropertyKey>): string | undefined => {
  if (path[0] !== "rules" || typeof path[1] !== "number") return undefined
  if (typeof input !== "object" || input === null || !("rules" in input)) return undefined
  const rules = input.rules
  if (!Array.isArray(rules)) return undefined
  const rule: unknown = rules[path[1]]
  if (typeof rule !== "object" || rule === null || !("id" in rule)) return undefined
  return typeof rule.id === "string" ? rule.id : undefined
}

/** Turns a Schema parse error into a ScreenRuleError naming the file and, when known, the rule. */
export const parseErrorToScreenRuleError = (
  source: string,
  input: unknown,
  error: ParseResult.ParseError,
): ScreenRuleError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const ruleId = first ? ruleIdAt(input, first.path) : undefined
  // One entry per field: a literal union reports each alternative as its own issue.
  const byPath = new Map<string, Array<string>>()
  for (const issue of issues) {
    const key = issue.path.length > 0 ? issue.path.join(".") : "(root)"
    byPath.set(key, [...(byPath.get(key) ?? []), issue.message])
  }
  const message = [...byPath]
    .slice(0, 4)
    .map(([path, messages]) => `${path}: ${messages.join(" or ")}`)
    .join("; ")
  return new ScreenRuleError({ source, ...(ruleId !== undefined ? { ruleId } : {}), message })
}

/** Fails on a rule id that appears twice: overrides address rules by id. */
export const checkUniqueIds = (
  source: string,
  ids: ReadonlyArray<string>,
): Effect.Effect<void, ScreenRuleError> => {
  const seen = new Set<string>()
  for (const id of ids) {
    if (seen.has(id)) {
      return Effect.fail(
        new ScreenRuleError({ source, ruleId: id, message: `duplicate rule id "${id}"` }),
      )
    }
    seen.add(id)
  }
  return Effect.void
}

/** Decodes and validates a rule file: shape, unique ids, every regex compiles. */
export const decodeRuleFile = (
  source: string,
  input: unknown,
): Effect.Effect<ScreenRuleFile, ScreenRuleError> =>
  Schema.decodeUnknown(ScreenRuleFile, { errors: "all" })(input).pipe(
    Effect.mapError((e) => parseErrorToScreenRuleError(source, input, e)),
    Effect.tap((file) =>
      checkUniqueIds(
        source,
        file.rules.map((r) => r.id),
      ),
    ),
    Effect.tap((file) => compileRules(file.rules, source)),
  )
