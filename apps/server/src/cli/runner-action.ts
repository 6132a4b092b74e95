import { RunnerDetail } from "@geppetto/protocol"
import { connect, describeRunner } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  type CommandModule,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"

export interface RunnerAction {
  readonly command: string
  /** What it does, for its usage text. */
  readonly description: string
  /** The API call: `POST /api/runners/:id/ACTION`, or `DELETE /api/runners/:id`. */
  readonly action: "pause" | "resume" | "terminate" | "delete"
  /** Printed before the runner's name, e.g. `paused`. */
  readonly done: string
}

/** A command that takes one runner (id or name) and does one lifecycle call on it. */
export const runnerAction = (spec: RunnerAction): CommandModule => ({
  usage: `usage: geppetto ${spec.command} [connection flags] RUNNER

${spec.description} RUNNER is a runner id or name.

${CONNECTION_USAGE}`,
  run: async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
    const { values, positionals: given } = parseCommandArgs(argv, {})
    const [ref = ""] = positionals(given, ["RUNNER"])
    const client = await connect(values, ctx.env)
    const runner = await client.resolveRunner(ref)
    const path = `/api/runners/${encodeURIComponent(runner.id)}`
    if (spec.action === "delete") {
      await client.request("DELETE", path)
      await writeStdout(`${spec.done} ${describeRunner(runner)}\n`)
      return 0
    }
    const after = await client.json("POST", `${path}/${spec.action}`, RunnerDetail)
    await writeStdout(`${spec.done} ${describeRunner(after)}: ${after.status}\n`)
    return 0
  },
})
