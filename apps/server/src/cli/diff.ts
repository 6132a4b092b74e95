import { WorkspaceDiff } from "@geppetto/protocol"
import { connect } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"

export const usage = `usage: geppetto diff [flags] RUNNER

Prints what RUNNER changed in its git workspace against its base commit: committed,
uncommitted and untracked files (git's unified diff). RUNNER is a runner id or name.

  --stat                 the files only, with lines added and deleted

${CONNECTION_USAGE}`

const STATUS_MARK = { added: "A", modified: "M", deleted: "D", renamed: "R" } as const

/** A file name for a terminal: control characters (an agent may name a file with ESC) escaped. */
const printable = (name: string) =>
  name.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, { stat: { type: "boolean" } })
  const [ref = ""] = positionals(given, ["RUNNER"])
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)
  const stat = values.stat === true
  const diff = await client.json(
    "GET",
    `/api/runners/${encodeURIComponent(runner.id)}/diff${stat ? "?stat=1" : ""}`,
    WorkspaceDiff,
  )
  if (!stat) {
    await writeStdout(diff.patch)
    if (diff.truncated === true) {
      const omitted = diff.files.filter((f) => f.omitted === true).map((f) => f.path)
      process.stderr.write(`geppetto: too large to show: ${omitted.map(printable).join(", ")}\n`)
    }
    return 0
  }
  const lines = diff.files.map((f) => {
    const counts = f.binary === true ? "binary" : `+${f.additions} -${f.deletions}`
    const name =
      f.oldPath === undefined
        ? printable(f.path)
        : `${printable(f.oldPath)} -> ${printable(f.path)}`
    return `${STATUS_MARK[f.status]} ${counts.padEnd(14)} ${name}`
  })
  const added = diff.files.reduce((n, f) => n + f.additions, 0)
  const deleted = diff.files.reduce((n, f) => n + f.deletions, 0)
  lines.push(`${diff.files.length} files, +${added} -${deleted}`)
  await writeStdout(`${lines.join("\n")}\n`)
  return 0
}
