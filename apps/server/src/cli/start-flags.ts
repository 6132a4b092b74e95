import { resolve } from "node:path"
import type { StartRunnerRequest } from "@geppetto/protocol"
import type { FlagValues } from "./command.js"
import { usageError } from "./errors.js"

/**
 * The flags that say what a runner starts with: `geppetto run`'s, and `geppetto schedule
 * add`'s for the runner each run starts. One parser, so both read them the same way.
 */
export const START_FLAGS = {
  mode: { type: "string" },
  cwd: { type: "string" },
  name: { type: "string" },
  account: { type: "string" },
  "max-duration": { type: "string" },
  cols: { type: "string" },
  rows: { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  worktree: { type: "boolean" },
  branch: { type: "string" },
  base: { type: "string" },
  "auto-approve": { type: "string", multiple: true },
} as const

export const START_FLAGS_USAGE = `  --mode MODE            interactive (default) or oneshot
  --cwd DIR              working directory (default: the current directory)
  --name NAME            the runner's name, also its tmux session name
  --account ID           the account whose limits apply
  --max-duration TIME    stop it after TIME: 90s, 30m, 2h, 1d, 1h30m (a bare number is seconds)
  --cols N, --rows N     terminal size
  -e, --env KEY=VALUE    an environment variable for it (repeatable)
  --worktree             run it in a new git worktree of DIR's repository, on a new branch
  --branch BRANCH        that branch's name (default geppetto/NAME; implies --worktree)
  --base REF             the branch or commit it starts from (default: HEAD's branch;
                         implies --worktree)
  --auto-approve REGEX   answer a permission prompt with its "yes" when what it asks for
                         (e.g. the command) matches REGEX as a whole (repeatable; e.g.
                         'npm (test|run lint)'); any other prompt waits for you`

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/** `90s`, `30m`, `2h`, `1d`, `1h30m`, `500ms`; a bare number is seconds. */
export const parseDuration = (text: string): number => {
  const trimmed = text.trim()
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed) * 1000
  const parts = [...trimmed.matchAll(/([0-9]+)(ms|s|m|h|d)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw usageError(`--max-duration ${JSON.stringify(text)}: use e.g. 90s, 30m, 2h or 1h30m`)
  }
  return parts.reduce((sum, [, n = "0", unit = "s"]) => sum + Number(n) * (UNIT_MS[unit] ?? 0), 0)
}

const integer = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  if (!/^[0-9]{1,6}$/.test(text)) throw usageError(`--${flag} must be a whole number`)
  return Number(text)
}

const envEntries = (entries: ReadonlyArray<string>): Record<string, string> | undefined => {
  if (entries.length === 0) return undefined
  const env: Record<string, string> = {}
  for (const entry of entries) {
    const eq = entry.indexOf("=")
    if (eq <= 0) throw usageError(`--env ${JSON.stringify(entry)}: use KEY=VALUE`)
    env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return env
}

/**
 * The `POST /api/runners` body the start flags, PROVIDER, PROMPT and the argv after `--`
 * (`command`) say; `--cwd` is resolved against `cwd` (the caller's folder).
 */
export const startRequest = (
  values: FlagValues<typeof START_FLAGS>,
  what: {
    readonly provider: string
    readonly prompt: string | undefined
    readonly command: ReadonlyArray<string> | undefined
  },
  cwd: string,
): StartRunnerRequest => {
  if (what.command !== undefined && what.command.length === 0) {
    throw usageError("nothing after --: give the command to run, e.g. -- make test")
  }
  if (values.mode !== undefined && values.mode !== "interactive" && values.mode !== "oneshot") {
    throw usageError(`--mode must be interactive or oneshot, got ${JSON.stringify(values.mode)}`)
  }
  const maxDurationMs =
    values["max-duration"] === undefined ? undefined : parseDuration(values["max-duration"])
  const cols = integer("cols", values.cols)
  const rows = integer("rows", values.rows)
  const env = envEntries(values.env ?? [])
  const allow = values["auto-approve"] ?? []
  for (const pattern of allow) {
    try {
      new RegExp(pattern, "u")
    } catch (error) {
      throw usageError(`--auto-approve ${JSON.stringify(pattern)}: ${String(error)}`)
    }
  }
  const worktree =
    values.branch !== undefined || values.base !== undefined
      ? {
          ...(values.branch !== undefined ? { branch: values.branch } : {}),
          ...(values.base !== undefined ? { base: values.base } : {}),
        }
      : values.worktree === true
        ? (true as const)
        : undefined
  return {
    provider: what.provider,
    cwd: resolve(cwd, values.cwd ?? "."),
    ...(what.prompt !== undefined ? { prompt: what.prompt } : {}),
    ...(values.mode !== undefined ? { mode: values.mode } : {}),
    ...(what.command !== undefined ? { command: [...what.command] } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.account !== undefined ? { accountId: values.account } : {}),
    ...(maxDurationMs !== undefined ? { maxDurationMs } : {}),
    ...(cols !== undefined ? { cols } : {}),
    ...(rows !== undefined ? { rows } : {}),
    ...(env !== undefined ? { env } : {}),
    ...(worktree !== undefined ? { worktree } : {}),
    ...(allow.length > 0 ? { autoApprove: { allow } } : {}),
  }
}
