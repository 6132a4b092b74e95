import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { Exit } from "effect"
import { TmuxSessionError } from "../domain/errors.js"
import { markStage } from "../trace/stage-trace.js"
import { tmuxEnvironment, tmuxServerArgs } from "./one-off.js"
import { tmuxCommandLine } from "./quote.js"

/**
 * The session our control client attaches to. An unattached control client exits at once
 * (tmux 3.3), so it needs a session of its own; we create it with a `sleep infinity` pane
 * and hide it from every list we show.
 */
export const CONTROL_SESSION = "geppetto-control"

/** Lines tmux sends outside command replies (`%sessions-changed`, `%exit`, ...). */
export type TmuxNotification =
  | { readonly _tag: "line"; readonly line: string }
  | { readonly _tag: "disconnected" }

/** The output lines of each command of a line, in order. */
export type Outputs = ReadonlyArray<ReadonlyArray<string>>

/** Told once per written line: its commands' outputs, or why it failed. */
export type Settle = (exit: Exit.Exit<Outputs, TmuxSessionError>) => void

interface Pending {
  readonly line: string
  readonly expected: number
  readonly outputs: Array<ReadonlyArray<string>>
  readonly settle: Settle
}

/** One running `tmux -C` client and the lines written to it that await their replies. */
export interface Connection {
  readonly child: ChildProcessWithoutNullStreams
  readonly pending: Pending[]
  alive: boolean
}

/** The `cause` of a `TmuxSessionError` that says no tmux server is running on our socket. */
export const TMUX_SERVER_DOWN = "tmux-server-down"

/** Whether `error` says the tmux server is gone (rather than one command failing). */
export const isTmuxServerDown = (error: { readonly cause?: string | undefined }): boolean =>
  error.cause === TMUX_SERVER_DOWN

export const controlError = (message: string, cause?: string) =>
  new TmuxSessionError({
    sessionName: CONTROL_SESSION,
    message,
    ...(cause === undefined ? {} : { cause }),
  })

/**
 * A line's first command name, for the stage trace: never its arguments (a `send-keys` line
 * holds what someone typed, which no file of ours keeps).
 */
const commandName = (line: string): string => /^'?([a-z-]+)/.exec(line)?.[1] ?? ""

/** Fails every line still awaiting a reply; the connection takes no more. */
export const failAll = (connection: Connection, error: TmuxSessionError) => {
  connection.alive = false
  for (const pending of connection.pending.splice(0)) pending.settle(Exit.fail(error))
}

/** What the connection tells its owner, from the child's event handlers. */
export interface ConnectionEvents {
  /** A line outside any reply of ours, or the client's end. */
  readonly onNotification: (notification: TmuxNotification) => void
  /** Why the connection ended (detached, exited): the owner's note of the loss. */
  readonly onLost: (reason: string) => void
}

/**
 * Starts `tmux -C` attached to the control session (which must exist) and matches its
 * replies to the lines written with `writeLines`, in order: tmux answers each command of a
 * line with a `%begin`/`%end` (or `%error`) block flagged 1 ("from this client"), and skips the
 * rest of a line after an error. Plain callbacks: this parses every reply of every keystroke.
 */
export const openConnection = (
  socket: string | undefined,
  events: ConnectionEvents,
): Connection => {
  const child = spawn(
    "tmux",
    [
      ...tmuxServerArgs(socket),
      "-C",
      "attach-session",
      "-t",
      `=${CONTROL_SESSION}`,
      "-f",
      "no-output,ignore-size",
    ],
    { stdio: ["pipe", "pipe", "pipe"], env: tmuxEnvironment() },
  )
  const connection: Connection = { child, pending: [], alive: true }
  let buffered: Buffer = Buffer.alloc(0)
  let block: { key: string; ours: boolean; lines: string[] } | undefined

  /** The end of a reply block of ours: the next pending line gets it. */
  const onReply = (lines: ReadonlyArray<string>, error: boolean) => {
    const pending = connection.pending[0]
    if (pending === undefined) return
    if (error) {
      connection.pending.shift()
      pending.settle(
        Exit.fail(
          new TmuxSessionError({
            sessionName: CONTROL_SESSION,
            message: `tmux refused ${pending.line.slice(0, 200)}: ${lines.join(" ").trim()}`,
            cause: lines.join("\n"),
          }),
        ),
      )
      return
    }
    pending.outputs.push(lines)
    if (pending.outputs.length >= pending.expected) {
      connection.pending.shift()
      markStage("cc.reply", commandName(pending.line))
      pending.settle(Exit.succeed(pending.outputs))
    }
  }

  const onLine = (line: string) => {
    if (block !== undefined) {
      const end = line.startsWith("%end ")
      const error = line.startsWith("%error ")
      if ((end || error) && line.slice(end ? 5 : 7) === block.key) {
        const finished = block
        block = undefined
        if (finished.ours) onReply(finished.lines, error)
        return
      }
      block.lines.push(line)
      return
    }
    if (line.startsWith("%begin ")) {
      const rest = line.slice(7)
      block = { key: rest, ours: rest.endsWith(" 1"), lines: [] }
      return
    }
    if (line.startsWith("%exit")) {
      events.onLost(`the tmux control client was detached (${line.trim()})`)
      failAll(connection, controlError("the tmux control client was detached (%exit)"))
    }
    events.onNotification({ _tag: "line", line })
  }

  child.stdout.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    let start = 0
    for (;;) {
      const nl = buffered.indexOf(0x0a, start)
      if (nl === -1) break
      onLine(buffered.subarray(start, nl).toString("utf8"))
      start = nl + 1
    }
    buffered = start === buffered.length ? Buffer.alloc(0) : buffered.subarray(start)
  })
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 1024) stderr += chunk.toString("utf8")
  })
  child.stdin.on("error", () => {})
  const onGone = (reason: string) => {
    if (!connection.alive) return
    const said = stderr.trim()
    const why = said === "" ? reason : `${reason}: ${said.slice(0, 300)}`
    events.onLost(`the tmux control client exited (${why})`)
    failAll(connection, controlError(`the tmux control client exited: ${why}`))
    events.onNotification({ _tag: "disconnected" })
  }
  child.on("error", (cause) => onGone(cause.message))
  child.on("exit", (code, signal) => onGone(`code ${code} signal ${signal}`))
  return connection
}

/**
 * Writes `lines` (each a list of argv, run by tmux as one line) in one synchronous write, so
 * replies and every caller's order follow the order of the calls; each line's reply goes to
 * `settleOf(i)`. Returns the first line's text (for messages). The caller checks that the
 * connection is alive and that no line or command is empty: a blank line detaches the client.
 */
export const writeLines = (
  connection: Connection,
  lines: ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>,
  settleOf: (index: number) => Settle,
): string => {
  const texts = lines.map((commands) => commands.map(tmuxCommandLine).join(" ; "))
  texts.forEach((line, i) => {
    connection.pending.push({
      line,
      expected: lines[i]?.length ?? 0,
      outputs: [],
      settle: settleOf(i),
    })
  })
  const first = texts[0] ?? ""
  markStage("cc.write", commandName(first))
  connection.child.stdin.write(`${texts.join("\n")}\n`)
  return first
}
