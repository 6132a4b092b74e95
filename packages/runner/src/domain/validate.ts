import { stat } from "node:fs/promises"
import { isAbsolute } from "node:path"
import { Effect } from "effect"
import { ValidationError } from "./errors.js"

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const MAX_ARG_BYTES = 128 * 1024

const invalid = (field: string, message: string) =>
  Effect.fail(new ValidationError({ field, message }))

/** argv: a non-empty command, no NUL anywhere (it would cut the string inside tmux or exec). */
export const validateArgv = (argv: ReadonlyArray<string>) => {
  if (argv.length === 0 || argv[0] === "") return invalid("command", "command must not be empty")
  for (const [i, arg] of argv.entries()) {
    if (arg.includes("\0")) return invalid(`command[${i}]`, `argument ${i} contains a NUL byte`)
    if (Buffer.byteLength(arg) > MAX_ARG_BYTES)
      return invalid(`command[${i}]`, `argument ${i} is longer than ${MAX_ARG_BYTES} bytes`)
  }
  return Effect.void
}

export const validateEnv = (env: Readonly<Record<string, string>>) => {
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_KEY.test(key))
      return invalid(
        `env.${key.slice(0, 40)}`,
        `env name ${JSON.stringify(key.slice(0, 40))} must match [A-Za-z_][A-Za-z0-9_]*`,
      )
    if (value.includes("\0"))
      return invalid(`env.${key}`, `env value of ${key} contains a NUL byte`)
  }
  return Effect.void
}

export const validateSize = (cols: number, rows: number) =>
  Number.isInteger(cols) &&
  Number.isInteger(rows) &&
  cols >= 2 &&
  cols <= 1000 &&
  rows >= 2 &&
  rows <= 1000
    ? Effect.void
    : invalid("cols", `terminal size ${cols}x${rows} must be whole numbers from 2 to 1000`)

/** An absolute path to an existing directory. */
export const validateCwd = (cwd: string) =>
  Effect.gen(function* () {
    if (cwd.includes("\0") || !isAbsolute(cwd)) {
      return yield* invalid(
        "cwd",
        `cwd ${JSON.stringify(cwd.slice(0, 200))} must be an absolute path`,
      )
    }
    const info = yield* Effect.promise(() => stat(cwd).catch(() => undefined))
    if (info === undefined || !info.isDirectory()) {
      return yield* invalid(
        "cwd",
        `cwd ${JSON.stringify(cwd.slice(0, 200))} is not an existing directory`,
      )
    }
  })
