import type { RunnerSummary } from "@geppetto/protocol"
import { connect } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"

export const usage = `usage: geppetto ls [--json] [connection flags]

Lists runners, live and finished: id, name, provider, status, whether it waits for you
(and why), age and output size.

  --json   print the server's JSON (RunnerSummary[]) as is

${CONNECTION_USAGE}`

/** `42s`, `7m`, `3h`, `12d`: the coarsest unit that is at least 1. */
export const formatAge = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86_400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86_400)}d`
}

/** `812B`, `4.2K`, `31M`, `1.5G` (binary units, as `ls -h` prints them). */
export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n}B`
  const units = ["K", "M", "G", "T"]
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)}${units[unit]}`
}

const statusOf = (r: RunnerSummary): string =>
  r.exitCode !== undefined && r.status === "failed" ? `failed (exit ${r.exitCode})` : r.status

const waitingOf = (r: RunnerSummary): string =>
  r.waitingForInput ? (r.attentionReason === undefined ? "yes" : `yes (${r.attentionReason})`) : "-"

/** Columns padded to their widest cell; the last one is not padded. */
export const formatTable = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows.reduce<number[]>(
    (w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)),
    [],
  )
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("")
}

export const runnerTable = (runners: ReadonlyArray<RunnerSummary>, now: number): string =>
  formatTable([
    ["ID", "NAME", "PROVIDER", "STATUS", "WAITING", "AGE", "BYTES"],
    ...[...runners]
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((r) => [
        r.id,
        r.name,
        r.provider,
        statusOf(r),
        waitingOf(r),
        formatAge(now - r.createdAt),
        formatBytes(r.bytesOut),
      ]),
  ])

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, { json: { type: "boolean" } })
  positionals(given, [])
  const client = await connect(values, ctx.env)
  if (values.json === true) {
    const response = await client.request("GET", "/api/runners")
    await writeStdout(`${await response.text()}\n`)
    return 0
  }
  await writeStdout(runnerTable(await client.runners(), Date.now()))
  return 0
}
