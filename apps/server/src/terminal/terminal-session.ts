import {
  encodeOutputFrame,
  type Role,
  statusKey,
  TerminalClientMessage,
  type TerminalServerMessage,
} from "@geppetto/protocol"
import {
  AiRunnerPort,
  ForbiddenError,
  type LogChunk,
  type LogSubscription,
  markStage,
  type PaneId,
  type RegistryEvent,
  type RunnerSnapshot,
} from "@geppetto/runner"
import { Deferred, Effect, Exit, FiberSet } from "effect"
import type { WebSocket } from "ws"
import { toHttpError } from "../http/domain-errors.js"
import { defaultFlowLimits, type FlowLimits, FlowState } from "./flow.js"
import { FrameBudget } from "./frame-budget.js"
import { InputLimiter } from "./input-limiter.js"

export interface TerminalTarget {
  readonly runnerId: string
  readonly paneId: PaneId | undefined
  /** Resume after this offset instead of starting with a snapshot. */
  readonly from: number | undefined
  /** The role the socket was opened with. */
  readonly role: Role
  /**
   * The user's role now (undefined: removed), read on each input and resize frame so that a
   * role change applies to the next one; a Map lookup, cheap per keystroke. Without it, `role`.
   */
  readonly currentRole?: () => Role | undefined
  /** Bytes of each input let through to the pane (presence's typing, the audit's bursts). */
  readonly onInput?: (bytes: number) => void
}

const INTERNAL_ERROR = 1011
/** Close code for a client that breaks the protocol's rules (here: never reads its error frames). */
const POLICY_VIOLATION = 1008

/** Bytes of a `ws` message as delivered (a Buffer, or fragments, or an ArrayBuffer). */
const frameSize = (raw: unknown): number => {
  if (Buffer.isBuffer(raw)) return raw.length
  if (raw instanceof ArrayBuffer) return raw.byteLength
  if (Array.isArray(raw)) return raw.reduce((n: number, b: unknown) => n + frameSize(b), 0)
  return 0
}

/**
 * Every viewer at the head of a log gets the same chunk object from the shared tail: its
 * frame is built once for all of them (20 viewers of one flood copied each chunk 20 times).
 */
const frames = new WeakMap<LogChunk, Uint8Array>()
const frameOf = (chunk: LogChunk): Uint8Array => {
  let frame = frames.get(chunk)
  if (frame === undefined) {
    frame = encodeOutputFrame(chunk.offset, chunk.bytes)
    frames.set(chunk, frame)
  }
  return frame
}

/**
 * One viewer's terminal socket: a snapshot at an exact offset (unless resuming), then output
 * as binary frames from that offset under flow control, plus status, exit and resize frames;
 * the operator's input and resizes go to the pane in order. Runs until interrupted (the
 * socket closed); a slow socket never holds anything but itself.
 *
 * Output, acks and the checks on client frames run as plain callbacks (the shared log tail's,
 * the socket's): per keystroke and per chunk of a flood, a fiber hop cost more than the work.
 * Fibers wait for the snapshot and for tmux.
 */
export const serveTerminal = (
  socket: WebSocket,
  target: TerminalTarget,
  limits: FlowLimits = defaultFlowLimits,
  onFlow?: (flow: FlowState) => void,
  /** Output bytes handed to the socket, per frame (for the server's metrics). */
  onOutputSent?: (bytes: number) => void,
) =>
  Effect.gen(function* () {
    const registry = yield* AiRunnerPort
    const { runnerId, paneId } = target
    const flow = new FlowState(limits)
    onFlow?.(flow)
    /** Called when the flow bounds may have opened (a send completed, an ack came). */
    let flowChanged = () => {}
    /** Whether a viewer far behind may be moved forward to a snapshot (not on a finished runner). */
    let skipForward = true

    const send = (data: string | Uint8Array) => {
      if (socket.readyState !== socket.OPEN) return
      const size = typeof data === "string" ? Buffer.byteLength(data) : data.length
      flow.unflushed += size
      socket.send(data, () => {
        flow.unflushed -= size
        flowChanged()
      })
    }
    const sendJson = (message: TerminalServerMessage) => send(JSON.stringify(message))
    /**
     * An error frame; but a client that sends frames we refuse faster than it reads our answers
     * would grow our buffers without bound (output stops at `socketBytes`, answers did not):
     * past twice that, it is closed instead (1008, policy violation).
     */
    const sendError = (code: string, message: string) => {
      if (flow.unflushed > 2 * flow.limits.socketBytes) {
        if (socket.readyState === socket.OPEN)
          socket.close(POLICY_VIOLATION, "refused frames sent faster than answers are read")
        return
      }
      sendJson({ type: "error", code, message })
    }
    /** A domain failure in the same code and words the HTTP API uses (internals hidden). */
    const sendDomainError = (e: unknown) => {
      const { code, message } = toHttpError(e)
      sendError(code, message)
    }
    const sendFailure = (e: unknown) => Effect.sync(() => sendDomainError(e))

    /** Sends `snap` (output goes on from its offset) and returns that offset. */
    const sendTaken = (snap: RunnerSnapshot, note?: string): number => {
      // Said, not hidden: a pane that never paused may differ by the bytes around the offset.
      const notes = [
        note,
        snap.exact
          ? undefined
          : "taken while output kept flowing; the picture may be a few bytes off",
      ].filter((n) => n !== undefined)
      sendJson({
        type: "snapshot",
        offset: snap.offset,
        cols: snap.cols,
        rows: snap.rows,
        data: snap.data,
        ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
      })
      flow.resetAt(snap.offset)
      return snap.offset
    }
    const sendSnapshot = (note?: string) =>
      Effect.map(registry.snapshot(runnerId, paneId), (snap) => sendTaken(snap, note))
    /**
     * A snapshot only if it is past `offset`, else undefined and nothing sent: a finished
     * runner's snapshot is a blank screen at its first kept byte (there is no pane left to
     * capture), and a viewer "skipped" to it would replay the whole log again.
     */
    const sendSnapshotPast = (offset: number, note: string) =>
      Effect.map(registry.snapshot(runnerId, paneId), (snap) =>
        snap.offset > offset ? sendTaken(snap, note) : undefined,
      )

    /** Where output starts: the client's `from` when those bytes are still kept. */
    const startOffset = Effect.gen(function* () {
      if (target.from === undefined) return yield* sendSnapshot()
      const bounds = yield* registry.logBounds(runnerId, paneId)
      if (target.from < bounds.start) {
        return yield* sendSnapshot(
          `bytes ${target.from}-${bounds.start} were deleted by log retention; redrawn from a snapshot`,
        )
      }
      if (target.from > bounds.end) {
        return yield* sendSnapshot(
          `offset ${target.from} is past the end of the output (${bounds.end}); redrawn from a snapshot`,
        )
      }
      flow.resetAt(target.from)
      // The pane's size now: a resize while the client was away went to its closed socket.
      // Read from a snapshot whose screen is not sent; without one, the client keeps its own.
      yield* Effect.matchEffect(registry.snapshot(runnerId, paneId), {
        onFailure: () => Effect.void,
        onSuccess: (now) =>
          Effect.sync(() => sendJson({ type: "resize", cols: now.cols, rows: now.rows })),
      })
      return target.from
    })

    /**
     * Output from `offset` until the viewer falls so far behind that a snapshot beats the
     * backlog: resolves with how far behind it was. A viewer past its flow bounds pauses its
     * subscription (the tail and the other viewers go on); once its socket drains or it acks,
     * it resumes from disk where it stopped, or is skipped forward.
     */
    const followUntilBehind = (offset: number) =>
      Effect.gen(function* () {
        const behind = yield* Deferred.make<number, unknown>()
        let subscription: LogSubscription | undefined
        const onChunk = (chunk: LogChunk) => {
          markStage("ws.out", runnerId)
          send(frameOf(chunk))
          onOutputSent?.(chunk.bytes.length)
          flow.sent = chunk.offset + chunk.bytes.length
          if (!flow.canSend()) subscription?.pause()
        }
        const sub = yield* registry.follow(
          runnerId,
          offset,
          { onChunk, onError: (e) => Deferred.unsafeDone(behind, Exit.fail(e)), viewer: true },
          paneId,
        )
        subscription = sub
        // Delivery may have outrun the bounds before the subscription was known.
        if (!flow.canSend()) sub.pause()
        flowChanged = () => {
          if (!sub.paused() || !flow.canSend()) return
          // Back after a stall: far behind means a snapshot beats replaying the backlog.
          const end = sub.end()
          if (skipForward && flow.shouldSkip(end)) {
            Deferred.unsafeDone(behind, Exit.succeed(end - flow.sent))
            return
          }
          sub.resume()
        }
        return yield* Deferred.await(behind)
      }).pipe(
        Effect.scoped,
        Effect.ensuring(
          Effect.sync(() => {
            flowChanged = () => {}
          }),
        ),
      )

    const output = (start: number) =>
      Effect.gen(function* () {
        let offset = start
        for (;;) {
          const lag = yield* followUntilBehind(offset)
          const skipped = yield* sendSnapshotPast(
            flow.sent,
            `this viewer fell ${lag} bytes behind; skipped forward to a snapshot`,
          )
          if (skipped === undefined) {
            // Nothing to skip to (the runner ended): the rest is read as it is drawn.
            skipForward = false
            offset = flow.sent
            continue
          }
          flow.skips++
          offset = skipped
        }
      })

    // Status, exit and resize frames for this runner, straight from its changes.
    let lastStatus = ""
    const onRunnerEvent = (event: RegistryEvent) => {
      if (event.type === "runner") {
        const r = event.runner
        const key = statusKey(r)
        if (key === lastStatus) return
        lastStatus = key
        sendJson({
          type: "status",
          status: r.status,
          waitingForInput: r.waitingForInput,
          ...(r.attentionReason !== undefined ? { attentionReason: r.attentionReason } : {}),
        })
      } else if (event.type === "event" && event.event.type === "exit") {
        sendJson({ type: "exit", exitCode: event.event.exitCode, signal: event.event.signal })
      } else if (
        event.type === "resize" &&
        (paneId === undefined ? event.main : event.paneId === paneId)
      ) {
        sendJson({ type: "resize", cols: event.cols, rows: event.rows })
      }
    }

    // The operator's input and resizes go to the pane this socket shows (the runner's main
    // pane when none was named) at once, from the socket's own callback: each reaches tmux's
    // input before the call returns, so they keep their arrival order without a queue of ours
    // (a fiber hop per keystroke measured 0.2 ms at p50, milliseconds at p99). Those awaiting
    // tmux's answer are bounded in count and bytes; past that they are refused.
    const run = yield* FiberSet.makeRuntime<AiRunnerPort>()
    const budget = new FrameBudget()
    const limiter = new InputLimiter()
    /** Commands that came before the snapshot went out: started after it, in order. */
    let early: Array<() => void> | undefined = []
    /** Commands taken the Effect way and not answered yet: a keystroke may not overtake them. */
    let slow = 0
    /** Whether the frame budget takes `size` more bytes; says so to the client when not. */
    const admit = (size: number) => {
      const { admitted, overflowed } = budget.admit(size)
      if (!admitted && overflowed)
        sendError("RateLimitError", "frames arrive faster than they are handled; dropped")
      return admitted
    }
    const perform = (size: number, command: Effect.Effect<void, unknown>) => {
      if (!admit(size)) return
      slow++
      const start = () => {
        run(
          command.pipe(
            Effect.catchAll(sendFailure),
            Effect.ensuring(
              Effect.sync(() => {
                slow--
                budget.release(size)
              }),
            ),
          ),
        )
      }
      if (early === undefined) start()
      else early.push(start)
    }
    const startCommands = Effect.sync(() => {
      const waiting = early ?? []
      early = undefined
      for (const start of waiting) start()
    })

    /** Whether this socket's user may type and resize now (operators and admins). */
    const mayOperate = (): boolean => {
      const role = target.currentRole === undefined ? target.role : target.currentRole()
      return role === "operator" || role === "admin"
    }

    const onMessage = (raw: unknown, isBinary: boolean) => {
      markStage("ws.in", runnerId)
      if (isBinary) return sendError("ValidationError", "binary frames are not accepted")
      let parsed: unknown
      try {
        parsed = JSON.parse(String(raw))
      } catch {
        return sendError("ValidationError", "frame is not JSON")
      }
      const message = TerminalClientMessage.safeParse(parsed)
      if (!message.success) {
        const issue = message.error.issues[0]
        const where = issue === undefined ? "(root)" : issue.path.join(".") || "(root)"
        return sendError(
          "ValidationError",
          `invalid frame: ${where}: ${issue?.message ?? "bad shape"}`,
        )
      }
      const m = message.data
      switch (m.type) {
        case "ack":
          flow.ack(m.offset)
          return flowChanged()
        case "input": {
          if (!mayOperate())
            return sendDomainError(
              new ForbiddenError({
                required: "operator",
                message: "viewers cannot type into a runner",
              }),
            )
          const bytes = Buffer.from(m.data, "utf8")
          if (!limiter.allow(bytes.length, Date.now()))
            return sendError("RateLimitError", "input arrives too fast; dropped")
          target.onInput?.(bytes.length)
          const size = frameSize(raw)
          // The fast way when nothing is queued ahead: written to tmux before this returns.
          if (early === undefined && slow === 0) {
            if (!admit(size)) return
            const written = registry.writeNow(runnerId, bytes, paneId, (error) => {
              budget.release(size)
              if (error !== undefined) sendDomainError(error)
            })
            if (written) return
            budget.release(size)
          }
          return perform(
            size,
            Effect.zipRight(
              Effect.sync(() => markStage("write.fiber", runnerId)),
              registry.write(runnerId, bytes, paneId),
            ),
          )
        }
        case "resize":
          if (!mayOperate())
            return sendDomainError(
              new ForbiddenError({
                required: "operator",
                message: "viewers cannot resize a runner",
              }),
            )
          return perform(frameSize(raw), registry.resize(runnerId, m.cols, m.rows))
      }
    }
    socket.on("message", onMessage)
    yield* Effect.addFinalizer(() => Effect.sync(() => socket.off("message", onMessage)))

    // The snapshot (or the resume point) comes first; commands that arrived meanwhile wait.
    yield* startOffset
      .pipe(
        Effect.tap(() =>
          Effect.zipRight(registry.onRunnerEvent(runnerId, onRunnerEvent), startCommands),
        ),
        // Output follows the log for as long as the socket lives; it ends only on an error.
        Effect.flatMap(output),
      )
      .pipe(
        Effect.catchAll((e) =>
          Effect.zipRight(
            sendFailure(e),
            Effect.sync(() => socket.close(INTERNAL_ERROR, "terminal stream failed")),
          ),
        ),
      )
  }).pipe(Effect.scoped)
