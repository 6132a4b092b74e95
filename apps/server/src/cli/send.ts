import { connect, describeRunner } from "./client.js"
import { type CliContext, CONNECTION_USAGE, parseCommandArgs, positionals } from "./command.js"

export const usage = `usage: geppetto send [--enter] [connection flags] RUNNER TEXT

Types TEXT into the runner's terminal, byte for byte. RUNNER is a runner id or name.
Put -- before a TEXT that starts with a dash: geppetto send RUNNER -- -y

  --enter   press Enter after the text (appends a carriage return)

${CONNECTION_USAGE}`

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, { enter: { type: "boolean" } })
  const [ref = "", text = ""] = positionals(given, ["RUNNER", "TEXT"])
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)
  await client.request("POST", `/api/runners/${encodeURIComponent(runner.id)}/input`, {
    body: { data: values.enter === true ? `${text}\r` : text },
  })
  if (process.stderr.isTTY) process.stderr.write(`sent to ${describeRunner(runner)}\n`)
  return 0
}
