import { describe, expect, it } from "vitest"
import {
  decodeOutputFrame,
  EventsServerMessage,
  encodeOutputFrame,
  TerminalClientMessage,
  TerminalServerMessage,
} from "../src/index.js"

const summary = {
  id: "run-1",
  name: "build",
  provider: "shell",
  mode: "oneshot",
  status: "running",
  activity: "active",
  waitingForInput: false,
  cwd: "/tmp",
  createdAt: 1,
  bytesOut: 0,
}

describe("EventsServerMessage", () => {
  it("parses each message type", () => {
    const messages = [
      { type: "runners", runners: [summary] },
      { type: "runner", runner: summary },
      { type: "removed", runnerId: "run-1" },
      {
        type: "event",
        runnerId: "run-1",
        event: { type: "attention", timestamp: 1, waitingForInput: true, reason: "permission" },
      },
    ]
    for (const m of messages) expect(EventsServerMessage.parse(m)).toEqual(m)
    expect(EventsServerMessage.safeParse({ type: "removed", runnerId: "../x" }).success).toBe(false)
    expect(EventsServerMessage.safeParse({ type: "other" }).success).toBe(false)
  })
})

describe("TerminalServerMessage", () => {
  it("parses each message type", () => {
    const messages = [
      { type: "snapshot", offset: 42, cols: 80, rows: 24, data: "\u001b[H\u001b[2Jhi" },
      { type: "snapshot", offset: 0, cols: 80, rows: 24, data: "", note: "skipped ahead" },
      { type: "exit", exitCode: 0, signal: null },
      { type: "exit", exitCode: null, signal: "SIGKILL" },
      { type: "resize", cols: 100, rows: 30 },
      { type: "status", status: "running", waitingForInput: true, attentionReason: "question" },
      { type: "error", code: "ForbiddenError", message: "viewers cannot type" },
    ]
    for (const m of messages) expect(TerminalServerMessage.parse(m)).toEqual(m)
    expect(
      TerminalServerMessage.safeParse({ type: "snapshot", offset: -1, cols: 1, rows: 1, data: "" })
        .success,
    ).toBe(false)
  })
})

describe("TerminalClientMessage", () => {
  it("parses input, resize and ack within bounds", () => {
    const messages = [
      { type: "input", data: "ls\r" },
      { type: "resize", cols: 120, rows: 40 },
      { type: "ack", offset: 1024 },
    ]
    for (const m of messages) expect(TerminalClientMessage.parse(m)).toEqual(m)
    for (const m of [
      { type: "input", data: "x".repeat(64 * 1024 + 1) },
      { type: "input" },
      { type: "resize", cols: 9, rows: 24 },
      { type: "resize", cols: 80, rows: 201 },
      { type: "ack", offset: -1 },
      { type: "ack", offset: 1.5 },
      { type: "ack", offset: 1, extra: true },
      { type: "kill" },
      "input",
      null,
    ]) {
      expect(TerminalClientMessage.safeParse(m).success, JSON.stringify(m)?.slice(0, 80)).toBe(
        false,
      )
    }
  })
})

describe("output frames", () => {
  it("round-trips offsets across the 32-bit boundary", () => {
    const bytes = new TextEncoder().encode("hello")
    for (const offset of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const frame = encodeOutputFrame(offset, bytes)
      expect(frame.length).toBe(8 + bytes.length)
      const decoded = decodeOutputFrame(frame)
      expect(decoded.offset).toBe(offset)
      expect(Array.from(decoded.bytes)).toEqual(Array.from(bytes))
    }
  })

  it("writes the offset big-endian, first", () => {
    const frame = encodeOutputFrame(2 ** 32 + 0x0102, new Uint8Array([0xff]))
    expect(Array.from(frame)).toEqual([0, 0, 0, 1, 0, 0, 1, 2, 0xff])
  })

  it("decodes a frame that is a view into a larger buffer", () => {
    const backing = new Uint8Array(20).fill(7)
    backing.set(encodeOutputFrame(300, new Uint8Array([1, 2, 3])), 5)
    const decoded = decodeOutputFrame(backing.subarray(5, 16))
    expect(decoded.offset).toBe(300)
    expect(Array.from(decoded.bytes)).toEqual([1, 2, 3])
    expect(decodeOutputFrame(encodeOutputFrame(9, new Uint8Array())).bytes.length).toBe(0)
  })

  it("refuses offsets it cannot represent and frames shorter than the header", () => {
    expect(() => encodeOutputFrame(-1, new Uint8Array())).toThrow(RangeError)
    expect(() => encodeOutputFrame(1.5, new Uint8Array())).toThrow(RangeError)
    expect(() => encodeOutputFrame(2 ** 53, new Uint8Array())).toThrow(RangeError)
    expect(() => decodeOutputFrame(new Uint8Array(7))).toThrow(RangeError)
    expect(() => decodeOutputFrame(new Uint8Array(8).fill(0xff))).toThrow(RangeError)
  })
})
