import { chmodSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { EventsServerMessage, type RunnerSummary } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"

let server: TestServer
beforeAll(async () => {
  // Fast attention: the generic question rule reports after 500 ms of a still screen.
  server = await startServer({ config: { attention: { debounceMs: 500 } } })
})
afterAll(async () => {
  await server?.close()
})

const QUESTION = `printf 'Continue? [y/N] '; read a; echo "answer=$a"; exit 0`

const watch = () => WsClient.open(`${server.wsOrigin}/api/events`, bearer("viewer"))

/** The board a watcher would show after applying its frames in order. */
const board = (client: WsClient): Map<string, RunnerSummary> => {
  const runners = new Map<string, RunnerSummary>()
  for (const raw of client.json()) {
    const m = EventsServerMessage.parse(raw)
    if (m.type === "runners") {
      runners.clear()
      for (const r of m.runners) runners.set(r.id, r)
    } else if (m.type === "runner") runners.set(m.runner.id, m.runner)
    else if (m.type === "removed") runners.delete(m.runnerId)
  }
  return runners
}

describe("WS /api/events", () => {
  it("sends the board first, then runner and event frames as a runner starts, waits and exits", async () => {
    const fast = await watch()
    // A second watcher that stops reading at once: its socket backs up in the kernel.
    const slow = await watch()
    await slow.nextJson((m) => m.type === "runners", "the slow watcher's board")
    slow.pauseReading()
    const slowSeen = slow.frames.length

    const first = await fast.nextJson(() => true, "the first frame")
    expect(fast.frames.findIndex((f) => f.kind === "json" && f.value === first)).toBe(0)
    expect(EventsServerMessage.parse(first).type).toBe("runners")
    const seenBefore = fast.frames.length

    const detail = await server.start({ provider: "shell", command: ["sh", "-c", QUESTION] })
    const id = detail.id
    const forThis = (m: Record<string, unknown>) =>
      (m.type === "runner" && (m.runner as RunnerSummary).id === id) ||
      (m.type === "event" && m.runnerId === id)

    await fast.nextJson(
      (m) => m.type === "runner" && (m.runner as RunnerSummary).id === id,
      "a runner frame for the new runner",
      seenBefore,
    )
    const waiting = await fast.nextJson(
      (m) =>
        m.type === "runner" &&
        (m.runner as RunnerSummary).id === id &&
        (m.runner as RunnerSummary).waitingForInput,
      "the runner waiting for input",
      seenBefore,
    )
    expect((waiting.runner as RunnerSummary).attentionReason).toBe("question")
    const attention = await fast.nextJson(
      (m) =>
        m.type === "event" &&
        m.runnerId === id &&
        (m.event as { type: string }).type === "attention",
      "an attention event",
      seenBefore,
    )
    expect(attention.event).toMatchObject({ waitingForInput: true, reason: "question" })

    const typed = await server.post(`/api/runners/${id}/input`, { data: "y\r" })
    expect(typed.statusCode).toBe(204)
    const exit = await fast.nextJson(
      (m) =>
        m.type === "event" && m.runnerId === id && (m.event as { type: string }).type === "exit",
      "the exit event",
      seenBefore,
    )
    expect(exit.event).toMatchObject({ exitCode: 0 })
    const completed = await fast.nextJson(
      (m) =>
        m.type === "runner" &&
        (m.runner as RunnerSummary).id === id &&
        (m.runner as RunnerSummary).status === "completed",
      "the runner completed",
      seenBefore,
    )
    expect(completed.runner).toMatchObject({ exitCode: 0, waitingForInput: false })

    // Every frame is valid per the protocol, none is raw output, and this runner's
    // frames come in the order things happened.
    const frames = fast.json().slice(seenBefore).filter(forThis)
    for (const f of fast.json()) EventsServerMessage.parse(f)
    const kinds = frames.map((f) =>
      f.type === "runner"
        ? `runner:${(f.runner as RunnerSummary).status}${(f.runner as RunnerSummary).waitingForInput ? ":waiting" : ""}`
        : `event:${(f.event as { type: string }).type}`,
    )
    expect(kinds).not.toContain("event:output")
    expect(kinds.indexOf("runner:running:waiting")).toBeGreaterThan(kinds.indexOf("runner:running"))
    expect(kinds.lastIndexOf("event:exit")).toBeGreaterThan(kinds.indexOf("runner:running:waiting"))
    expect(kinds.indexOf("runner:completed")).toBeGreaterThan(kinds.lastIndexOf("event:exit"))
    expect(board(fast).get(id)).toMatchObject({ status: "completed", exitCode: 0 })

    // The stuck watcher held nothing back: it has not read a byte meanwhile...
    expect(slow.frames.length).toBe(slowSeen)
    // ...and once it reads again it catches up to the same board.
    slow.resumeReading()
    const caughtUp = await slow.nextJson(
      () => board(slow).get(id)?.status === "completed",
      "the slow watcher to catch up",
    )
    expect(caughtUp).toBeDefined()
    expect(board(slow).get(id)).toEqual(board(fast).get(id))

    await fast.close()
    await slow.close()
  })

  it("skips a watcher that stopped reading past its bound, and resyncs it once it drains even if the board went quiet", {
    timeout: 180_000,
  }, async () => {
    // A stand-in `aider` that exits at once: each runner's frames carry its 120 KB prompt,
    // so 48 of them make ~12 MB of frames, more than the kernel buffers of a paused socket
    // hold (then the server must skip, not queue).
    const bin = join(server.dataDir, "fake-bin")
    mkdirSync(bin, { recursive: true })
    writeFileSync(join(bin, "aider"), "#!/bin/sh\nexit 0\n")
    chmodSync(join(bin, "aider"), 0o755)

    const fast = await watch()
    const slow = await watch()
    await slow.nextJson((m) => m.type === "runners", "the slow watcher's board")
    await fast.nextJson((m) => m.type === "runners", "the fast watcher's board")
    slow.pauseReading()

    const ids: string[] = []
    for (let batch = 0; batch < 6; batch++) {
      const started = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          server.start({
            provider: "aider",
            mode: "oneshot",
            prompt: `${batch}-${i} `.padEnd(120_000, "p"),
            env: { PATH: `${bin}:/usr/bin:/bin` },
          }),
        ),
      )
      ids.push(...started.map((d) => d.id))
    }
    const done = (client: WsClient) => {
      const b = board(client)
      return ids.every((id) => b.get(id)?.status === "completed")
    }
    await waitFor(() => done(fast), "the fast watcher to see every runner complete", 120_000)

    // Nothing changes any more. The slow watcher reads again and must still converge.
    slow.resumeReading()
    await waitFor(
      () => done(slow),
      () => {
        const b = board(slow)
        return `the slow watcher's board to converge: ${ids.filter((id) => b.get(id)?.status === "completed").length}/${ids.length} completed`
      },
      60_000,
    )
    for (const id of ids) expect(board(slow).get(id)).toEqual(board(fast).get(id))
    // It got there by a resync (a second `runners` frame), not by a replay of everything.
    expect(slow.json().filter((m) => m.type === "runners").length).toBeGreaterThanOrEqual(2)
    expect(slow.json().length).toBeLessThan(fast.json().length)
    await fast.close()
    await slow.close()
  })

  it("sends removed when a runner is deleted, and refuses bad queries before the upgrade", async () => {
    const client = await watch()
    await client.nextJson((m) => m.type === "runners", "the board")
    const detail = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exec sleep 600"],
    })
    await client.nextJson(
      (m) => m.type === "runner" && (m.runner as RunnerSummary).id === detail.id,
      "the new runner",
    )
    const reply = await server.request("operator", {
      method: "DELETE",
      url: `/api/runners/${detail.id}`,
    })
    expect(reply.statusCode).toBe(204)
    await client.nextJson(
      (m) => m.type === "removed" && m.runnerId === detail.id,
      "the removed frame",
    )
    expect(board(client).has(detail.id)).toBe(false)
    // Frames from the client are ignored, not fatal.
    client.send("not json")
    client.send({ type: "input", data: "x" })
    const again = await server.start({ provider: "shell", command: ["sh", "-c", "exec sleep 600"] })
    await client.nextJson(
      (m) => m.type === "runner" && (m.runner as RunnerSummary).id === again.id,
      "frames after the client sent junk",
    )
    await client.close()

    await expect(
      WsClient.open(`${server.wsOrigin}/api/events?unknown=1`, bearer("viewer")),
    ).rejects.toThrow(/400/)
  })
})
