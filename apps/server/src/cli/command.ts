import { parseArgs } from "node:util"
import { usageError } from "./errors.js"

/** What a command runs with besides its arguments: the environment and the working dir. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
}

/** A command module: `geppetto NAME ARGS`. Loaded only when it is the one asked for. */
export interface CommandModule {
  readonly usage: string
  readonly run: (argv: ReadonlyArray<string>, ctx: CliContext) => Promise<number>
}

/** A flag as `parseArgs` takes it (only the kinds the commands use). */
export interface FlagSpec {
  readonly type: "string" | "boolean"
  readonly short?: string
  readonly multiple?: boolean
}
type FlagSpecs = Readonly<Record<string, FlagSpec>>

/** What `parseArgs` gives for `specs`, spelled out so that it can be exported. */
export type FlagValues<S extends FlagSpecs> = {
  readonly [K in keyof S]?: S[K] extends { readonly type: "boolean" }
    ? boolean
    : S[K] extends { readonly multiple: true }
      ? string[]
      : string
}

/** Flags every command that talks to a server takes. */
export const connectionOptions = {
  url: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "data-dir": { type: "string" },
} as const satisfies FlagSpecs

export const CONNECTION_USAGE = `connection (every command but serve and doctor):
  --url URL        the server (GEPPETTO_URL); default http://127.0.0.1:7420, or built
                   from --host/--port (GEPPETTO_HOST, GEPPETTO_PORT)
  --data-dir DIR   read the operator token from DIR/tokens.json when GEPPETTO_TOKEN is
                   unset (GEPPETTO_DATA_DIR; default as for geppetto serve)`

export interface ParsedCommand<S extends FlagSpecs> {
  readonly values: FlagValues<S & typeof connectionOptions>
  /** Every positional, including those after `--`. */
  readonly positionals: ReadonlyArray<string>
  /** The positionals before `--`, and those after it (undefined when there is no `--`). */
  readonly before: ReadonlyArray<string>
  readonly after: ReadonlyArray<string> | undefined
}

/**
 * `parseArgs`, strict, with the connection flags added; its complaints (unknown flag, missing
 * value) become usage errors (exit 2).
 */
export const parseCommandArgs = <const S extends FlagSpecs>(
  argv: ReadonlyArray<string>,
  specs: S,
): ParsedCommand<S> => {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...connectionOptions, ...specs },
      strict: true,
      allowPositionals: true,
      tokens: true,
    })
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error), true)
  }
  const tokens = parsed.tokens ?? []
  const terminator = tokens.find((t) => t.kind === "option-terminator")?.index ?? Infinity
  const before: string[] = []
  const after: string[] = []
  for (const token of tokens) {
    if (token.kind === "positional") (token.index < terminator ? before : after).push(token.value)
  }
  return {
    // parseArgs checked every value against `specs`, which is what FlagValues spells out.
    values: parsed.values as FlagValues<S & typeof connectionOptions>,
    positionals: parsed.positionals,
    before,
    after: terminator === Infinity ? undefined : after,
  }
}

/** Exactly `names.length` positionals (the optional ones may be missing), else a usage error. */
export const positionals = (
  given: ReadonlyArray<string>,
  required: ReadonlyArray<string>,
  optional: ReadonlyArray<string> = [],
): ReadonlyArray<string | undefined> => {
  if (given.length < required.length) {
    throw usageError(`missing ${required.slice(given.length).join(" and ")}`, true)
  }
  if (given.length > required.length + optional.length) {
    throw usageError(
      `unexpected argument ${JSON.stringify(given[required.length + optional.length])}`,
      true,
    )
  }
  return [...required, ...optional].map((_, i) => given[i])
}

/** Writes `data` to stdout and waits until it is handed to the OS: the natural backpressure. */
export const writeStdout = (data: string | Uint8Array): Promise<void> =>
  new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()))
  })
