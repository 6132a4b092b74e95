import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { parseSegmentName } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"
import {
  isStarted,
  operatorToken,
  pacedLines,
  pacedLinesScript,
  processWorld,
  type ServerProcess,
} from "./process-server.js"
import { record } from "./tally.js"

const world = processWorld()
let server: ServerProcess

beforeAll(async () => {
  const started = await world.start()
  if (!isStarted(started)) throw new Error(`server failed: ${started.failed}`)
  server = started
})
afterAll(world.close)

interface Summary {
  readonly id: string
  readonly status: string
  readonly exitCode?: number
}

/** Pids of the `split` processes writing into `dir` (argv names its segment prefix). */
const splitsOf = (dir: string): ReadonlyArray<number> =>
  readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      let argv: string[]
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      } catch {
        return []
      }
      return /(^|\/)split$/.test(argv[0] ?? "") && argv.some((a) => a.startsWith(`${dir}/out-`))
        ? [Number(pid)]
        : []
    })

const logOf = async (id: string) => (await world.fetchJson(server, `/api/runners/${id}/log`)).body

/**
 * The segment files of `dir` cover one run of offsets from 0: each starts where the one before
 * it ends, whatever writer generation made it. Returns the end.
 */
const checkSegments = (dir: string): number => {
  const segments = readdirSync(dir)
    .map(parseSegmentName)
    .filter((s) => s !== undefined)
    .sort((a, b) => a.start - b.start)
  let end = 0
  for (const s of segments) {
    expect(s.start, `segment ${s.name}`).toBe(end)
    end = s.start + statSync(join(dir, s.name)).size
  }
  return end
}

const startPrinter = async (name: string, count: number) => {
  const reply = await world.fetchJson(server, "/api/runners", {
    method: "POST",
    body: JSON.stringify({
      provider: "shell",
      name,
      command: ["sh", pacedLinesScript, String(count), "20", "0.05"],
    }),
  })
  expect(reply.status, reply.body.toString()).toBe(201)
  return (JSON.parse(reply.body.toString()) as Summary).id
}

describe("the log writer of one runner killed", () => {
  it("is restarted at the log's end, the gap is an event, the log stays contiguous, the other runner is untouched", async () => {
    const events = await WsClient.open(`${server.url.replace(/^http/, "ws")}/api/events`, {
      authorization: `Bearer ${operatorToken}`,
    })
    const victimCount = 3000
    const bystanderCount = 2500
    const victim = await startPrinter("victim", victimCount)
    const bystander = await startPrinter("bystander", bystanderCount)
    const victimDir = join(world.dataDir, "runners", victim)
    const bystanderDir = join(world.dataDir, "runners", bystander)
    const bystanderWriters = splitsOf(bystanderDir)
    expect(bystanderWriters.length).toBe(1)

    const gaps: Array<{ offset: number; reason: string; bytesLost: unknown; pane: string }> = []
    const KILLS = 2
    for (let kill = 0; kill < KILLS; kill++) {
      // Some output logged by the current writer first, so each kill opens a gap of its own.
      const before = (await logOf(victim)).length
      await waitFor(async () => (await logOf(victim)).length > before + 8_000, "more output")
      const writers = await waitFor(() => {
        const pids = splitsOf(victimDir)
        return pids.length === 1 ? pids : undefined
      }, "one writer for the victim")
      const seen = events.frames.length
      process.kill(writers[0] ?? 0, "SIGKILL")
      const gap = await events.nextJson(
        (f) =>
          f.runnerId === victim && (f.event as { type?: string } | undefined)?.type === "log-gap",
        `log-gap event ${kill + 1}`,
        seen,
      )
      gaps.push(gap.event as (typeof gaps)[number])
      // A new writer, not the old one.
      const restarted = await waitFor(() => {
        const pids = splitsOf(victimDir)
        return pids.length === 1 && pids[0] !== writers[0] ? pids : undefined
      }, "the restarted writer")
      expect(restarted).not.toEqual(writers)
      record({ faults: 1 })
    }
    for (const gap of gaps) {
      expect(gap.bytesLost).toBeNull()
      expect(gap.pane).toMatch(/^%\d+$/)
      expect(gap.reason).toMatch(/killed by SIGKILL/)
      expect(gap.reason).toMatch(/how much is unknown/)
    }

    for (const id of [victim, bystander]) {
      await waitFor(
        async () => {
          const r = JSON.parse(
            (await world.fetchJson(server, `/api/runners/${id}`)).body.toString(),
          )
          return (r as Summary).status === "completed"
        },
        `runner ${id} to complete`,
        120_000,
      )
    }

    // The victim's log: what was logged before each gap, then a later run of the output, in
    // order, the last one reaching the very end. Nothing garbled, nothing logged twice.
    const expected = pacedLines(victimCount)
    const log = await logOf(victim)
    expect(log.length).toBeLessThanOrEqual(expected.length)
    const cuts = [0, ...gaps.map((g) => g.offset), log.length]
    expect(cuts).toEqual([...cuts].sort((a, b) => a - b))
    let at = 0
    for (let i = 0; i + 1 < cuts.length; i++) {
      const piece = log.subarray(cuts[i], cuts[i + 1])
      expect(piece.length, `piece ${i} is not empty`).toBeGreaterThan(0)
      const found = i === 0 ? 0 : expected.indexOf(piece, at)
      expect(found, `piece ${i} (log bytes ${cuts[i]}..${cuts[i + 1]}) found in order`).toBe(
        Math.max(found, at),
      )
      expect(expected.subarray(found, found + piece.length).equals(piece)).toBe(true)
      at = found + piece.length
    }
    // The last piece reaches the end of the output: the restarted writer logged to the exit.
    expect(at).toBe(expected.length)
    expect(checkSegments(victimDir)).toBe(log.length)
    // The killed writers' markers were consumed; a normal end leaves none.
    expect(readdirSync(victimDir).filter((n) => n.startsWith("writer-exit-"))).toEqual([])

    // The bystander: its one writer throughout, its log byte-exact, no gap.
    const bystanderLog = await logOf(bystander)
    const whole = pacedLines(bystanderCount)
    let lost = whole.length - bystanderLog.length
    if (!bystanderLog.equals(whole)) lost = Math.max(lost, 1)
    record({ bytesLost: lost })
    expect(lost).toBe(0)
    expect(checkSegments(bystanderDir)).toBe(whole.length)
    expect(
      events
        .json()
        .filter(
          (f) =>
            f.runnerId === bystander &&
            ["log-gap", "error"].includes((f.event as { type?: string } | undefined)?.type ?? ""),
        ),
    ).toEqual([])
    const lostBytes = expected.length - log.length
    process.stdout.write(
      `writer-killed: ${KILLS} kills, gaps at ${gaps.map((g) => g.offset).join(", ")}, ${lostBytes} bytes printed while no writer ran\n`,
    )
    events.socket.close()
  })

  it("killed while the server is down: restarted when the server comes back", async () => {
    // 20 s of output at 400 lines/s: it must outlast the restart even on a loaded machine
    // (at load 11, 5 s of output had ended before the new server re-piped it).
    const count = 8000
    const id = await startPrinter("unattended", count)
    const dir = join(world.dataDir, "runners", id)
    await waitFor(async () => (await logOf(id)).length > 8_000, "some output")
    server.child.kill("SIGKILL")
    await server.exited
    const writers = await waitFor(() => {
      const pids = splitsOf(dir)
      return pids.length === 1 ? pids : undefined
    }, "the writer")
    process.kill(writers[0] ?? 0, "SIGKILL")
    // The marker waits in the folder; the output meanwhile is lost.
    await waitFor(
      () => readdirSync(dir).some((n) => n.startsWith("writer-exit-")),
      "the writer's exit marker",
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    const next = await world.start()
    if (!isStarted(next)) throw new Error(`restart failed: ${next.failed}`)
    server = next
    await waitFor(
      async () => {
        const r = JSON.parse((await world.fetchJson(server, `/api/runners/${id}`)).body.toString())
        return (r as Summary).status === "completed"
      },
      "the runner to complete",
      60_000,
    )
    // What was logged before, then a suffix of the output: the writer came back and logged on.
    const expected = pacedLines(count)
    const log = await logOf(id)
    let same = 0
    while (same < log.length && log[same] === expected[same]) same++
    expect(same).toBeGreaterThan(8_000)
    const rest = log.subarray(same)
    expect(rest.length).toBeGreaterThan(0)
    expect(expected.subarray(expected.length - rest.length).equals(rest)).toBe(true)
    expect(checkSegments(dir)).toBe(log.length)
    expect(readdirSync(dir).filter((n) => n.startsWith("writer-exit-"))).toEqual([])
    record({ faults: 1 })
  })
})
