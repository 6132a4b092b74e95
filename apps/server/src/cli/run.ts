import { RunnerDetail } from "@geppetto/protocol"
import { attachTo } from "./attach.js"
import { connect, describeRunner } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { START_FLAGS, START_FLAGS_USAGE, startRequest } from "./start-flags.js"

export { parseDuration } from "./start-flags.js"

export const usage = `usage: geppetto run [flags] PROVIDER [PROMPT] [-- COMMAND [ARG...]]

Starts a runner and prints its id and name. PROVIDER is claude, codex, gemini, opencode,
qwen, cursor-agent, aider or shell; the shell provider runs COMMAND (its argv, no shell
in between unless you name one), or your login shell when there is none.

${START_FLAGS_USAGE}
  --attach               attach this terminal to it right away (tmux attach)
  --json                 print the runner as JSON

${CONNECTION_USAGE}`

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, before, after } = parseCommandArgs(argv, {
    ...START_FLAGS,
    attach: { type: "boolean" },
    json: { type: "boolean" },
  })
  // Positionals before `--` are PROVIDER and PROMPT; everything after it is the argv.
  const [provider = "", prompt] = positionals(before, ["PROVIDER"], ["PROMPT"])
  const body = startRequest(values, { provider, prompt, command: after }, ctx.cwd)
  const client = await connect(values, ctx.env)
  const runner = await client.json("POST", "/api/runners", RunnerDetail, body)
  if (values.attach === true) return attachTo(runner.session, ctx.env)
  if (values.json === true) {
    await writeStdout(`${JSON.stringify(runner, null, 2)}\n`)
    return 0
  }
  await writeStdout(`${runner.id} ${runner.name}\n`)
  if (process.stderr.isTTY) {
    process.stderr.write(
      `started ${describeRunner(runner)}; watch it with \`geppetto logs -f ${runner.name}\`, attach with \`geppetto attach ${runner.name}\`\n`,
    )
  }
  return 0
}
