import {
  encodeOutputFrame,
  type Role,
  TerminalClientMessage,
  type TerminalServerMessage,
} from "@geppetto/protocol"
import { AiRunnerRegistry, type PaneId } from "@geppetto/runner"
import { Data, Effect, Queue, Stream } from "effect"
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
  readonly role: Role
}

/** Breaks out of the output loop to send a fresh snapshot (the viewer fell too far behind). */
class SkipForward extends Data.TaggedError("SkipForward")<{ readonly lag: number }> {}

/** Input frames waiting for tmux, per socket; more is refused with an error frame. */
const INPUT_QUEUE = 256
const INTERNAL_ERROR = 1011

/** Bytes of a `ws` message as delivered (a Buffer, or fragments, or an ArrayBuffer). */
const frameSize = (raw: unknown): number => {
  if (Buffer.isBuffer(raw)) return raw.length
  if (raw instanceof ArrayBuffer) return raw.byteLength
  if (Array.isArray(raw)) return raw.reduce((n: number, b: unknown) => n + frameSize(b), 0)
  return 0
}

/**
 * One viewer's terminal socket: a snapshot at an exact offset (unless resuming), then output
 * as binary frames from that offset under flow control, plus status, exit and resize frames;
 * the operator's input and resizes go to the pane in order. Runs until interrupted (the
 * socket closed); a slow socket never holds anything but itself.
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
    const registry = yield* AiRunnerRegistry
    const { runnerId, paneId } = target
    const flow = new FlowState(limits)
    onFlow?.(flow)
    const wake = yield* Queue.sliding<void>(1)
    const signal = () => Queue.unsafeOffer(wake, undefined)

    const send = (data: string | Uint8Array) =>
      Effect.sync(() => {
        if (socket.readyState !== socket.OPEN) return
        const size = typeof data === "string" ? Buffer.byteLength(data) : data.length
        flow.unflushed += size
        socket.send(data, () => {
          flow.unflushed -= size
          signal()
        })
      })
    const sendJson = (message: TerminalServerMessage) => send(JSON.stringify(message))
    const sendError = (code: string, message: string) => sendJson({ type: "error", code, message })
    /** A domain failure in the same code and words the HTTP API uses (internals hidden). */
    const sendFailure = (e: unknown) => {
      const { code, message } = toHttpError(e)
      return sendError(code, message)
    }

    /** Parks until the flow bounds allow another chunk (woken by send callbacks and acks). */
    const awaitFlow = Effect.gen(function* () {
      while (!flow.canSend()) yield* Queue.take(wake)
    })

    const sendSnapshot = (note?: string) =>
      Effect.gen(function* () {
        const snap = yield* registry.snapshot(runnerId, paneId)
        // Said, not hidden: a pane that never paused may differ by the bytes around the offset.
        const notes = [
          note,
          snap.exact
            ? undefined
            : "taken while output kept flowing; the picture may be a few bytes off",
        ].filter((n) => n !== undefined)
        yield* sendJson({
          type: "snapshot",
          offset: snap.offset,
          cols: snap.cols,
          rows: snap.rows,
          data: snap.data,
          ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
        })
        flow.resetAt(snap.offset)
        return snap.offset
      })

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
      return target.from
    })

    const streamFrom = (offset: number) =>
      registry.output(runnerId, offset, paneId).pipe(
        Stream.runForEach((chunk) =>
          Effect.gen(function* () {
            if (!flow.canSend()) {
              yield* awaitFlow
              // Back after a stall: far behind means a snapshot beats replaying the backlog.
              const { end } = yield* registry.logBounds(runnerId, paneId)
              if (flow.shouldSkip(end)) return yield* new SkipForward({ lag: end - flow.sent })
            }
            yield* send(encodeOutputFrame(chunk.offset, chunk.bytes))
            onOutputSent?.(chunk.bytes.length)
            flow.sent = chunk.offset + chunk.bytes.length
          }),
        ),
      )

    const output = (start: number) =>
      Effect.gen(function* () {
        let offset = start
        for (;;) {
          const result = yield* Effect.either(streamFrom(offset))
          if (result._tag === "Right") return
          const error = result.left
          if (error instanceof SkipForward) {
            flow.skips++
            offset = yield* sendSnapshot(
              `this viewer fell ${error.lag} bytes behind; skipped forward to a snapshot`,
            )
            continue
          }
          return yield* Effect.fail(error)
        }
      })

    // Status, exit and resize frames for this runner, from the registry's change feed.
    const watchRunner = Effect.gen(function* () {
      const { queue } = yield* registry.subscribe
      let last = ""
      for (;;) {
        const event = yield* Queue.take(queue)
        if (event.type === "runner" && event.runner.id === runnerId) {
          const r = event.runner
          const key = `${r.status}|${r.waitingForInput}|${r.attentionReason ?? ""}`
          if (key === last) continue
          last = key
          yield* sendJson({
            type: "status",
            status: r.status,
            waitingForInput: r.waitingForInput,
            ...(r.attentionReason !== undefined ? { attentionReason: r.attentionReason } : {}),
          })
        } else if (event.type === "event" && event.runnerId === runnerId) {
          if (event.event.type === "exit") {
            yield* sendJson({
              type: "exit",
              exitCode: event.event.exitCode,
              signal: event.event.signal,
            })
          }
        } else if (
          event.type === "resize" &&
          event.runnerId === runnerId &&
          (paneId === undefined || event.paneId === paneId)
        ) {
          yield* sendJson({ type: "resize", cols: event.cols, rows: event.rows })
        }
      }
    }).pipe(Effect.scoped)

    // Operator input in arrival order, into the pane this socket shows (the runner's main pane
    // when none was named); a full queue refuses rather than grows.
    const inputs = yield* Queue.dropping<Uint8Array>(INPUT_QUEUE)
    const writer = Effect.forever(
      Effect.flatMap(Queue.take(inputs), (bytes) =>
        registry.write(runnerId, bytes, paneId).pipe(Effect.catchAll((e) => sendFailure(e))),
      ),
    )
    const limiter = new InputLimiter()

    const onMessage = (raw: unknown, isBinary: boolean): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (isBinary) return yield* sendError("ValidationError", "binary frames are not accepted")
        let parsed: unknown
        try {
          parsed = JSON.parse(String(raw))
        } catch {
          return yield* sendError("ValidationError", "frame is not JSON")
        }
        const message = TerminalClientMessage.safeParse(parsed)
        if (!message.success) {
          const issue = message.error.issues[0]
          const where = issue === undefined ? "(root)" : issue.path.join(".") || "(root)"
          return yield* sendError(
            "ValidationError",
            `invalid frame: ${where}: ${issue?.message ?? "bad shape"}`,
          )
        }
        const m = message.data
        switch (m.type) {
          case "ack":
            flow.ack(m.offset)
            signal()
            return
          case "input": {
            if (target.role !== "operator")
              return yield* sendError("ForbiddenError", "viewers cannot type into a runner")
            const bytes = Buffer.from(m.data, "utf8")
            if (!limiter.allow(bytes.length, Date.now()))
              return yield* sendError("RateLimitError", "input arrives too fast; dropped")
            if (!(yield* Queue.offer(inputs, bytes)))
              return yield* sendError("RateLimitError", "input queue is full; dropped")
            return
          }
          case "resize":
            if (target.role !== "operator")
              return yield* sendError("ForbiddenError", "viewers cannot resize a runner")
            return yield* registry
              .resize(runnerId, m.cols, m.rows)
              .pipe(Effect.catchAll((e) => sendFailure(e)))
        }
      })

    // Frames received but not yet handled: bounded in count and bytes (see FrameBudget).
    const messages = yield* Queue.unbounded<{ raw: unknown; isBinary: boolean; size: number }>()
    const budget = new FrameBudget()
    const listener = (raw: unknown, isBinary: boolean) => {
      const size = frameSize(raw)
      const { admitted, overflowed } = budget.admit(size)
      if (admitted) Queue.unsafeOffer(messages, { raw, isBinary, size })
      else if (overflowed)
        Effect.runSync(
          sendError("RateLimitError", "frames arrive faster than they are handled; dropped"),
        )
    }
    socket.on("message", listener)
    yield* Effect.addFinalizer(() => Effect.sync(() => socket.off("message", listener)))
    const reader = Effect.forever(
      Effect.flatMap(Queue.take(messages), (m) => {
        budget.release(m.size)
        return onMessage(m.raw, m.isBinary)
      }),
    )

    // The snapshot (or the resume point) comes first; frames that arrived meanwhile wait.
    yield* startOffset
      .pipe(
        Effect.tap(() =>
          Effect.all([
            Effect.forkScoped(writer),
            Effect.forkScoped(reader),
            Effect.forkScoped(watchRunner),
          ]),
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
