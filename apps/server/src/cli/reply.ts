import { connect, describeRunner } from "./client.js"
import { type CliContext, CONNECTION_USAGE, parseCommandArgs, positionals } from "./command.js"
import { CliError, ExitCode } from "./errors.js"

export const usage = `usage: geppetto reply [connection flags] RUNNER [ANSWER]

Answers the prompt RUNNER waits on with one of its quick answers (what a notification's
buttons do): the answer's keys are typed only while that same prompt still waits, else
nothing is typed and the command exits 1. Without ANSWER, prints the answers offered, one a
line. ANSWER is a label (case-insensitive), e.g. geppetto reply claude-3f9a1c yes

${CONNECTION_USAGE}`

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {})
  const [ref = "", wanted] = positionals(given, ["RUNNER"], ["ANSWER"])
  const client = await connect(values, ctx.env)
  const found = await client.resolveRunner(ref)
  const runner = await client.runner(found.id)
  const answers = runner.answers ?? []
  if (!runner.waitingForInput || runner.attentionId === undefined) {
    throw new CliError(`${describeRunner(found)} is not waiting on a prompt`, ExitCode.failure)
  }
  if (wanted === undefined) {
    if (answers.length === 0) {
      process.stderr.write(
        `${describeRunner(found)} waits (${runner.attentionReason ?? "input"}) but offers no quick answers; type with geppetto send\n`,
      )
      return 0
    }
    for (const answer of answers) process.stdout.write(`${answer.label}\n`)
    return 0
  }
  const answer = answers.find((a) => a.label.toLowerCase() === wanted.toLowerCase())
  if (answer === undefined) {
    throw new CliError(
      `${describeRunner(found)} offers ${answers.length === 0 ? "no quick answers" : answers.map((a) => JSON.stringify(a.label)).join(", ")}, not ${JSON.stringify(wanted)}`,
      ExitCode.usage,
    )
  }
  const response = await client.request(
    "POST",
    `/api/runners/${encodeURIComponent(found.id)}/reply`,
    { body: { attentionId: runner.attentionId, label: answer.label }, accept: [409] },
  )
  if (response.status === 409) {
    throw new CliError(
      `${describeRunner(found)} no longer waits on that prompt; nothing was typed`,
      ExitCode.failure,
    )
  }
  if (process.stderr.isTTY)
    process.stderr.write(`answered ${answer.label} to ${describeRunner(found)}\n`)
  return 0
}
