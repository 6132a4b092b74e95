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
import { usageError } from "./errors.js"
import { START_FLAGS, START_FLAGS_USAGE, startRequest } from "./start-flags.js"

export { parseDuration } from "./start-flags.js"

export const usage = `usage: geppetto run [flags] PROVIDER [PROMPT] [-- COMMAND [ARG...]]
       geppetto run --resume RUNNER [--fork] [flags] [PROMPT]

Starts a runner and prints its id and name. PROVIDER is claude, codex, gemini, opencode,
qwen, cursor-agent, aider or shell; the shell provider runs COMMAND (its argv, no shell
in between unless you name one), or your login shell when there is none.

${START_FLAGS_USAGE}
  --resume RUNNER        continue the conversation of a finished agent runner (an id or a
                         name) in a new runner, in its folder (Claude Code, Codex)
  --fork                 with --resume: a new session from its history (Claude Code)
  --attach               attach this terminal to it right away (tmux attach)
  --json                 print the runner as JSON

${CONNECTION_USAGE}`

const parseRunArgs = (argv: ReadonlyArray<string>) =>
  parseCommandArgs(argv, {
    ...START_FLAGS,
    attach: { type: "boolean" },
    json: { type: "boolean" },
    resume: { type: "string" },
    fork: { type: "boolean" },
  })
type RunValues = ReturnType<typeof parseRunArgs>["values"]

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, before, after } = parseRunArgs(argv)
  if (values.fork === true && values.resume === undefined) {
    throw usageError("--fork goes with --resume RUNNER")
  }
  if (values.resume !== undefined) return runResumed(values.resume, values, before, after, ctx)
  // Positionals before `--` are PROVIDER and PROMPT; everything after it is the argv.
  const [provider = "", prompt] = positionals(before, ["PROVIDER"], ["PROMPT"])
  const body = startRequest(values, { provider, prompt, command: after }, ctx.cwd)
  const client = await connect(values, ctx.env)
  return started(await client.json("POST", "/api/runners", RunnerDetail, body), values, ctx)
}

/** `--resume RUNNER [--fork] [PROMPT]`: the parent's provider, and its folder (no --cwd). */
const runResumed = async (
  ref: string,
  values: RunValues,
  before: ReadonlyArray<string>,
  after: ReadonlyArray<string> | undefined,
  ctx: CliContext,
): Promise<number> => {
  const [prompt] = positionals(before, [], ["PROMPT"])
  if (after !== undefined) throw usageError("--resume takes no command after --")
  if (values.cwd !== undefined) throw usageError("--resume runs in the parent's folder: no --cwd")
  const client = await connect(values, ctx.env)
  const parent = await client.resolveRunner(ref)
  const { cwd: _cwd, ...body } = startRequest(
    values,
    { provider: parent.provider, prompt, command: undefined },
    ctx.cwd,
  )
  const request = {
    ...body,
    resume: { runnerId: parent.id, ...(values.fork ? { fork: true } : {}) },
  }
  return started(await client.json("POST", "/api/runners", RunnerDetail, request), values, ctx)
}

const started = async (runner: RunnerDetail, values: RunValues, ctx: CliContext) => {
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
