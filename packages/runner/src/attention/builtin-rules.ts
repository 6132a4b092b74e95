import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { decodeRuleFile, ScreenRuleError, type ScreenRuleFile } from "./rules.js"

/*
 * Builtin screen rules are data: `rules/PROVIDER.json` in this package, the same shape as a
 * user's override file and decoded by the same Schema. The priority bands and why each rule
 * exists are in `rules/README.md`.
 */

/** The package's `rules/` folder: `../../rules/` from both `src/attention` and `dist/attention`. */
export const builtinRulesDir: string = fileURLToPath(new URL("../../rules/", import.meta.url))

// A builtin file is named after a provider id; any other name (a path, dots) has no file.
const FILE_NAME = /^[a-z0-9][a-z0-9-]*$/

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

const isMissing = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT"

/** The parsed JSON of a rule file, or undefined when there is no such file. */
export const readRuleJson = (source: string): Effect.Effect<unknown, ScreenRuleError> =>
  Effect.tryPromise({ try: () => readFile(source, "utf8"), catch: (cause) => cause }).pipe(
    Effect.map((text): string | undefined => text),
    Effect.catchAll((cause) =>
      isMissing(cause)
        ? Effect.succeed(undefined)
        : Effect.fail(new ScreenRuleError({ source, message: `cannot read: ${describe(cause)}` })),
    ),
    Effect.flatMap((text) =>
      text === undefined
        ? Effect.succeed(undefined)
        : Effect.try({
            try: (): unknown => JSON.parse(text),
            catch: (cause) =>
              new ScreenRuleError({ source, message: `invalid JSON: ${describe(cause)}` }),
          }),
    ),
  )

/** A rule file's `provider` must be its file name: that name is how a provider finds it. */
export const checkProviderName = (
  source: string,
  provider: string,
  name: string,
): Effect.Effect<void, ScreenRuleError> =>
  provider === name
    ? Effect.void
    : Effect.fail(
        new ScreenRuleError({
          source,
          message: `provider "${provider}" does not match the file name "${name}"`,
        }),
      )

/**
 * Reads and validates `${dir}/${name}.json` (shape, unique ids, every regex compiles, the
 * provider matches the file name); undefined when the provider has no builtin file.
 */
export const readBuiltinRuleFile = (
  name: string,
  dir: string = builtinRulesDir,
): Effect.Effect<ScreenRuleFile | undefined, ScreenRuleError> => {
  if (!FILE_NAME.test(name)) return Effect.succeed(undefined)
  const source = join(dir, `${name}.json`)
  return readRuleJson(source).pipe(
    Effect.flatMap((json) =>
      json === undefined ? Effect.succeed(undefined) : decodeRuleFile(source, json),
    ),
    Effect.tap((file) =>
      file === undefined ? Effect.void : checkProviderName(source, file.provider, name),
    ),
  )
}

// Builtin files do not change while the process runs: each is read and checked once. Module
// state rather than a service so that `loadRuleSet` keeps needing nothing from its caller.
// Only files that exist are kept, so the cache is bounded by the folder, whatever names ask.
const cache = new Map<string, ScreenRuleFile>()

/** The builtin rule file of a provider (read once, then cached); undefined when it has none. */
export const loadBuiltinRuleFile = (
  name: string,
): Effect.Effect<ScreenRuleFile | undefined, ScreenRuleError> =>
  Effect.suspend(() => {
    const cached = cache.get(name)
    if (cached !== undefined) return Effect.succeed(cached)
    return readBuiltinRuleFile(name).pipe(
      Effect.tap((file) =>
        Effect.sync(() => {
          if (file !== undefined) cache.set(name, file)
        }),
      ),
    )
  })

/** Every builtin rule file in the package's `rules/` folder, by file name. */
export const loadBuiltinRuleFiles = (): Effect.Effect<
  ReadonlyArray<ScreenRuleFile>,
  ScreenRuleError
> =>
  Effect.tryPromise({
    try: () => readdir(builtinRulesDir),
    catch: (cause) =>
      new ScreenRuleError({ source: builtinRulesDir, message: `cannot list: ${describe(cause)}` }),
  }).pipe(
    Effect.map((names) =>
      names
        .filter((n) => n.endsWith(".json"))
        .map((n) => n.slice(0, -".json".length))
        .sort(),
    ),
    Effect.flatMap((names) => Effect.forEach(names, loadBuiltinRuleFile)),
    Effect.map((files) => files.filter((f): f is ScreenRuleFile => f !== undefined)),
  )
