import {
  AUDIT_LIMIT_MAX,
  AuditAction,
  AuditEntry,
  AuditResponse,
  SAFE_ID_PATTERN,
} from "@geppetto/protocol"
import { type ApiClient, connect } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { CliError, ExitCode, usageError } from "./errors.js"

export const usage = `usage: geppetto audit [--runner RUNNER] [--user USER] [--action ACTION] [-n N] [-f] [--json]

Prints the audit trail: who did what, when, to which runner, oldest first and the newest
last (an admin's token is needed). Typing is listed as a byte count per burst, never what
was typed.

  --runner RUNNER   only entries about this runner (an id or a name; a removed runner's id)
  --user USER       only what USER did (failed logins are by anonymous)
  --action ACTION   only this action, e.g. runner.input, login.failed, workspace.merge
  -n, --limit N     the newest N entries (1 to ${AUDIT_LIMIT_MAX}, default 100)
  -f, --follow      then keep printing each new entry as it is recorded (Ctrl-C stops);
                    it ends if your user is removed or is no longer an admin
  --json            one JSON entry per line, as the server sends them

${CONNECTION_USAGE}`

const pad = (n: number) => String(n).padStart(2, "0")

/** `YYYY-MM-DD HH:MM:SS` in local time. */
const formatTime = (at: number): string => {
  const d = new Date(at)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** One entry as a line: time, user, action, runner, detail, and the address of a login. */
export const formatEntry = (entry: AuditEntry): string =>
  [
    formatTime(entry.at),
    entry.user.padEnd(10),
    entry.action.padEnd(18),
    (entry.runnerId ?? "-").padEnd(16),
    entry.detail ?? "",
    entry.address === undefined ? "" : `from ${entry.address}`,
  ]
    .join("  ")
    .trimEnd()

const limitOf = (given: string | undefined): number | undefined => {
  if (given === undefined) return undefined
  const n = /^[0-9]{1,4}$/.test(given) ? Number(given) : Number.NaN
  if (!(n >= 1 && n <= AUDIT_LIMIT_MAX)) {
    throw usageError(`--limit must be a whole number from 1 to ${AUDIT_LIMIT_MAX}, not ${given}`)
  }
  return n
}

const actionOf = (given: string | undefined): AuditAction | undefined => {
  if (given === undefined) return undefined
  const parsed = AuditAction.safeParse(given)
  if (!parsed.success) {
    throw usageError(`${JSON.stringify(given)} is not an action: ${AuditAction.options.join(", ")}`)
  }
  return parsed.data
}

/** The runner's id: a listed runner by id or name, else an id-shaped ref as is (removed ones). */
const runnerIdOf = async (client: ApiClient, ref: string): Promise<string> => {
  try {
    return (await client.resolveRunner(ref)).id
  } catch (error) {
    if (error instanceof CliError && error.exitCode === ExitCode.notFound) {
      if (SAFE_ID_PATTERN.test(ref)) return ref
    }
    throw error
  }
}

/** Prints each NDJSON line of `response` as it comes, until the server ends the stream. */
const printStream = async (response: Response, print: (entry: AuditEntry) => string) => {
  const reader = response.body?.getReader()
  if (reader === undefined) return
  const decoder = new TextDecoder()
  let pending = ""
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    pending += decoder.decode(value, { stream: true })
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    const out = lines
      .filter((line) => line !== "")
      .map((line) => {
        const parsed = AuditEntry.safeParse(JSON.parse(line))
        if (!parsed.success)
          throw new CliError(
            `unexpected line from the server: ${line.slice(0, 200)}`,
            ExitCode.failure,
          )
        return `${print(parsed.data)}\n`
      })
    if (out.length > 0) await writeStdout(out.join(""))
  }
}

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    runner: { type: "string" },
    user: { type: "string" },
    action: { type: "string" },
    limit: { type: "string", short: "n" },
    follow: { type: "boolean", short: "f" },
    json: { type: "boolean" },
  })
  positionals(given, [])
  const limit = limitOf(values.limit)
  const action = actionOf(values.action)
  if (values.user === "") throw usageError("--user needs a name")
  const client = await connect(values, ctx.env)
  const query = new URLSearchParams()
  if (values.runner !== undefined) query.set("runner", await runnerIdOf(client, values.runner))
  if (values.user !== undefined) query.set("user", values.user)
  if (action !== undefined) query.set("action", action)
  if (limit !== undefined) query.set("limit", String(limit))
  const print = values.json === true ? (e: AuditEntry) => JSON.stringify(e) : formatEntry
  if (values.follow === true) {
    query.set("follow", "true")
    const response = await client.request("GET", `/api/audit?${query}`)
    try {
      await printStream(response, print)
    } catch (error) {
      if (error instanceof CliError) throw error
      throw new CliError(
        `the audit stream from ${client.connection.url} broke: ${String(error)}`,
        ExitCode.serverDown,
      )
    }
    process.stderr.write("geppetto: the server ended the audit stream\n")
    return ExitCode.failure
  }
  const { entries } = await client.json("GET", `/api/audit?${query}`, AuditResponse)
  const lines = [...entries].reverse().map((e) => `${print(e)}\n`)
  await writeStdout(lines.join(""))
  return 0
}
