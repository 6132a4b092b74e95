import {
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_QUERY,
  SEARCH_MIN_QUERY,
  SearchStreamLine,
} from "@geppetto/protocol"
import { connect } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { CliError, ExitCode, usageError } from "./errors.js"

export const usage = `usage: geppetto grep [--runner RUNNER] [-n N] [--json] PATTERN

Searches every kept byte of the runners' output for PATTERN, a literal text (not a regular
expression), ignoring case and terminal escape sequences (colours, cursor moves). Prints one
line per hit as it is found, newest runner first:

  RUNNER-NAME:OFFSET: LINE

OFFSET is the hit's byte offset in the runner's log (\`geppetto logs\` prints the same bytes).
Exit 0 with hits, 1 without (as grep). A search reads for at most 2 seconds: a note on
stderr says when it stopped early.

  --runner RUNNER   search this runner only (an id or a name)
  -n, --limit N     at most N hits (1 to ${SEARCH_MAX_LIMIT}, default 100)
  --json            one JSON line per hit and a last {"type":"end",...}, as the server sends them

${CONNECTION_USAGE}`

const limitOf = (given: string | undefined): number | undefined => {
  if (given === undefined) return undefined
  const n = /^[0-9]{1,4}$/.test(given) ? Number(given) : Number.NaN
  if (!(n >= 1 && n <= SEARCH_MAX_LIMIT)) {
    throw usageError(`--limit must be a whole number from 1 to ${SEARCH_MAX_LIMIT}, not ${given}`)
  }
  return n
}

/** A line for a terminal: control characters the server left (none, normally) escaped. */
const printable = (text: string) =>
  text.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    runner: { type: "string" },
    limit: { type: "string", short: "n" },
    json: { type: "boolean" },
  })
  const [pattern = ""] = positionals(given, ["PATTERN"])
  if (pattern.trim().length < SEARCH_MIN_QUERY || pattern.length > SEARCH_MAX_QUERY) {
    throw usageError(
      `PATTERN must be ${SEARCH_MIN_QUERY} to ${SEARCH_MAX_QUERY} characters (besides spaces)`,
    )
  }
  const limit = limitOf(values.limit)
  const client = await connect(values, ctx.env)
  const params = new URLSearchParams({ q: pattern })
  if (typeof values.runner === "string") {
    params.set("runner", (await client.resolveRunner(values.runner)).id)
  }
  if (limit !== undefined) params.set("limit", String(limit))
  const response = await client.request("GET", `/api/search?${params}`, {
    headers: { accept: "application/x-ndjson" },
  })
  let hits = 0
  let ended = false
  const handle = async (text: string) => {
    if (text === "") return
    const parsed = SearchStreamLine.safeParse(JSON.parse(text))
    if (!parsed.success)
      throw new CliError(
        `the server sent an unexpected line: ${text.slice(0, 200)}`,
        ExitCode.failure,
      )
    const line = parsed.data
    if (values.json === true) await writeStdout(`${text}\n`)
    if (line.type === "hit") {
      hits++
      if (values.json !== true)
        await writeStdout(`${line.name}:${line.offset}: ${printable(line.line)}\n`)
      return
    }
    ended = true
    if (line.timedOut)
      process.stderr.write("geppetto: the search ran out of time: not every log was searched\n")
    else if (line.truncated)
      process.stderr.write(`geppetto: stopped at ${hits} hits (-n to change)\n`)
  }
  const decoder = new TextDecoder()
  let pending = ""
  for await (const chunk of response.body ?? []) {
    pending += decoder.decode(chunk, { stream: true })
    let newline = pending.indexOf("\n")
    while (newline >= 0) {
      await handle(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
      newline = pending.indexOf("\n")
    }
  }
  await handle(pending + decoder.decode())
  if (!ended) throw new CliError("the search was cut short by the server", ExitCode.failure)
  return hits > 0 ? ExitCode.ok : ExitCode.failure
}
