import { CommitResult, type MergeRequest } from "@geppetto/protocol"
import { connect, describeRunner } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"

export const usage = `usage: geppetto merge [flags] RUNNER

Merges RUNNER's branch into its base branch (or --into BRANCH). Where that branch is
checked out, its work tree is updated and left clean. A conflict, or uncommitted changes in
either work tree, change nothing and exit 1. Prints the new commit.

  --into BRANCH          the branch to merge into (default: the runner's base branch)
  --squash               one commit of all the changes instead of a merge commit

${CONNECTION_USAGE}`

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    into: { type: "string" },
    squash: { type: "boolean" },
  })
  const [ref = ""] = positionals(given, ["RUNNER"])
  const body: MergeRequest = {
    ...(values.into !== undefined ? { into: values.into } : {}),
    ...(values.squash === true ? { strategy: "squash" as const } : {}),
  }
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)
  const result = await client.json(
    "POST",
    `/api/runners/${encodeURIComponent(runner.id)}/merge`,
    CommitResult,
    body,
  )
  await writeStdout(`${result.commit}\n`)
  if (process.stderr.isTTY) process.stderr.write(`merged ${describeRunner(runner)}'s branch\n`)
  return 0
}
