import {
  CreatedSchedule,
  type CreateScheduleRequest,
  Schedule,
  ScheduleName,
  ScheduleOverlap,
  type ScheduleRun,
} from "@geppetto/protocol"
import { z } from "zod"
import { type ApiClient, connect } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { CliError, ExitCode, usageError } from "./errors.js"
import { formatAge, formatTable } from "./ls.js"
import { START_FLAGS, START_FLAGS_USAGE, startRequest } from "./start-flags.js"

export const usage = `usage: geppetto schedule add NAME --cron EXPR [--tz ZONE] [--overlap skip|allow]
                             [run flags] PROVIDER [PROMPT] [-- COMMAND [ARG...]]
       geppetto schedule ls [--json]
       geppetto schedule rm SCHEDULE
       geppetto schedule pause SCHEDULE
       geppetto schedule resume SCHEDULE

Starts runners on a schedule. Each run starts what \`geppetto run\` would with the same
flags, named --name (else NAME) plus -YYYYMMDD-HHMMSS; SCHEDULE is a schedule's id or
name. Schedules are kept by the server across restarts; a run that falls due while the
server is down is not made up.

  add      adds schedule NAME (letters, digits, _ and -, at most 44) and prints its id
           and first run
  ls       lists schedules: cron, next run, last run
  rm       removes a schedule (the runners it started stay)
  pause    no runs until resumed; resume goes on from then (nothing is made up)

  --cron EXPR            5 fields (minute hour day month weekday), or 6 with a leading
                         seconds field: '0 2 * * *' is 02:00 daily, '*/30 * * * * *' every
                         30 s, '0 9 * * MON-FRI' 09:00 on weekdays
  --tz ZONE              the time zone EXPR is read in, e.g. Europe/Berlin (default: the
                         server's)
  --overlap skip|allow   skip (default): no run while the previous one still runs;
                         allow: start it anyway
  --json                 print the server's JSON as is
${START_FLAGS_USAGE}

${CONNECTION_USAGE}`

const schedulePath = (id: string) => `/api/schedules/${encodeURIComponent(id)}`

/** The schedule a person means: the one with that id, else the one with that name. */
const resolveSchedule = async (client: ApiClient, ref: string): Promise<Schedule> => {
  const all = await client.json("GET", "/api/schedules", z.array(Schedule))
  const found = all.find((s) => s.id === ref) ?? all.find((s) => s.name === ref)
  if (found !== undefined) return found
  throw new CliError(
    `no schedule with id or name ${JSON.stringify(ref)} at ${client.connection.url} (see \`geppetto schedule ls\`)`,
    ExitCode.notFound,
  )
}

/** `2026-12-07 02:00:00` in this machine's zone. */
const localTime = (ms: number) => new Date(ms).toLocaleString("sv-SE")

const inOrAgo = (ms: number, now: number) =>
  ms >= now ? `in ${formatAge(ms - now)}` : `${formatAge(now - ms)} ago`

const runText = (run: ScheduleRun | undefined, now: number): string => {
  if (run === undefined) return "-"
  const what =
    run.outcome === "started"
      ? `${run.runnerName ?? run.runnerId ?? "?"} ${run.status ?? "removed"}`
      : run.outcome
  return `${what} (${inOrAgo(run.at, now)})`
}

const list = async (client: ApiClient, json: boolean) => {
  const all = await client.json("GET", "/api/schedules", z.array(Schedule))
  if (json) return writeStdout(`${JSON.stringify(all)}\n`)
  const now = Date.now()
  const rows = [
    ["ID", "NAME", "CRON", "NEXT RUN", "LAST RUN"],
    ...all.map((s) => [
      s.id,
      s.name,
      s.timezone === undefined ? s.cron : `${s.cron} (${s.timezone})`,
      s.paused
        ? "paused"
        : s.nextRunAt === undefined
          ? "never"
          : `${localTime(s.nextRunAt)} (${inOrAgo(s.nextRunAt, now)})`,
      runText(s.runs[0], now),
    ]),
  ]
  return writeStdout(`${formatTable(rows)}\n`)
}

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, before, after } = parseCommandArgs(argv, {
    ...START_FLAGS,
    cron: { type: "string" },
    tz: { type: "string" },
    overlap: { type: "string" },
    json: { type: "boolean" },
  })
  const [verb, ...rest] = before
  if (verb !== "add" && after !== undefined) {
    throw usageError(`only schedule add takes a command after --`, true)
  }
  switch (verb) {
    case "add": {
      const [name = "", provider = "", prompt] = positionals(rest, ["NAME", "PROVIDER"], ["PROMPT"])
      if (!ScheduleName.safeParse(name).success) {
        throw usageError(
          `${JSON.stringify(name)} is not a schedule name: letters, digits, _ and -, at most 44, not starting with -`,
        )
      }
      if (values.cron === undefined) {
        throw usageError("give the times with --cron, e.g. --cron '0 2 * * *'", true)
      }
      const overlap = values.overlap
      if (overlap !== undefined && !ScheduleOverlap.safeParse(overlap).success) {
        throw usageError(`--overlap must be skip or allow, got ${JSON.stringify(overlap)}`)
      }
      const body: CreateScheduleRequest = {
        name,
        cron: values.cron,
        ...(values.tz !== undefined ? { timezone: values.tz } : {}),
        ...(overlap === "skip" || overlap === "allow" ? { overlap } : {}),
        start: startRequest(values, { provider, prompt, command: after }, ctx.cwd),
      }
      const client = await connect(values, ctx.env)
      const created = await client.json("POST", "/api/schedules", CreatedSchedule, body)
      if (values.json === true) await writeStdout(`${JSON.stringify(created)}\n`)
      else {
        await writeStdout(
          `${created.id} ${name} first run ${localTime(created.nextRunAt)} (${inOrAgo(created.nextRunAt, Date.now())})\n`,
        )
      }
      return 0
    }
    case "ls":
      positionals(rest, [])
      await list(await connect(values, ctx.env), values.json === true)
      return 0
    case "rm":
    case "pause":
    case "resume": {
      const [ref = ""] = positionals(rest, ["SCHEDULE"])
      const client = await connect(values, ctx.env)
      const target = await resolveSchedule(client, ref)
      if (verb === "rm") {
        await client.request("DELETE", schedulePath(target.id))
        if (process.stderr.isTTY) process.stderr.write(`removed ${target.name} (${target.id})\n`)
        return 0
      }
      const changed = await client.json("POST", `${schedulePath(target.id)}/${verb}`, Schedule)
      await writeStdout(
        `${changed.name} is ${changed.paused ? "paused" : `active; next run ${changed.nextRunAt === undefined ? "never" : localTime(changed.nextRunAt)}`}\n`,
      )
      return 0
    }
    case undefined:
      throw usageError("missing the verb: add, ls, rm, pause or resume", true)
    default:
      throw usageError(`unknown verb ${JSON.stringify(verb)}: add, ls, rm, pause or resume`, true)
  }
}
