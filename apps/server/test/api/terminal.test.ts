import { join } from "node:path"
import { TerminalServerMessage } from "@geppetto/protocol"
import xterm from "@xterm/headless"
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest"
import type { FlowLimits, FlowState } from "../../src/terminal/flow.js"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

type Term = InstanceType<typeof xterm.Terminal>

const DRAW = join(import.meta.dirname, "..", "fixtures", "draw.sh")

/** The visible rows of a headless terminal, trailing blanks trimmed, as `capture-pane -p`. */
const screenText = (term: Term): string => {
  const buffer = term.buffer.active
  const rows: string[] = []
  for (let y = 0; y < term.rows; y++) {
    rows.push(buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? "")
  }
  // `capture-pane -p` drops trailing spaces; a prompt's own space is still in the cells here.
  return rows
    .map((r) => r.replace(/ +$/, ""))
    .join("\n")
    .replace(/\n+$/, "")
}

const writeTerm = (term: Term, data: string | Uint8Array) =>
  new Promise<void>((resolve) => term.write(data, resolve))

/** The high-water mark of a viewer's bytes handed to its socket, seen on every change. */
const unflushedPeak = (flow: FlowState): (() => number) => {
  let peak = 0
  let unflushed = flow.unflushed
  Object.defineProperty(flow, "unflushed", {
    get: () => unflushed,
    set: (v: number) => {
      unflushed = v
      if (v > peak) peak = v
    },
  })
  return () => peak
}

let server: TestServer
/** Every viewer's flow state, in the order their sockets were served. */
const flows: FlowState[] = []

beforeAll(async () => {
  server = await startServer({ terminal: { onFlow: (flow) => flows.push(flow) } })
})
afterAll(async () => {
  await server?.close()
})

const terminalUrl = (id: string, query = "") =>
  `${server.wsOrigin}/api/runners/${id}/terminal${query === "" ? "" : `?${query}`}`

const connect = async (id: string, role: "viewer" | "operator", query = "") => {
  const client = await WsClient.open(terminalUrl(id, query), bearer(role))
  onTestFinished(() => client.close())
  return client
}

/**
 * Checks a socket's frames the way a client must read them: output frames continue exactly
 * where the last one (or the last snapshot) left off. Returns where the client now is.
 */
const position = (client: WsClient): number | undefined => {
  let at: number | undefined
  for (const f of client.frames) {
    if (f.kind === "json") {
      if (f.value.type === "snapshot") at = Number(f.value.offset)
      continue
    }
    if (at === undefined) at = f.offset // resumed with ?from: no snapshot
    expect(f.offset, "an output frame off the stream (a gap or a duplicate)").toBe(at)
    at += f.bytes.length
  }
  return at
}

/** What a browser terminal would show now: the last snapshot, then the output after it. */
const screenOf = async (client: WsClient): Promise<string> => {
  const last = client.frames.findLastIndex((f) => f.kind === "json" && f.value.type === "snapshot")
  const frame = client.frames[last]
  if (frame?.kind !== "json") throw new Error("no snapshot yet")
  const snap = TerminalServerMessage.parse(frame.value)
  if (snap.type !== "snapshot") throw new Error("not a snapshot")
  const term = new xterm.Terminal({ cols: snap.cols, rows: snap.rows, allowProposedApi: true })
  try {
    await writeTerm(term, snap.data)
    for (const f of client.frames.slice(last + 1)) {
      if (f.kind === "binary") await writeTerm(term, f.bytes)
      else if (f.value.type === "resize") term.resize(Number(f.value.cols), Number(f.value.rows))
    }
    return screenText(term)
  } finally {
    term.dispose()
  }
}

/** The snapshot a socket starts with, as a terminal drawn from it alone. */
const firstSnapshot = async (client: WsClient) => {
  const raw = await client.nextJson((m) => m.type === "snapshot", "the snapshot")
  const snap = TerminalServerMessage.parse(raw)
  if (snap.type !== "snapshot") throw new Error("not a snapshot")
  const term = new xterm.Terminal({ cols: snap.cols, rows: snap.rows, allowProposedApi: true })
  onTestFinished(() => term.dispose())
  await writeTerm(term, snap.data)
  return { snap, term }
}

const captureOf = (name: string) => server.capture(`=${name}:`)

/** Where the log ends now, without reading it all: a one-byte suffix range. */
const logEnd = async (id: string): Promise<number> => {
  const reply = await server.request("viewer", {
    method: "GET",
    url: `/api/runners/${id}/log`,
    headers: { range: "bytes=-1" },
  })
  if (reply.statusCode === 416) return 0
  const total = /\/(\d+)$/.exec(String(reply.headers["content-range"]))?.[1]
  return Number(total)
}

describe("WS /api/runners/:id/terminal", () => {
  it("sends a snapshot that draws what tmux shows, then contiguous output; input echoes", async () => {
    const detail = await server.start({
      provider: "shell",
      command: ["bash", DRAW],
      cols: 72,
      rows: 24,
    })
    await waitFor(() => captureOf(detail.name).includes("draw>"), "the drawing")
    const operator = await connect(detail.id, "operator")
    const view = await firstSnapshot(operator)
    expect(operator.frames[0]).toMatchObject({ kind: "json", value: { type: "snapshot" } })
    expect([view.snap.cols, view.snap.rows]).toEqual([72, 24])
    expect(screenText(view.term)).toBe(captureOf(detail.name))
    // Attributes came along, not just text: "red bold" is bold and palette red.
    const buffer = view.term.buffer.active
    const row = [...Array(buffer.length).keys()].find((y) =>
      buffer.getLine(y)?.translateToString(true).startsWith("red bold"),
    )
    const cell = row === undefined ? undefined : buffer.getLine(row)?.getCell(0)
    expect(cell?.isBold()).toBeTruthy()
    expect(cell?.isFgPalette()).toBeTruthy()
    expect(cell?.getFgColor()).toBe(1)

    operator.send({ type: "input", data: "echo hi\r" })
    let shown = ""
    await waitFor(
      async () => {
        shown = await screenOf(operator)
        return /^hi$/m.test(shown) && shown === captureOf(detail.name)
      },
      () => `the echo on both screens:\n${shown}\n---\n${captureOf(detail.name)}`,
    )
    // The frames after the snapshot are exactly the log from the snapshot's offset.
    const end = position(operator) ?? 0
    const bytes = operator.outputFrom(view.snap.offset)
    expect(bytes.length).toBe(end - view.snap.offset)
    const log = await server.request("viewer", {
      method: "GET",
      url: `/api/runners/${detail.id}/log?from=${view.snap.offset}`,
    })
    expect(log.rawPayload.subarray(0, bytes.length).equals(bytes)).toBe(true)
    expect(bytes.toString("utf8")).toContain("hi\r\n")

    // A viewer joining after the activity draws the same screen from its own snapshot.
    const late = await connect(detail.id, "viewer")
    const lateView = await firstSnapshot(late)
    expect(screenText(lateView.term)).toBe(captureOf(detail.name))
  })

  it("resumes with ?from=OFFSET after 10k lines: exactly the missing bytes, no snapshot", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    const first = await connect(detail.id, "operator")
    await firstSnapshot(first)
    first.send({ type: "input", data: "echo before-gap-$((1+1))\r" })
    await waitFor(async () => /before-gap-2/.test(await screenOf(first)), "the first echo")
    const resumeAt = position(first) ?? 0
    await first.close()
    // And a new size, while nobody watches: its resize frame went nowhere.
    expect(
      server.tmux(["resize-window", "-t", `=${detail.name}:`, "-x", "90", "-y", "20"]).code,
    ).toBe(0)

    // 10k lines while nobody watches.
    const typed = await server.post(`/api/runners/${detail.id}/input`, {
      data: 'i=0; while [ $i -lt 10000 ]; do echo "gap line $i"; i=$((i+1)); done; echo GAP-$((2+2))-DONE\r',
    })
    expect(typed.statusCode).toBe(204)
    await waitFor(() => /GAP-4-DONE/.test(captureOf(detail.name)), "the 10k lines")
    const end = await waitFor(async () => {
      const e = await logEnd(detail.id)
      return e > resumeAt + 10_000 * 10 ? e : undefined
    }, "the log to hold the 10k lines")

    const resumed = await connect(detail.id, "viewer", `from=${resumeAt}`)
    await waitFor(() => (resumed.outputEnd() ?? 0) >= end, "the missed bytes")
    // First the pane's size as it is now, then output from the offset asked for.
    expect(resumed.frames[0]).toEqual({
      kind: "json",
      value: { type: "resize", cols: 90, rows: 20 },
    })
    expect(resumed.binary()[0]?.offset).toBe(resumeAt)
    expect(resumed.json().filter((m) => m.type === "snapshot")).toEqual([])
    const got = resumed.outputFrom(resumeAt)
    const log = await server.request("viewer", {
      method: "GET",
      url: `/api/runners/${detail.id}/log?from=${resumeAt}`,
    })
    expect(got.length).toBeGreaterThanOrEqual(end - resumeAt)
    expect(got.subarray(0, end - resumeAt).equals(log.rawPayload.subarray(0, end - resumeAt))).toBe(
      true,
    )
    const text = got.toString("utf8")
    expect(text.match(/^gap line \d+\r$/gm)).toHaveLength(10_000)
    expect(text).toContain("gap line 0\r\n")
    expect(text).toContain("gap line 9999\r\n")

    // Any offset in the middle resumes exactly there too.
    const mid = resumeAt + 12_345
    const midClient = await connect(detail.id, "viewer", `from=${mid}`)
    await waitFor(() => (midClient.outputEnd() ?? 0) >= end, "the bytes from the middle")
    expect(
      midClient
        .outputFrom(mid)
        .subarray(0, end - mid)
        .equals(log.rawPayload.subarray(mid - resumeAt, end - resumeAt)),
    ).toBe(true)

    // Past the end: a snapshot that says why.
    const past = await connect(detail.id, "viewer", `from=${end + 1_000_000}`)
    const snap = await past.nextJson((m) => m.type === "snapshot", "a snapshot")
    expect(snap.note).toMatch(/past the end/)
  })

  it("resizes on an operator's request: a resize frame to viewers, and tmux's pane follows", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"], cols: 80, rows: 24 })
    const operator = await connect(detail.id, "operator")
    const viewer = await connect(detail.id, "viewer")
    await operator.nextJson((m) => m.type === "snapshot", "snapshot")
    await viewer.nextJson((m) => m.type === "snapshot", "snapshot")
    const width = () =>
      server
        .tmux(["display", "-p", "-t", `=${detail.name}:`, "#{pane_width}x#{pane_height}"])
        .stdout.trim()
    expect(width()).toBe("80x24")
    operator.send({ type: "resize", cols: 100, rows: 30 })
    const frame = await viewer.nextJson((m) => m.type === "resize", "a resize frame")
    expect(frame).toEqual({ type: "resize", cols: 100, rows: 30 })
    await operator.nextJson((m) => m.type === "resize", "the operator's resize frame")
    await waitFor(
      () => width() === "100x30",
      () => `pane size ${width()}`,
    )
    expect((await server.runner(detail.id)).session.panes[0]).toMatchObject({ cols: 100, rows: 30 })
    // A new viewer's snapshot has the new size.
    const late = await connect(detail.id, "viewer")
    expect(await late.nextJson((m) => m.type === "snapshot", "snapshot")).toMatchObject({
      cols: 100,
      rows: 30,
    })
  })

  it("a socket naming no pane hears its main pane's resizes only, in a split window", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"], cols: 80, rows: 24 })
    // Someone split the runner's window from `tmux attach`.
    expect(server.tmux(["split-window", "-d", "-h", "-t", `=${detail.name}:`]).code).toBe(0)
    const operator = await connect(detail.id, "operator")
    const viewer = await connect(detail.id, "viewer")
    await operator.nextJson((m) => m.type === "snapshot", "snapshot")
    await viewer.nextJson((m) => m.type === "snapshot", "snapshot")
    // A new window size: both panes change, each to its own size.
    operator.send({ type: "resize", cols: 101, rows: 30 })
    const main = detail.session.panes[0]?.id
    const mainNow = await waitFor(async () => {
      const panes = (await server.runner(detail.id)).session.panes
      const found = panes.find((p) => p.id === main)
      return panes.length === 2 && found?.rows === 30 ? found : undefined
    }, "both panes resized")
    expect(mainNow.cols).toBeLessThan(101)
    await viewer.nextJson((m) => m.type === "resize", "a resize frame")
    // The operator's own socket heard the same by then (its frames come from the same event).
    await operator.nextJson((m) => m.type === "resize", "the operator's resize frame")
    const sizes = (client: WsClient) =>
      new Set(
        client
          .json()
          .filter((m) => m.type === "resize")
          .map((m) => `${m.cols}x${m.rows}`),
      )
    expect(sizes(viewer)).toEqual(new Set([`${mainNow.cols}x${mainNow.rows}`]))
    expect(sizes(operator)).toEqual(new Set([`${mainNow.cols}x${mainNow.rows}`]))
  })

  it("answers malformed frames with error frames and stays usable", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    const client = await connect(detail.id, "operator")
    await firstSnapshot(client)
    const bad: ReadonlyArray<string | Buffer> = [
      "not json",
      "",
      "null",
      "[]",
      "42",
      JSON.stringify({ type: "nope" }),
      JSON.stringify({ type: "input" }),
      JSON.stringify({ type: "input", data: 5 }),
      JSON.stringify({ type: "input", data: "x", extra: 1 }),
      JSON.stringify({ type: "input", data: "x".repeat(70_000) }),
      JSON.stringify({ type: "resize", cols: 1, rows: 1 }),
      JSON.stringify({ type: "resize", cols: 80.5, rows: 24 }),
      JSON.stringify({ type: "ack", offset: -1 }),
      JSON.stringify({ type: "ack", offset: "12" }),
      JSON.stringify({ type: "ack", offset: 2 ** 60 }),
      Buffer.from([0, 1, 2, 3]),
    ]
    const errorsBefore = client.json().filter((m) => m.type === "error").length
    for (const frame of bad) client.socket.send(frame)
    await waitFor(
      () => client.json().filter((m) => m.type === "error").length - errorsBefore >= bad.length,
      () => `an error frame for each bad frame: ${JSON.stringify(client.json())}`,
    )
    for (const m of client.json().filter((f) => f.type === "error")) {
      expect(TerminalServerMessage.parse(m)).toMatchObject({
        type: "error",
        code: "ValidationError",
      })
    }
    expect(client.closeCode).toBeUndefined()
    expect(
      server.tmux(["display", "-p", "-t", `=${detail.name}:`, "#{pane_width}"]).stdout.trim(),
    ).toBe("120")
    client.send({ type: "input", data: "echo still-here-$((2+3))\r" })
    await waitFor(async () => /still-here-5/.test(await screenOf(client)), "the echo after junk")
    // An ack of what was sent is fine, and silent.
    const errors = client.json().filter((m) => m.type === "error").length
    client.send({ type: "ack", offset: position(client) ?? 0 })
    client.send({ type: "input", data: "echo acked-$((3+3))\r" })
    await waitFor(async () => /acked-6/.test(await screenOf(client)), "the echo after an ack")
    expect(client.json().filter((m) => m.type === "error")).toHaveLength(errors)
  })

  it("tells a watcher when the runner exits, and replays a finished runner from its first byte", async () => {
    const detail = await server.start({
      provider: "shell",
      command: ["sh", "-c", "echo bye-$((6*7)); read x; exit 5"],
    })
    const client = await connect(detail.id, "viewer")
    await firstSnapshot(client)
    await waitFor(async () => /^bye-42$/m.test(await screenOf(client)), "the first line")
    await server.post(`/api/runners/${detail.id}/input`, { data: "\r" })
    const exit = await client.nextJson((m) => m.type === "exit", "the exit frame")
    expect(exit).toMatchObject({ exitCode: 5 })
    await client.nextJson(
      (m) => m.type === "status" && m.status === "failed",
      "the failed status frame",
    )
    for (const m of client.json()) TerminalServerMessage.parse(m)

    // Joining afterwards: a snapshot at the oldest kept byte, then the whole log again.
    const late = await connect(detail.id, "viewer")
    const { snap } = await firstSnapshot(late)
    expect(snap.offset).toBe(0)
    const log = await server.log(detail.id)
    await waitFor(() => position(late) === log.end, "the replay")
    expect(late.outputFrom(0).equals(log.bytes)).toBe(true)
    expect(await screenOf(late)).toMatch(/^bye-42$/m)
    // Nobody types into a finished runner: an error frame, not a dead socket.
    const operator = await connect(detail.id, "operator")
    await firstSnapshot(operator)
    const sent = operator.frames.length
    operator.send({ type: "input", data: "x" })
    const refused = await operator.nextJson((m) => m.type === "error", "an error frame", sent)
    // The same code the HTTP API answers for the same refusal (409 AiProviderOperationError).
    expect(refused.code).toBe("AiProviderOperationError")
    expect(operator.closeCode).toBeUndefined()
  })

  it("refuses a bad pane or query before the upgrade", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    await expect(
      WsClient.open(terminalUrl(detail.id, "pane=%999"), bearer("viewer")),
    ).rejects.toThrow(/404/)
    await expect(WsClient.open(terminalUrl(detail.id, "pane=1"), bearer("viewer"))).rejects.toThrow(
      /400/,
    )
    await expect(
      WsClient.open(terminalUrl(detail.id, "from=-5"), bearer("viewer")),
    ).rejects.toThrow(/400/)
    await expect(WsClient.open(terminalUrl(detail.id, "what=1"), bearer("viewer"))).rejects.toThrow(
      /400/,
    )
    await expect(WsClient.open(terminalUrl("run-nope"), bearer("viewer"))).rejects.toThrow(/404/)
    const pane = detail.session.panes[0]?.id ?? ""
    const ok = await connect(detail.id, "viewer", `pane=${encodeURIComponent(pane)}`)
    await ok.nextJson((m) => m.type === "snapshot", "a snapshot of the named pane")
  })

  it("keeps a stuck viewer bounded through a 50 MB flood while another keeps up; the stuck one is skipped to a snapshot", {
    timeout: 240_000,
  }, async () => {
    const FLOOD = 50_000_000
    const detail = await server.start({
      provider: "shell",
      command: [
        "sh",
        "-c",
        // After the flood, a full redraw (clear screen): a viewer moved forward mid-flood got
        // a snapshot of a pane that never paused, which may be off by a wrapped line until then.
        `read go; head -c ${FLOOD} /dev/zero | tr '\\0' x; printf '\\nFLOOD-DONE\\n'; read more; printf '\\033[H\\033[2J'; echo "after=$more"; exec sleep 600`,
      ],
    })
    const flowsBefore = flows.length
    const slow = await connect(detail.id, "viewer")
    await slow.nextJson((m) => m.type === "snapshot", "the slow viewer's snapshot")
    const fast = await connect(detail.id, "operator")
    await fast.nextJson((m) => m.type === "snapshot", "the fast viewer's snapshot")
    expect(flows.length).toBe(flowsBefore + 2)
    const slowFlow = flows[flowsBefore] as FlowState
    // The slow viewer's high-water mark of bytes handed to its socket, seen on every change.
    const slowPeak = unflushedPeak(slowFlow)

    slow.pauseReading()
    const slowFramesWhilePaused = slow.frames.length
    fast.send({ type: "input", data: "go\r" })

    // The fast viewer gets through the whole flood while the slow one reads nothing. It may
    // itself be moved forward to a snapshot if this process falls behind the pane (then
    // its frames restart at the snapshot's offset); either way it ends at the log's end.
    await waitFor(
      () => (position(fast) ?? 0) > FLOOD,
      () => `the fast viewer past the flood (at ${position(fast)})`,
      180_000,
    )
    const floodEnd = await logEnd(detail.id)
    await waitFor(() => position(fast) === floodEnd, "the fast viewer at the log's end")
    expect(captureOf(detail.name)).toMatch(/FLOOD-DONE$/)
    expect(await screenOf(fast)).toMatch(/FLOOD-DONE$/)
    expect(slow.frames.length).toBe(slowFramesWhilePaused)

    // The stuck viewer cost at most its socket bound plus a chunk: not the 50 MB.
    const bound = slowFlow.limits.socketBytes + 256 * 1024
    expect(slowPeak()).toBeGreaterThan(0)
    expect(slowPeak()).toBeLessThanOrEqual(bound)

    // Reading again: what sat in the kernel, then a fresh snapshot that says why.
    slow.resumeReading()
    const note = await slow.nextJson(
      (m) => m.type === "snapshot" && typeof m.note === "string",
      "a snapshot with a note",
      1,
      60_000,
    )
    expect(note.note).toMatch(/behind/)
    expect(slowFlow.skips).toBeGreaterThanOrEqual(1)
    await waitFor(() => position(slow) === floodEnd, "the slow viewer at the log's end")
    expect(await screenOf(slow)).toMatch(/FLOOD-DONE$/)
    // It was moved forward, not made to replay the backlog: far less than the flood came.
    const replayed = slow.binary().reduce((n, f) => n + f.bytes.length, 0)
    expect(replayed).toBeLessThan(FLOOD / 2)
    expect(slowPeak()).toBeLessThanOrEqual(bound)

    // Both stay live and get the last byte: the operator's next line reaches both.
    fast.send({ type: "input", data: "more\r" })
    await waitFor(() => /^after=more$/m.test(captureOf(detail.name)), "the line after the flood")
    const end = await waitFor(async () => {
      const e = await logEnd(detail.id)
      return e > floodEnd ? e : undefined
    }, "the log past the flood")
    for (const client of [fast, slow]) {
      await waitFor(() => position(client) === end, "the viewer at the last byte")
      expect(client.binary().at(-1)?.bytes.toString("utf8")).toMatch(/after=more\r\n$/)
      // After the redraw, exactly what tmux shows.
      expect(await screenOf(client)).toBe(captureOf(detail.name))
    }
  })
})

/** A server of this test's own with small flow bounds, and each viewer's flow state. */
const smallServer = async (limits: FlowLimits) => {
  const flows: FlowState[] = []
  const small = await startServer({ terminal: { limits, onFlow: (flow) => flows.push(flow) } })
  onTestFinished(() => small.close())
  return { small, flows }
}

describe("a finished runner's log replayed to a viewer that draws slowly", () => {
  it("reaches the log's end: it is never 'skipped forward' to the blank start of a finished runner", {
    timeout: 120_000,
  }, async () => {
    // Small bounds, so a 2 MB log is far behind many times over: each stall (64 KiB unacked)
    // ends with the viewer 256 KiB or more short of the end.
    const { small, flows: smallFlows } = await smallServer({
      socketBytes: 64 * 1024,
      windowBytes: 64 * 1024,
      skipBytes: 256 * 1024,
    })
    const detail = await small.start({
      provider: "shell",
      command: ["sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' y; echo; echo REPLAY-END"],
    })
    await waitFor(
      async () =>
        (await small.request("viewer", { method: "GET", url: `/api/runners/${detail.id}` })).json()
          .status === "completed" || undefined,
      "the runner to finish",
    )
    const log = await small.log(detail.id)
    expect(log.end).toBeGreaterThan(2_000_000)
    const client = await WsClient.open(
      `${small.wsOrigin}/api/runners/${detail.id}/terminal`,
      bearer("viewer"),
    )
    onTestFinished(() => client.close())
    // A browser acks what it has drawn; this one draws a little at a time.
    let acked = -1
    await waitFor(
      () => {
        const at = position(client) ?? 0
        if (at > acked) {
          acked = at
          client.send({ type: "ack", offset: at })
        }
        return at === log.end || undefined
      },
      () => `the replay at the log's end (${log.end}); at ${position(client)}`,
      90_000,
    )
    expect(client.outputFrom(0).equals(log.bytes)).toBe(true)
    // One snapshot (the first), none that says it skipped.
    expect(client.json().filter((m) => m.type === "snapshot")).toHaveLength(1)
    expect(smallFlows.at(-1)?.skips).toBe(0)
  })
})

describe("a client that sends refused frames and never reads the answers", () => {
  it("is closed with 1008 once the answers it left unread pass twice the socket bound", {
    timeout: 120_000,
  }, async () => {
    const { small, flows } = await smallServer({
      socketBytes: 16 * 1024,
      windowBytes: 64 * 1024,
      skipBytes: 256 * 1024,
    })
    const detail = await small.start({ provider: "shell", command: ["sh"] })
    const client = await WsClient.open(
      `${small.wsOrigin}/api/runners/${detail.id}/terminal`,
      bearer("viewer"),
    )
    onTestFinished(() => client.close())
    await client.nextJson((m) => m.type === "snapshot", "the snapshot")
    const flow = flows.at(-1) as FlowState
    const peak = unflushedPeak(flow)
    client.pauseReading()
    // Not JSON: each gets an error frame, which this client does not read. The kernel's
    // buffers take the first megabytes; past them the answers pile up in the server.
    for (let sent = 0; sent < 400_000 && client.closeCode === undefined; sent += 1000) {
      for (let i = 0; i < 1000; i++) client.socket.send("x")
      await new Promise((resolve) => setImmediate(resolve))
    }
    client.resumeReading()
    const code = await waitFor(() => client.closeCode, "the socket closed", 60_000)
    expect(code).toBe(1008)
    // Bounded by the rule, plus the one answer that crossed it.
    expect(peak()).toBeLessThanOrEqual(2 * flow.limits.socketBytes + 1024)
  })
})

describe("adopted multi-pane sessions", () => {
  it("shows each pane on its own socket, and types into the pane a socket shows", async () => {
    const made = server.tmux(["new-session", "-d", "-s", "two-panes", "-x", "100", "-y", "30"])
    expect(made.code, made.stderr).toBe(0)
    onTestFinished(() => {
      server.tmux(["kill-session", "-t", "=two-panes"])
    })
    expect(server.tmux(["split-window", "-d", "-h", "-t", "=two-panes:"]).code).toBe(0)
    const panes = server
      .tmux(["list-panes", "-t", "=two-panes:", "-F", "#{pane_id} #{pane_active}"])
      .stdout.trim()
      .split("\n")
      .map((l) => l.split(" "))
    const active = panes.find(([, a]) => a === "1")?.[0] ?? ""
    const other = panes.find(([, a]) => a === "0")?.[0] ?? ""
    expect(active).toMatch(/^%\d+$/)
    expect(other).toMatch(/^%\d+$/)

    const adopted = await server.post("/api/sessions/two-panes/adopt")
    expect(adopted.statusCode, adopted.body).toBe(201)
    const id = String(adopted.json().id)
    expect((await server.runner(id)).session.panes.map((p) => p.id).sort()).toEqual(
      [active, other].sort(),
    )

    const main = await connect(id, "operator", `pane=${encodeURIComponent(active)}`)
    const side = await connect(id, "operator", `pane=${encodeURIComponent(other)}`)
    await firstSnapshot(main)
    await firstSnapshot(side)
    const paneText = (pane: string) =>
      server.tmux(["capture-pane", "-p", "-t", pane]).stdout.replace(/\n+$/, "")

    // Output of each pane reaches its own socket only.
    server.tmux(["send-keys", "-t", other, "echo side-$((3*3))", "Enter"])
    let shown = ""
    await waitFor(
      async () => {
        shown = await screenOf(side)
        return /side-9/.test(shown) && shown === paneText(other)
      },
      () => `the side pane's echo on its socket:\n${shown}\n---\n${paneText(other)}`,
    )
    expect(await screenOf(main)).not.toMatch(/side-9/)

    // Typed on each pane's socket: lands in that pane, and only there.
    side.send({ type: "input", data: "echo typed-$((4*4))\r" })
    main.send({ type: "input", data: "echo main-$((5*5))\r" })
    await waitFor(() => /typed-16/.test(paneText(other)), "the side pane's typed echo")
    await waitFor(() => /main-25/.test(paneText(active)), "the main pane's typed echo")
    expect(paneText(active)).not.toMatch(/typed-16/)
    expect(paneText(other)).not.toMatch(/main-25/)
    // And the REST input goes to the main pane.
    await server.post(`/api/runners/${id}/input`, { data: "echo rest-$((6*6))\r" })
    await waitFor(() => /rest-36/.test(paneText(active)), "the REST input's echo")
    expect(paneText(other)).not.toMatch(/rest-36/)
  })
})
