import { join } from "node:path"
import { Effect, Schema } from "effect"
import { checkProviderName, loadBuiltinRuleFile, readRuleJson } from "./builtin-rules.js"
import {
  type CompiledScreenRule,
  checkUniqueIds,
  compileRules,
  parseErrorToScreenRuleError,
  ScreenRule,
  type ScreenRuleError,
} from "./rules.js"

/** `{ id, disabled: true }` in a user file removes the builtin rule with that id. */
export const DisabledScreenRule = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1)),
  disabled: Schema.Literal(true),
})
export type DisabledScreenRule = typeof DisabledScreenRule.Type

/** A user's override file: full rules (replace by id, or add) and removals. */
export const UserScreenRuleFile = Schema.Struct({
  provider: Schema.String.pipe(Schema.minLength(1)),
  rules: Schema.Array(Schema.Union(DisabledScreenRule, ScreenRule)),
})
export type UserScreenRuleFile = typeof UserScreenRuleFile.Type

const GENERIC = "generic"

const isDisabled = (entry: DisabledScreenRule | ScreenRule): entry is DisabledScreenRule =>
  "disabled" in entry

const isRule = (entry: DisabledScreenRule | ScreenRule): entry is ScreenRule => !isDisabled(entry)

/** Reads and validates `${dir}/${name}.json`; a missing file is no override at all. */
export const readUserRuleFile = (
  dir: string,
  name: string,
): Effect.Effect<UserScreenRuleFile | undefined, ScreenRuleError> => {
  const source = join(dir, `${name}.json`)
  return readRuleJson(source).pipe(
    Effect.flatMap((json) => {
      if (json === undefined) return Effect.succeed(undefined)
      return Schema.decodeUnknown(UserScreenRuleFile, { errors: "all" })(json).pipe(
        Effect.mapError((e) => parseErrorToScreenRuleError(source, json, e)),
        Effect.tap((file) => checkProviderName(source, file.provider, name)),
        Effect.tap((file) =>
          checkUniqueIds(
            source,
            file.rules.map((r) => r.id),
          ),
        ),
        // Fail here, naming the user's file, rather than later in the merged set.
        Effect.tap((file) => compileRules(file.rules.filter(isRule), source)),
      )
    }),
  )
}

interface Merged {
  readonly rules: ReadonlyArray<ScreenRule>
  /** Ids the user disabled that this set did not have (may target the other set). */
  readonly disabled: ReadonlySet<string>
}

/** Same id replaces in place, a new id is appended, `disabled` removes. */
const applyOverrides = (
  base: ReadonlyArray<ScreenRule>,
  user: UserScreenRuleFile | undefined,
): Merged => {
  if (user === undefined) return { rules: base, disabled: new Set() }
  const byId = new Map<string, ScreenRule>(base.map((r) => [r.id, r]))
  const disabled = new Set<string>()
  for (const entry of user.rules) {
    if (isDisabled(entry)) {
      if (!byId.delete(entry.id)) disabled.add(entry.id)
    } else {
      byId.set(entry.id, entry)
    }
  }
  return { rules: [...byId.values()], disabled }
}

const builtin = (name: string): Effect.Effect<ReadonlyArray<ScreenRule>, ScreenRuleError> =>
  Effect.map(loadBuiltinRuleFile(name), (file) => file?.rules ?? [])

/**
 * The compiled rules for a provider: its builtin rules (`rules/PROVIDER.json` in this package,
 * read once) plus the generic ones, each overridden by `${userDir}/${provider}.json` and
 * `${userDir}/generic.json` when present. A provider file may also replace or disable a
 * generic rule by its id (for that provider only).
 */
export const loadRuleSet = (
  provider: string,
  userDir?: string,
): Effect.Effect<ReadonlyArray<CompiledScreenRule>, ScreenRuleError> =>
  Effect.gen(function* () {
    const readUser = (name: string) =>
      userDir === undefined ? Effect.succeed(undefined) : readUserRuleFile(userDir, name)

    const generic = applyOverrides(yield* builtin(GENERIC), yield* readUser(GENERIC))
    if (provider === GENERIC) return yield* compileRules(generic.rules, GENERIC)

    const own = applyOverrides(yield* builtin(provider), yield* readUser(provider))
    const ownIds = new Set(own.rules.map((r) => r.id))
    const rules = [
      ...own.rules,
      ...generic.rules.filter((r) => !ownIds.has(r.id) && !own.disabled.has(r.id)),
    ]
    return yield* compileRules(rules, provider)
  })
