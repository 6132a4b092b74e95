import { readdirSync, readFileSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"
import {
  isStarted,
  operatorToken,
  processWorld,
  type ServerProcess,
  viewerToken,
} from "./process-server.js"
import { record } from "./tally.js"

const world = processWorld()
let server: ServerProcess
let fiveXx = 0

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length
const rssBytes = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return Number(match?.[1] ?? 0) * 1024
}

const post = async (path: string, body: string) => {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
    body,
  })
  if (response.status >= 500) fiveXx++
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

/**
 * A POST that announces `body`'s full length but sends only its first KiB, then waits for the
 * answer. An oversized body must be refused from its `content-length` alone, without reading
 * it; sending all of it would race the server's close (the client's EPIPE can swallow the 413).
 */
const rawPost = (path: string, body: string) =>
  new Promise<number>((resolve, reject) => {
    const request = httpRequest(`${server.url}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${operatorToken}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      },
    })
    request.on("response", (response) => {
      response.resume()
      if ((response.statusCode ?? 0) >= 500) fiveXx++
      resolve(response.statusCode ?? 0)
      request.destroy()
    })
    request.on("error", (error) => setTimeout(() => reject(error), 2000))
    request.write(body.slice(0, 1024))
  })

const terminalUrl = (id: string) =>
  `${server.url.replace(/^http/, "ws")}/api/runners/${id}/terminal`
const auth = (token: string) => ({ authorization: `Bearer ${token}` })

beforeAll(async () => {
  // A small old-space cap: garbage left by the storms must be collected, and real growth
  // proportional to the load would end in an out-of-memory crash rather than a slow RSS climb.
  const started = await world.start([], ["--max-old-space-size=384"])
  if (!isStarted(started)) throw new Error(`server failed: ${started.failed}`)
  server = started
})
afterAll(async () => {
  record({ fiveXx })
  await world.close()
})

/** 500 upgrades dropped in a burst, then 10k input frames on one operator socket. */
const storm = async (tickerId: string, catId: string, round: number) => {
  const marker = `END-OF-FLOOD-${round}`
  // The burst: 500 upgrades at once; a third closed cleanly, a third reset, a third cut mid-handshake.
  const burst = Array.from(
    { length: 500 },
    (_, i) =>
      new Promise<void>((resolve) => {
        const ws = new WebSocket(terminalUrl(i % 2 === 0 ? tickerId : catId), {
          headers: auth(viewerToken),
          perMessageDeflate: false,
        })
        ws.on("error", () => resolve())
        ws.on("close", () => resolve())
        ws.on("unexpected-response", () => resolve())
        if (i % 3 === 2) {
          setImmediate(() => ws.terminate())
          return
        }
        ws.on("open", () => (i % 3 === 0 ? ws.close() : ws.terminate()))
      }),
  )
  await Promise.all(burst)

  // 10k input frames as fast as the socket takes them, then a marker the pane must echo.
  // Each ends the line: a canonical-mode tty drops typed bytes past 4095 in one line.
  const typist = await WsClient.open(terminalUrl(catId), auth(operatorToken))
  for (let i = 0; i < 10_000; i++) typist.send({ type: "input", data: "x\r" })
  // The server drops what comes too fast with RateLimitError frames (never a close); once the
  // flood is over, input is typed again: the marker is resent until the pane echoes it.
  let logText = ""
  let lastMarker = 0
  await waitFor(
    async () => {
      if (Date.now() - lastMarker > 1000) {
        lastMarker = Date.now()
        typist.send({ type: "input", data: `${marker}\r` })
      }
      const response = await fetch(`${server.url}/api/runners/${catId}/log`, {
        headers: auth(viewerToken),
      })
      logText = await response.text()
      return logText.includes(marker)
    },
    () =>
      `the marker after 10k frames in the pane (log ${logText.length} bytes, ends ${JSON.stringify(logText.slice(-80))}; typist ${typist.closeCode} ${typist.closeReason}; frames ${JSON.stringify(typist.json().slice(-3))})`,
    60_000,
  )
  expect(typist.closeCode).toBeUndefined()
  const limited = typist.json().filter((f) => f.code === "RateLimitError").length
  process.stdout.write(`resources: 10k input frames, ${limited} answered with RateLimitError\n`)
  typist.socket.close()
}

describe("resource faults", () => {
  it("500 sockets opened and dropped in a burst and 10k input frames: fds and memory come back, a viewer keeps its output", async () => {
    const ticker = await post(
      "/api/runners",
      JSON.stringify({
        provider: "shell",
        command: ["sh", "-c", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.1; done"],
      }),
    )
    expect(ticker.status).toBe(201)
    const cat = await post("/api/runners", JSON.stringify({ provider: "shell", command: ["cat"] }))
    expect(cat.status).toBe(201)
    const tickerId = String(ticker.json.id)
    const catId = String(cat.json.id)

    // A viewer that stays through the storm.
    const viewer = await WsClient.open(terminalUrl(tickerId), auth(viewerToken))
    await waitFor(() => viewer.binary().length > 0, "the viewer's first output")

    // Warm up every path once (lazy modules, buffers), then take the baseline.
    for (let i = 0; i < 20; i++) {
      const c = await WsClient.open(terminalUrl(tickerId), auth(viewerToken))
      c.socket.close()
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
    const fdsBefore = fdCount(server.pid)
    const rssBefore = rssBytes(server.pid)

    const rssRounds = [rssBefore]
    for (let round = 0; round < 2; round++) {
      await storm(tickerId, catId, round).catch((error: unknown) => {
        throw new Error(
          `storm ${round}: ${String(error)}; server said: ${server.output().slice(-1500)}`,
        )
      })
      rssRounds.push(rssBytes(server.pid))
    }
    // The viewer that stayed still gets fresh output.
    const seen = viewer.binary().length
    await waitFor(() => viewer.binary().length > seen + 3, "the viewer's output after the storm")
    expect(viewer.closeCode).toBeUndefined()
    viewer.socket.close()

    // Every socket gone: the fd count returns to its baseline (a little slack for timers and
    // inotify churn); RSS does not grow with the 500 sockets or the 10k frames.
    const fdsAfter = await waitFor(
      () => {
        const n = fdCount(server.pid)
        return n <= fdsBefore + 10 ? n : undefined
      },
      () => `fds back to ${fdsBefore} (now ${fdCount(server.pid)})`,
    )
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`
    process.stdout.write(
      `resources: fds ${fdsBefore} -> ${fdsAfter}, rss ${rssRounds.map(mib).join(" -> ")}\n`,
    )
    // V8 grows its heap lazily and keeps it (measured: 175 -> 370 -> 620 MiB over rounds with
    // the default heap, falling back later), so RSS deltas are noise. What bounds memory is the
    // heap cap above: retained garbage per socket or frame would have crashed the process.
    expect(server.child.exitCode).toBeNull()
    expect(rssRounds.at(-1) ?? 0).toBeLessThan(1024 * 2 ** 20)
    const health = await fetch(`${server.url}/api/health`)
    expect(health.status).toBe(200)
    record({ inputs: 2 * (10_000 + 500), faults: 4 })
  })

  it("an oversized body gets 413 and an oversized frame closes with 1009; the server stays up", async () => {
    const big = JSON.stringify({
      provider: "shell",
      command: ["true"],
      prompt: "x".repeat(2 * 2 ** 20),
    })
    expect(await rawPost("/api/runners", big)).toBe(413)
    const cat = await post("/api/runners", JSON.stringify({ provider: "shell", command: ["cat"] }))
    const client = await WsClient.open(terminalUrl(String(cat.json.id)), auth(operatorToken))
    client.send({ type: "input", data: "y".repeat(2 * 2 ** 20) })
    await waitFor(() => client.closeCode, "the oversized frame's close")
    // The server sends 1009 and stops reading: the rest of the 2 MiB still unread on its side
    // makes its kernel answer with a reset, which can reach this client before the close frame
    // does (then 1006; seen once in a clean-clone CI run). Either way the socket is closed by
    // the server, which stays up (below).
    expect([1009, 1006]).toContain(client.closeCode)
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200)
    record({ inputs: 2, faults: 2 })
  })

  it("a viewer that stops reading through a 100 MB flood: the tail, the other viewers' echo and memory are unaffected; it is skipped forward when it reads again", async () => {
    const cat = await post("/api/runners", JSON.stringify({ provider: "shell", command: ["cat"] }))
    const operator = await WsClient.open(terminalUrl(String(cat.json.id)), auth(operatorToken))
    await operator.nextJson((m) => m.type === "snapshot", "the operator's snapshot")
    // Echo timing straight off the socket (the client's frame list is polled; this is not).
    let pending: { char: string; resolve: () => void } | undefined
    operator.socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || pending === undefined) return
      if (data.subarray(8).toString("latin1").includes(pending.char)) {
        const p = pending
        pending = undefined
        p.resolve()
      }
    })
    const echoes = async (n: number) => {
      const samples: number[] = []
      for (let i = 0; i < n; i++) {
        const char = String.fromCharCode(97 + (i % 26))
        const echoed = new Promise<void>((resolve) => {
          pending = { char, resolve }
        })
        const t0 = performance.now()
        operator.send({ type: "input", data: char })
        await echoed
        samples.push(performance.now() - t0)
        await new Promise((r) => setTimeout(r, 20))
      }
      return samples.sort((a, b) => a - b)[Math.floor(n / 2)] ?? Number.NaN
    }

    const line = "flood-".repeat(16)
    const flood = await post(
      "/api/runners",
      JSON.stringify({ provider: "shell", command: ["sh", "-c", `yes ${line}`] }),
    )
    const floodId = String(flood.json.id)
    const bytesOut = async () => {
      const r = await fetch(`${server.url}/api/runners/${floodId}`, {
        headers: auth(operatorToken),
      })
      return Number(((await r.json()) as { bytesOut?: number }).bytesOut ?? 0)
    }
    await waitFor(async () => ((await bytesOut()) > 1e6 ? true : undefined), "the flood under way")
    const rssBefore = rssBytes(server.pid)
    // The same flood with and without a stuck viewer: only the stuck viewer differs.
    const freeEcho = await echoes(30)
    const stuck = await WsClient.open(terminalUrl(floodId), auth(viewerToken))
    await stuck.nextJson((m) => m.type === "snapshot", "the stuck viewer's snapshot")
    stuck.pauseReading()
    const start = await bytesOut()
    const stuckEcho = await echoes(30)
    await waitFor(
      async () => ((await bytesOut()) >= start + 100e6 ? true : undefined),
      "100 MB past the stuck viewer",
      180_000,
    )
    const rssAfter = rssBytes(server.pid)
    process.stdout.write(
      `resources: echo p50 during a flood ${freeEcho.toFixed(2)} ms, with a viewer stuck through 100 MB ${stuckEcho.toFixed(2)} ms; rss ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB\n`,
    )
    // The echo figures above are a benchmark's, printed with their baseline from the same
    // flood: not asserted, since a test does not assert wall-clock time (the claim that a stuck
    // socket costs the others nothing rests on what is asserted: the server stops pulling for
    // it, below, and it is skipped forward when it reads again).
    // The server stopped pulling for the stuck socket: far less than the 100 MB it missed.
    expect(rssAfter - rssBefore).toBeLessThan(64 * 2 ** 20)
    // Reading again, it is skipped forward to a snapshot, then gets output from there.
    const seen = stuck.frames.length
    stuck.resumeReading()
    const skip = await stuck.nextJson(
      (m) =>
        m.type === "snapshot" && typeof m.note === "string" && m.note.includes("skipped forward"),
      "the skip-forward snapshot",
      seen,
      60_000,
    )
    await waitFor(
      () => (stuck.binary().some((f) => f.offset >= Number(skip.offset)) ? true : undefined),
      "output after the skip",
    )
    expect(stuck.closeCode).toBeUndefined()
    await stuck.close()
    await operator.close()
    await fetch(`${server.url}/api/runners/${floodId}/terminate`, {
      method: "POST",
      headers: auth(operatorToken),
    })
    record({ inputs: 60, faults: 1 })
  })
})
