import { CommitResult } from "@geppetto/protocol"
import { connect, describeRunner } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { usageError } from "./errors.js"

export const usage = `usage: geppetto commit [flags] RUNNER -m MESSAGE

Stages everything RUNNER changed in its git workspace (ignored files left out) and commits
it on its branch. Prints the commit. RUNNER is a runner id or name.

  -m, --message MESSAGE  the commit message

${CONNECTION_USAGE}`

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    message: { type: "string", short: "m" },
  })
  const [ref = ""] = positionals(given, ["RUNNER"])
  if (values.message === undefined || values.message.trim() === "") {
    throw usageError("give the commit message with -m MESSAGE", true)
  }
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)
  const result = await client.json(
    "POST",
    `/api/runners/${encodeURIComponent(runner.id)}/commit`,
    CommitResult,
    { message: values.message },
  )
  await writeStdout(`${result.commit}\n`)
  if (process.stderr.isTTY) process.stderr.write(`committed ${describeRunner(runner)}'s work\n`)
  return 0
}
