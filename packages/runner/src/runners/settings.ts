import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { compilesAsRegex } from "@geppetto/protocol"
import { Context, Effect, ParseResult, Schema } from "effect"
import { defaultAttentionSettings } from "../attention/signals.js"
import type { ConcurrencyLimits } from "../providers/limits.js"
import type { AccountProfile } from "../providers/provider.js"
import { type Budget, BudgetSchema } from "../transcripts/budgets.js"
import { ModelPrice, type PriceTable } from "../transcripts/prices.js"

/** `config.json` in the data dir is missing a piece, malformed, or names an unknown key. */
export class SettingsError extends Schema.TaggedError<SettingsError>()("SettingsError", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** What the runner registry needs beyond `RunnerConfig`: accounts, limits, detection timing. */
export interface RunnerSettingsShape {
  /** Profiles by id: `accountId` on a start request picks one. */
  readonly accounts: Readonly<Record<string, AccountProfile>>
  readonly limits: ConcurrencyLimits
  readonly attention: {
    readonly debounceMs: number
    readonly confirmMs: number
    readonly recheckMs: number
  }
  /** Folder of the user's screen-rule files (`PROVIDER.json`); see `loadRuleSet`. */
  readonly rulesDir: string | undefined
  /** Where a runner starts when the request names no `cwd`. */
  readonly defaultCwd: string
  /** `RunnerConfig` values set in `config.json` (`logs.*`, `activity.*`); the rest are defaults. */
  readonly runnerConfig: {
    readonly segmentBytes?: number
    readonly retainBytes?: number
    readonly idleThresholdMs?: number
  }
  /** Prices by model (USD per million tokens) over the built-in table; see `transcripts/prices`. */
  readonly prices?: PriceTable
  /** Spending limits: a start over one is refused (`TierLimitError`), a runner crossing one noticed. */
  readonly budgets?: ReadonlyArray<Budget>
}

export class RunnerSettings extends Context.Tag("geppetto/RunnerSettings")<
  RunnerSettings,
  RunnerSettingsShape
>() {}

export const defaultRunnerSettings = (
  overrides: Partial<RunnerSettingsShape> = {},
): RunnerSettingsShape => ({
  accounts: {},
  limits: {},
  attention: defaultAttentionSettings,
  rulesDir: undefined,
  defaultCwd: process.env.HOME ?? "/",
  runnerConfig: {},
  ...overrides,
})

const EnvName = Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/))
const AccountId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/))
/** An auto-approve pattern: it must compile (JavaScript, `u` flag), as the API requires. */
const ApprovePattern = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(500),
  Schema.filter(compilesAsRegex, {
    message: () => "must be a valid regular expression (JavaScript, u flag)",
  }),
)
const Limit = Schema.Int.pipe(Schema.between(0, 10_000))
const Ms = Schema.Int.pipe(Schema.between(0, 600_000))
const MIB = 1024 * 1024
/** A log segment: 1 MiB to 4 GiB (GNU `split -b` takes any size; tiny ones make many files). */
const SegmentBytes = Schema.Int.pipe(Schema.between(MIB, 4096 * MIB))
const RetainBytes = Schema.Int.pipe(Schema.between(MIB, 1024 * 1024 * MIB))

/** The keys of `config.json` this package reads; anything else is an error that names the key. */
export const RunnerSettingsFile = Schema.Struct({
  accounts: Schema.optionalWith(
    Schema.Record({
      key: AccountId,
      value: Schema.Struct({
        provider: Schema.String,
        env: Schema.optionalWith(Schema.Record({ key: EnvName, value: Schema.String }), {
          default: () => ({}),
        }),
        /** The account's runners answer these permission prompts unless a start says otherwise. */
        autoApprove: Schema.optional(
          Schema.Struct({ allow: Schema.NonEmptyArray(ApprovePattern).pipe(Schema.maxItems(50)) }),
        ),
      }),
    }),
    { default: () => ({}) },
  ),
  limits: Schema.optionalWith(
    Schema.Struct({
      perProvider: Schema.optional(Schema.Record({ key: Schema.String, value: Limit })),
      perAccount: Schema.optional(Schema.Record({ key: Schema.String, value: Limit })),
    }),
    { default: () => ({}) },
  ),
  attention: Schema.optional(
    Schema.Struct({
      debounceMs: Schema.optional(Ms),
      confirmMs: Schema.optional(Ms),
      recheckMs: Schema.optional(Ms),
    }),
  ),
  logs: Schema.optional(
    Schema.Struct({
      segmentBytes: Schema.optional(SegmentBytes),
      retainBytes: Schema.optional(RetainBytes),
    }),
  ),
  activity: Schema.optional(Schema.Struct({ idleThresholdMs: Schema.optional(Ms) })),
  prices: Schema.optional(Schema.Record({ key: Schema.String, value: ModelPrice })),
  budgets: Schema.optional(Schema.Array(BudgetSchema).pipe(Schema.maxItems(100))),
})

/** Decodes a parsed `config.json`; `onExcessProperty: "error"` so a typo is named, not ignored. */
export const decodeSettingsFile = (
  path: string,
  input: unknown,
  base: RunnerSettingsShape,
): Effect.Effect<RunnerSettingsShape, SettingsError> =>
  Schema.decodeUnknown(RunnerSettingsFile, { errors: "all", onExcessProperty: "error" })(
    input,
  ).pipe(
    Effect.mapError((e) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(e)
      const message = issues
        .slice(0, 5)
        .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
        .join("; ")
      return new SettingsError({ path, message: `${path}: ${message}` })
    }),
    Effect.flatMap((file) => {
      const accounts: Record<string, AccountProfile> = {}
      for (const [id, account] of Object.entries(file.accounts)) {
        accounts[id] = {
          id,
          provider: account.provider,
          env: account.env,
          ...(account.autoApprove === undefined ? {} : { autoApprove: account.autoApprove }),
        }
      }
      const limits: { perProvider?: Record<string, number>; perAccount?: Record<string, number> } =
        {}
      if (file.limits.perProvider !== undefined) limits.perProvider = file.limits.perProvider
      if (file.limits.perAccount !== undefined) limits.perAccount = file.limits.perAccount
      for (const id of Object.keys(limits.perAccount ?? {})) {
        if (accounts[id] === undefined)
          return Effect.fail(
            new SettingsError({
              path,
              message: `${path}: limits.perAccount.${id}: there is no account ${JSON.stringify(id)}`,
            }),
          )
      }
      const segmentBytes = file.logs?.segmentBytes
      const retainBytes = file.logs?.retainBytes
      if (segmentBytes !== undefined && retainBytes !== undefined && retainBytes < segmentBytes)
        return Effect.fail(
          new SettingsError({
            path,
            message: `${path}: logs.retainBytes: ${retainBytes} is less than logs.segmentBytes (${segmentBytes}); retention deletes whole segments`,
          }),
        )
      const idleThresholdMs = file.activity?.idleThresholdMs
      const unknownBudgetAccount = (file.budgets ?? []).findIndex(
        (b) => b.accountId !== undefined && accounts[b.accountId] === undefined,
      )
      if (unknownBudgetAccount !== -1)
        return Effect.fail(
          new SettingsError({
            path,
            message: `${path}: budgets.${unknownBudgetAccount}.accountId: there is no account ${JSON.stringify(file.budgets?.[unknownBudgetAccount]?.accountId)}`,
          }),
        )
      return Effect.succeed({
        ...(file.prices === undefined ? {} : { prices: file.prices }),
        ...(file.budgets === undefined ? {} : { budgets: file.budgets }),
        ...base,
        runnerConfig: {
          ...(segmentBytes === undefined ? {} : { segmentBytes }),
          ...(retainBytes === undefined ? {} : { retainBytes }),
          ...(idleThresholdMs === undefined ? {} : { idleThresholdMs }),
        },
        accounts,
        limits,
        attention: {
          debounceMs: file.attention?.debounceMs ?? base.attention.debounceMs,
          confirmMs: file.attention?.confirmMs ?? base.attention.confirmMs,
          recheckMs: file.attention?.recheckMs ?? base.attention.recheckMs,
        },
      })
    }),
  )

/**
 * Reads `DATA_DIR/config.json` (missing → defaults) and points user rules at `DATA_DIR/rules`.
 * Other top-level keys belong to the server; pass them in `ignoreKeys` so they are not errors.
 */
export const loadRunnerSettings = (
  dataDir: string,
  options: { readonly ignoreKeys?: ReadonlyArray<string> } = {},
): Effect.Effect<RunnerSettingsShape, SettingsError> =>
  Effect.gen(function* () {
    const path = join(dataDir, "config.json")
    const base = defaultRunnerSettings({ rulesDir: join(dataDir, "rules") })
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) => e,
    }).pipe(
      Effect.catchAll((e) =>
        typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT"
          ? Effect.succeed(undefined)
          : Effect.fail(new SettingsError({ path, message: `cannot read ${path}: ${String(e)}` })),
      ),
    )
    if (text === undefined) return base
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) =>
        new SettingsError({
          path,
          message: `${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
        }),
    })
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      return yield* new SettingsError({ path, message: `${path} must hold a JSON object` })
    const mine: Record<string, unknown> = { ...parsed }
    for (const key of options.ignoreKeys ?? []) delete mine[key]
    return yield* decodeSettingsFile(path, mine, base)
  })
