import { SecretFileError } from "../auth/secret-files.js"
import { ConfigError } from "../config.js"
import { serverVersion } from "../version.js"
import type { CliContext, CommandModule } from "./command.js"
import { CliError, ExitCode } from "./errors.js"

interface CommandEntry {
  readonly summary: string
  readonly load: () => Promise<CommandModule>
}

/** Each command's module is imported only when it runs: `ls` does not load Fastify. */
const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  serve: { summary: "start the server and the dashboard", load: () => import("./serve.js") },
  run: { summary: "start a runner (an agent or any command)", load: () => import("./run.js") },
  ls: { summary: "list runners", load: () => import("./ls.js") },
  logs: { summary: "print or follow (-f) a runner's output", load: () => import("./logs.js") },
  grep: {
    summary: "search every runner's output for a text",
    load: () => import("./grep.js"),
  },
  attach: {
    summary: "attach this terminal to a runner's tmux session",
    load: () => import("./attach.js"),
  },
  send: { summary: "type text into a runner", load: () => import("./send.js") },
  reply: {
    summary: "answer a runner's prompt with one of its quick answers",
    load: () => import("./reply.js"),
  },
  pause: { summary: "pause a runner", load: () => import("./pause.js") },
  resume: { summary: "resume a paused runner", load: () => import("./resume.js") },
  stop: { summary: "terminate a runner (it stays listed)", load: () => import("./stop.js") },
  rm: { summary: "remove a runner and its logs", load: () => import("./rm.js") },
  wait: {
    summary: "wait until a runner is done, waiting for input or idle",
    load: () => import("./wait.js"),
  },
  schedule: {
    summary: "start runners on a schedule (cron): add, ls, rm, pause, resume",
    load: () => import("./schedule.js"),
  },
  diff: {
    summary: "print what a runner changed in its git workspace",
    load: () => import("./diff.js"),
  },
  commit: { summary: "commit a runner's changes on its branch", load: () => import("./commit.js") },
  merge: {
    summary: "merge a runner's branch into its base branch",
    load: () => import("./merge.js"),
  },
  users: {
    summary: "add, list, remove users or change their role (admins)",
    load: () => import("./users.js"),
  },
  audit: {
    summary: "print or follow (-f) who did what (admins)",
    load: () => import("./audit.js"),
  },
  doctor: {
    summary: "check tmux, the data dir, disk, providers and the port",
    load: () => import("./doctor.js"),
  },
}

export const USAGE = `usage: geppetto COMMAND [ARGS]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join("\n")}

\`geppetto COMMAND --help\` describes one. RUNNER arguments take a runner id or name.
The server is GEPPETTO_URL (or http://GEPPETTO_HOST:GEPPETTO_PORT, default
http://127.0.0.1:7420); the token GEPPETTO_TOKEN, else the data dir's tokens.json.

exit codes: 0 done, 1 failed, 2 bad usage or input, 3 no server, 4 token missing, wrong
or not allowed, 5 no such runner (or user, or schedule), 6 timed out (wait --timeout)`

const lookup = (name: string): CommandEntry | undefined =>
  Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined

const wantsHelp = (argv: ReadonlyArray<string>): boolean => {
  const end = argv.indexOf("--")
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h")
}

const complain = (message: string, code: number): number => {
  process.stderr.write(`geppetto: ${message}\n`)
  return code
}

/** `geppetto ARGV`: dispatches to a command and turns its failure into a message and exit code. */
export const main = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  // `geppetto logs ID | head`: a closed pipe is the reader's choice, not our failure.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(ExitCode.ok)
    throw error
  })
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? rest[0] : undefined
    const entry = topic === undefined ? undefined : lookup(topic)
    if (topic !== undefined && entry === undefined) {
      return complain(`unknown command ${JSON.stringify(topic)}\n\n${USAGE}`, ExitCode.usage)
    }
    process.stdout.write(`${entry === undefined ? USAGE : (await entry.load()).usage}\n`)
    return ExitCode.ok
  }
  if (name === "--version" || name === "version") {
    process.stdout.write(`geppetto ${serverVersion}\n`)
    return ExitCode.ok
  }
  const entry = lookup(name)
  if (entry === undefined) {
    return complain(`unknown command ${JSON.stringify(name)}\n\n${USAGE}`, ExitCode.usage)
  }
  const command = await entry.load()
  if (wantsHelp(rest)) {
    process.stdout.write(`${command.usage}\n`)
    return ExitCode.ok
  }
  try {
    return await command.run(rest, ctx)
  } catch (error) {
    if (error instanceof CliError) {
      return complain(
        error.showUsage ? `${error.message}\n\n${command.usage}` : error.message,
        error.exitCode,
      )
    }
    if (error instanceof ConfigError || error instanceof SecretFileError) {
      return complain(error.message, ExitCode.usage)
    }
    return complain(error instanceof Error ? error.message : String(error), ExitCode.failure)
  }
}
