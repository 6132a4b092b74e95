import { setTimeout as sleep } from "node:timers/promises"
import { EventsServerMessage, type RunnerSummary } from "@geppetto/protocol"
import WebSocket from "ws"
import {
  type ApiClient,
  connect,
  describeRunner,
  errorMessageIn,
  FINAL_STATUSES,
  networkErrorCode,
  statusError,
} from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { CliError, ExitCode, usageError } from "./errors.js"

export const usage = `usage: geppetto wait [--for done|waiting|idle] [--timeout SECONDS] [--json] RUNNER

Waits until the runner reaches a state, then prints \`ID NAME STATUS\`. It follows the
server's event stream (WS /api/events), not a polling loop, and reconnects when the
connection drops. A runner already in that state returns at once. RUNNER is an id or name.

  --for done       (default) until it ends: exit 0 when it completed, 1 when it failed
  --for waiting    until it waits for a person (a permission prompt, a question, or an
                   agent back at its prompt): exit 0; exit 1 if it ends first
  --for idle       until an agent is back at its prompt, its turn over (status idle):
                   exit 0; exit 1 if it ends first
  --timeout SECS   give up after SECS seconds (decimals allowed): exit 6
  --json           print the runner's summary as JSON instead

${CONNECTION_USAGE}`

type Target = "done" | "waiting" | "idle"

const isTarget = (text: string): text is Target =>
  text === "done" || text === "waiting" || text === "idle"

/** Whether `runner` is where `target` says, or past it (it ended). */
export const reached = (runner: RunnerSummary, target: Target): boolean => {
  if (FINAL_STATUSES.has(runner.status)) return true
  if (target === "waiting") return runner.waitingForInput
  if (target === "idle") return runner.status === "idle"
  return false
}

/** The exit code for a runner that `reached` the target (or ended first). */
export const exitCodeFor = (runner: RunnerSummary, target: Target): number => {
  if (target === "done") return runner.status === "completed" ? ExitCode.ok : ExitCode.failure
  return FINAL_STATUSES.has(runner.status) ? ExitCode.failure : ExitCode.ok
}

const parseTimeout = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  if (!/^[0-9]{1,9}(\.[0-9]{1,3})?$/.test(text)) {
    throw usageError(
      `--timeout must be a number of seconds, e.g. 30 or 2.5; got ${JSON.stringify(text)}`,
    )
  }
  return Number(text) * 1000
}

/** `WS /api/events` of the client's server (auth goes in a header, not the URL). */
const eventsUrl = (client: ApiClient): string => {
  const url = new URL(`${client.connection.url}/api/events`)
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  return url.toString()
}

type Outcome =
  | { readonly kind: "reached"; readonly runner: RunnerSummary }
  | { readonly kind: "removed" }
  | { readonly kind: "timeout" }
  | { readonly kind: "dropped"; readonly opened: boolean; readonly why: string }
  | { readonly kind: "fatal"; readonly error: unknown }

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504])

/**
 * One connection to `/api/events`: resolves when the runner reaches the target (its state is
 * in the first `runners` message, then in every `runner` message), when it is removed, when
 * `deadline` passes, or when the socket drops.
 */
const watchOnce = (
  client: ApiClient,
  id: string,
  target: Target,
  deadline: number | undefined,
): Promise<Outcome> =>
  new Promise((resolve) => {
    const ws = new WebSocket(eventsUrl(client), { headers: client.authHeaders() })
    let outcome: Outcome | undefined
    let opened = false
    let why = "the connection closed"
    const finish = (result: Outcome) => {
      outcome ??= result
      ws.terminate()
    }
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => finish({ kind: "timeout" }), Math.max(0, deadline - Date.now()))
    const check = (runner: RunnerSummary | undefined) => {
      if (runner === undefined) finish({ kind: "removed" })
      else if (reached(runner, target)) finish({ kind: "reached", runner })
    }
    ws.on("open", () => {
      opened = true
    })
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary || outcome !== undefined) return
      let json: unknown
      try {
        json = JSON.parse(data.toString("utf8"))
      } catch {
        return
      }
      const parsed = EventsServerMessage.safeParse(json)
      if (!parsed.success) return
      const message = parsed.data
      // The whole list: first on connect, and again after the server resynced a slow watcher.
      if (message.type === "runners") check(message.runners.find((r) => r.id === id))
      else if (message.type === "runner" && message.runner.id === id) check(message.runner)
      else if (message.type === "removed" && message.runnerId === id) check(undefined)
    })
    ws.on("unexpected-response", (request, response) => {
      const status = response.statusCode ?? 0
      why = `the server answered ${status}`
      const chunks: Buffer[] = []
      response.on("data", (chunk: Buffer) => {
        if (chunks.length < 64) chunks.push(chunk)
      })
      response.on("end", () => {
        if (!RETRYABLE_STATUS.has(status)) {
          let message: string | undefined
          try {
            message = errorMessageIn(JSON.parse(Buffer.concat(chunks).toString("utf8")))
          } catch {
            message = undefined
          }
          outcome ??= {
            kind: "fatal",
            error: statusError(client.connection, status, message, "wait"),
          }
        }
        request.destroy()
        ws.terminate()
      })
    })
    ws.on("error", (error) => {
      why = networkErrorCode(error) ?? error.message
    })
    ws.on("close", () => {
      if (timer !== undefined) clearTimeout(timer)
      resolve(outcome ?? { kind: "dropped", opened, why })
    })
  })

/** How long `wait` keeps reconnecting to a server that does not answer (without --timeout). */
const GIVE_UP_AFTER_MS = 120_000

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    for: { type: "string" },
    timeout: { type: "string" },
    json: { type: "boolean" },
  })
  const [ref = ""] = positionals(given, ["RUNNER"])
  const target = values.for ?? "done"
  if (!isTarget(target)) {
    throw usageError(`--for must be done, waiting or idle; got ${JSON.stringify(target)}`, true)
  }
  const timeoutMs = parseTimeout(values.timeout)
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)

  let failures = 0
  let lostSince = Date.now()
  for (;;) {
    const outcome = await watchOnce(client, runner.id, target, deadline)
    if (outcome.kind === "reached") {
      const now = outcome.runner
      if (values.json === true) await writeStdout(`${JSON.stringify(now, null, 2)}\n`)
      else {
        const reason = now.attentionReason === undefined ? "" : ` ${now.attentionReason}`
        await writeStdout(`${now.id} ${now.name} ${now.status}${reason}\n`)
      }
      if (target !== "done" && FINAL_STATUSES.has(now.status)) {
        process.stderr.write(
          `geppetto: ${describeRunner(now)} ${now.status} before it was ${target === "waiting" ? "waiting for input" : "idle"}\n`,
        )
      }
      return exitCodeFor(now, target)
    }
    if (outcome.kind === "removed") {
      throw new CliError(`${describeRunner(runner)} was removed`, ExitCode.notFound)
    }
    if (outcome.kind === "timeout") {
      process.stderr.write(
        `geppetto: ${describeRunner(runner)} was not ${target === "done" ? "done" : target} after ${values.timeout} s\n`,
      )
      return ExitCode.timeout
    }
    if (outcome.kind === "fatal") throw outcome.error
    if (outcome.opened) {
      failures = 0
      lostSince = Date.now()
    }
    if (deadline === undefined && Date.now() - lostSince > GIVE_UP_AFTER_MS) {
      throw new CliError(
        `no server at ${client.connection.url} for ${GIVE_UP_AFTER_MS / 1000} s; stopped waiting for ${describeRunner(runner)}`,
        ExitCode.serverDown,
      )
    }
    if (failures === 0) {
      process.stderr.write(`geppetto: lost the event stream (${outcome.why}); reconnecting\n`)
    }
    const pause = Math.min(5000, 100 * 2 ** failures)
    if (deadline !== undefined && Date.now() + pause >= deadline) {
      await sleep(Math.max(0, deadline - Date.now()))
      continue
    }
    await sleep(pause)
    failures++
  }
}
