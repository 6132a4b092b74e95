import { setTimeout as sleep } from "node:timers/promises"
import { decodeOutputFrame, TerminalServerMessage } from "@geppetto/protocol"
import WebSocket from "ws"
import {
  type ApiClient,
  connect,
  errorMessageIn,
  FINAL_STATUSES,
  networkErrorCode,
  statusError,
  unreachable,
} from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { CliError, ExitCode } from "./errors.js"

export const usage = `usage: geppetto logs [-f] [connection flags] RUNNER

Prints the runner's output, byte for byte as the terminal received it (escape sequences
included; pipe it to \`less -R\`). RUNNER is a runner id or name.

  -f, --follow   keep printing new output until the runner ends (or Ctrl-C); a dropped
                 connection is resumed exactly where it stopped

${CONNECTION_USAGE}`

const logPath = (id: string, from: number | undefined) =>
  `/api/runners/${encodeURIComponent(id)}/log${from === undefined ? "" : `?from=${from}`}`

/** Where printing has got to: the offset after the last byte written to stdout. */
interface Cursor {
  offset: number
}

/**
 * Copies output from `cursor.offset` (undefined: the oldest kept byte) up to `to` (or the
 * end written so far) to stdout, advancing the cursor with every write so that a failure
 * midway never leads to bytes printed twice. False when those bytes are no longer kept
 * (log retention deleted them).
 */
const copyLog = async (
  client: ApiClient,
  id: string,
  cursor: { offset: number | undefined },
  to?: number,
): Promise<boolean> => {
  const from = cursor.offset
  const response = await client.request("GET", logPath(id, from), {
    headers: to === undefined || from === undefined ? {} : { range: `bytes=${from}-${to - 1}` },
    accept: [416],
  })
  if (response.status === 416) {
    await response.body?.cancel()
    return false
  }
  let offset = from ?? Number(response.headers.get("x-log-start") ?? "0")
  cursor.offset = offset
  const reader = response.body?.getReader()
  for (;;) {
    if (reader === undefined) return true
    const chunk = await reader.read().catch((error: unknown) => {
      throw unreachable(client.connection.url, error)
    })
    if (chunk.done) return true
    await writeStdout(chunk.value)
    offset += chunk.value.length
    cursor.offset = offset
  }
}

type SocketOutcome =
  | { readonly kind: "ended" }
  | { readonly kind: "dropped"; readonly opened: boolean; readonly why: string }
  | { readonly kind: "fatal"; readonly error: unknown }

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504])

/** The server's error message in a refused upgrade's body (bounded: it is a short JSON). */
const readErrorBody = (res: NodeJS.ReadableStream): Promise<string | undefined> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    res.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= 64 * 1024) chunks.push(chunk)
    })
    res.on("error", () => resolve(undefined))
    res.on("end", () => {
      try {
        resolve(errorMessageIn(JSON.parse(Buffer.concat(chunks).toString("utf8"))))
      } catch {
        resolve(undefined)
      }
    })
  })

/**
 * Follows a runner's output over its terminal socket from `state.offset`, writing each byte
 * once, in order. Frames are handled one at a time and acked only once written, so the
 * server's flow window (not our memory) absorbs a slow stdout. A frame that starts past
 * our offset (the server skipped us forward to a snapshot) has the gap filled from the log
 * over HTTP. Resolves when the socket closes, saying whether the runner ended.
 */
const followSocket = (client: ApiClient, id: string, state: Cursor): Promise<SocketOutcome> =>
  new Promise((resolve) => {
    const ws = new WebSocket(client.terminalUrl(id, state.offset), {
      headers: client.authHeaders(),
    })
    let chain = Promise.resolve()
    let opened = false
    let ended = false
    let fatal: { error: unknown } | undefined
    let why = "the connection closed"

    const fail = (error: unknown) => {
      // The server going away mid-request is a dropped stream, resumed like a dropped socket.
      if (error instanceof CliError && error.exitCode === ExitCode.serverDown) {
        why = error.message
      } else {
        fatal ??= { error }
      }
      ws.terminate()
    }
    const end = () => {
      ended = true
      ws.close(1000)
    }

    const onOutput = async (frame: Uint8Array) => {
      const { offset, bytes } = decodeOutputFrame(frame)
      if (offset + bytes.length <= state.offset) return
      if (offset > state.offset) {
        // The server skipped us forward (we fell behind): the gap comes from the log.
        const kept = await copyLog(client, id, state, offset)
        if (!kept || state.offset < offset) {
          process.stderr.write(
            `geppetto: output bytes ${state.offset}-${offset} are no longer kept; skipped\n`,
          )
        }
        state.offset = offset
      }
      await writeStdout(bytes.subarray(state.offset - offset))
      state.offset = offset + bytes.length
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ type: "ack", offset: state.offset }))
      }
    }

    const onJson = (text: string) => {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return
      }
      const parsed = TerminalServerMessage.safeParse(json)
      if (!parsed.success) return
      const message = parsed.data
      if (message.type === "exit") end()
      else if (message.type === "status" && FINAL_STATUSES.has(message.status)) end()
      else if (message.type === "error") {
        process.stderr.write(`geppetto: server: ${message.message}\n`)
      }
    }

    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (ended || fatal !== undefined) return
      chain = chain
        .then(() => (isBinary ? onOutput(data) : onJson(data.toString("utf8"))))
        .catch(fail)
    })
    ws.on("open", () => {
      opened = true
      // An exit that happened before this socket existed sends no frame: ask once now.
      chain = chain
        .then(async () => {
          if (FINAL_STATUSES.has((await client.runner(id)).status)) end()
        })
        .catch(fail)
    })
    ws.on("unexpected-response", (request, response) => {
      const status = response.statusCode ?? 0
      why = `the server answered ${status}`
      void readErrorBody(response).then((message) => {
        if (!RETRYABLE_STATUS.has(status)) {
          fatal ??= { error: statusError(client.connection, status, message, "follow") }
        }
        request.destroy()
        ws.terminate()
      })
    })
    ws.on("error", (error) => {
      why = networkErrorCode(error) ?? error.message
    })
    ws.on("close", () => {
      void chain.then(() =>
        resolve(
          fatal !== undefined
            ? { kind: "fatal", error: fatal.error }
            : ended
              ? { kind: "ended" }
              : { kind: "dropped", opened, why },
        ),
      )
    })
  })

/** How long `logs -f` keeps reconnecting to a server that does not answer. */
const GIVE_UP_AFTER_MS = 120_000

/**
 * `logs -f` after the first copy: the socket, reconnecting with `from=` (backing off up to
 * 5 s) for as long as the runner lives, then whatever the log holds past the last frame.
 */
const follow = async (client: ApiClient, id: string, from: number): Promise<void> => {
  const state: Cursor = { offset: from }
  let failures = 0
  let lostSince = Date.now()
  for (;;) {
    const outcome = await followSocket(client, id, state)
    if (outcome.kind === "ended") break
    if (outcome.kind === "fatal") throw outcome.error
    if (outcome.opened) {
      failures = 0
      lostSince = Date.now()
    }
    // A server gone for good (not restarting) must not leave a follower retrying forever.
    if (Date.now() - lostSince > GIVE_UP_AFTER_MS) {
      throw new CliError(
        `no server at ${client.connection.url} for ${GIVE_UP_AFTER_MS / 1000} s; stopped following ${id}`,
        ExitCode.serverDown,
      )
    }
    if (failures === 0) {
      process.stderr.write(
        `geppetto: lost the output stream (${outcome.why}); reconnecting from offset ${state.offset}\n`,
      )
    }
    await sleep(Math.min(5000, 100 * 2 ** failures))
    failures++
  }
  // The exit is stamped once the log writer drained, so the log now holds every byte.
  await copyLog(client, id, state)
}

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    follow: { type: "boolean", short: "f" },
  })
  const [ref = ""] = positionals(given, ["RUNNER"])
  const client = await connect(values, ctx.env)
  const runner = await client.resolveRunner(ref)
  const printed: { offset: number | undefined } = { offset: undefined }
  await copyLog(client, runner.id, printed)
  if (values.follow === true && !FINAL_STATUSES.has(runner.status)) {
    await follow(client, runner.id, printed.offset ?? 0)
  }
  return 0
}
