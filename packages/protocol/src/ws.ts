import * as z from "zod/mini"
import { boundedText, Cols, MAX_INPUT_BYTES, Rows } from "./api.js"
import { RunnerId } from "./ids.js"
import { AttentionReason, ErrorPayload, ProcessEvent, RunnerStatus } from "./process-event.js"
import { RunnerSummary } from "./runner-summary.js"
import { PresenceMessage } from "./team.js"

const Offset = z.int().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER))

// ---------------------------------------------------------------------------------------
// WS /api/events

/**
 * Server → client on `WS /api/events`: `runners` once on connect (the whole board), then
 * `runner` on every change, `removed` when a runner is forgotten, `event` for each
 * `ProcessEvent` other than raw output, and `presence` when a runner's viewers change (on
 * connect, one per runner that has viewers).
 */
export const EventsServerMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("runners"), runners: z.array(RunnerSummary) }),
  z.object({ type: z.literal("runner"), runner: RunnerSummary }),
  z.object({ type: z.literal("removed"), runnerId: RunnerId }),
  z.object({ type: z.literal("event"), runnerId: RunnerId, event: ProcessEvent }),
  PresenceMessage,
])
export type EventsServerMessage = z.infer<typeof EventsServerMessage>

// ---------------------------------------------------------------------------------------
// WS /api/runners/:id/terminal

/**
 * Server → client JSON (text) frames on the terminal socket. Output travels in binary
 * frames instead (see `encodeOutputFrame`).
 */
export const TerminalServerMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("snapshot"),
    /** The output offset the snapshot shows the pane at; binary frames continue from it. */
    offset: Offset,
    cols: z.int().check(z.positive()),
    rows: z.int().check(z.positive()),
    /** Terminal sequences that redraw the pane as it was at `offset`. */
    data: z.string(),
    /** Why a snapshot was sent mid-stream, e.g. the client fell too far behind. */
    note: z.optional(z.string()),
  }),
  z.object({
    type: z.literal("exit"),
    exitCode: z.nullable(z.int()),
    signal: z.nullable(z.string()),
  }),
  z.object({
    type: z.literal("resize"),
    cols: z.int().check(z.positive()),
    rows: z.int().check(z.positive()),
  }),
  z.object({
    type: z.literal("status"),
    status: RunnerStatus,
    waitingForInput: z.boolean(),
    attentionReason: z.optional(AttentionReason),
  }),
  z.extend(ErrorPayload, { type: z.literal("error") }),
])
export type TerminalServerMessage = z.infer<typeof TerminalServerMessage>

/**
 * Client → server on the terminal socket. `input` and `resize` are for operators only (a
 * viewer's get an `error` frame and are dropped); `ack` tells the server how far the
 * client has drawn, for flow control.
 */
export const TerminalClientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("input"), data: boundedText(MAX_INPUT_BYTES, { nul: true }) }),
  z.strictObject({ type: z.literal("resize"), cols: Cols, rows: Rows }),
  z.strictObject({ type: z.literal("ack"), offset: Offset }),
])
export type TerminalClientMessage = z.infer<typeof TerminalClientMessage>

// ---------------------------------------------------------------------------------------
// Binary output frames

/** Bytes before the payload of an output frame: the big-endian offset of its first byte. */
export const OUTPUT_FRAME_HEADER_BYTES = 8

const TWO_TO_32 = 2 ** 32

/**
 * One binary frame of terminal output: an 8-byte big-endian unsigned offset (the absolute
 * position of `bytes[0]` in the runner's output), then the bytes. Offsets above
 * `Number.MAX_SAFE_INTEGER` (8 PiB) cannot be represented and throw.
 */
export const encodeOutputFrame = (offset: number, bytes: Uint8Array): Uint8Array => {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`output offset must be a non-negative safe integer, got ${offset}`)
  }
  const frame = new Uint8Array(OUTPUT_FRAME_HEADER_BYTES + bytes.length)
  const view = new DataView(frame.buffer, frame.byteOffset, OUTPUT_FRAME_HEADER_BYTES)
  view.setUint32(0, Math.floor(offset / TWO_TO_32))
  view.setUint32(4, offset % TWO_TO_32)
  frame.set(bytes, OUTPUT_FRAME_HEADER_BYTES)
  return frame
}

/** The inverse of `encodeOutputFrame`; `bytes` is a view into `frame`, not a copy. */
export const decodeOutputFrame = (frame: Uint8Array): { offset: number; bytes: Uint8Array } => {
  if (frame.length < OUTPUT_FRAME_HEADER_BYTES) {
    throw new RangeError(`output frame is ${frame.length} bytes, shorter than its 8-byte header`)
  }
  const view = new DataView(frame.buffer, frame.byteOffset, OUTPUT_FRAME_HEADER_BYTES)
  const high = view.getUint32(0)
  const offset = high * TWO_TO_32 + view.getUint32(4)
  if (!Number.isSafeInteger(offset)) {
    throw new RangeError("output frame offset is above Number.MAX_SAFE_INTEGER")
  }
  return { offset, bytes: frame.subarray(OUTPUT_FRAME_HEADER_BYTES) }
}
