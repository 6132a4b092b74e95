import { readFileSync } from "node:fs"
import { join } from "node:path"
import { decodeJournal, foldRecords } from "@geppetto/runner"
import { afterAll, describe, expect, it } from "vitest"
import { waitFor } from "../helpers/server.js"
import {
  isStarted,
  pacedLines,
  pacedLinesScript,
  processWorld,
  type ServerProcess,
} from "./process-server.js"
import { record } from "./tally.js"

const RUNNERS = 10
const KILLS = 10

/** A small seeded generator (mulberry32): the kill moments differ per kill, not per run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** How many leading bytes of `actual` match `expected`. */
const commonPrefix = (actual: Buffer, expected: Buffer): number => {
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return i
  return n
}

interface Summary {
  readonly id: string
  readonly status: string
  readonly exitCode?: number
}

describe("server killed with SIGKILL while 10 runners print", () => {
  const world = processWorld()
  afterAll(world.close)

  it("comes back 10 times with every runner, its status and its log byte-exact, and the audit trail whole; the journal reads clean", async () => {
    const random = seeded(0x9e9)
    let server = await world.start()
    if (!isStarted(server)) throw new Error(`server failed: ${server.failed}`)
    let fiveXx = 0
    const get = async (s: ServerProcess, path: string) => {
      const reply = await world.fetchJson(s, path, { role: "viewer" })
      if (reply.status >= 500) fiveXx++
      return reply
    }

    // Lines arrive in batches of 20 every 0.1 s: the runners print for 5 to 55 s, so some
    // finish between kills and the rest are still printing at the last one.
    const expected = new Map<string, Buffer>()
    for (let i = 0; i < RUNNERS; i++) {
      const count = 1000 + i * 1100
      const reply = await world.fetchJson(server, "/api/runners", {
        method: "POST",
        body: JSON.stringify({
          provider: "shell",
          name: `printer-${i}`,
          command: ["sh", pacedLinesScript, String(count), "20", "0.1"],
        }),
      })
      expect(reply.status, reply.body.toString()).toBe(201)
      const { id } = JSON.parse(reply.body.toString()) as Summary
      expected.set(id, pacedLines(count))
    }

    /** Every runner listed; each log a byte-exact prefix of what it prints; completed only when whole. */
    const check = async (s: ServerProcess) => {
      const list = await get(s, "/api/runners")
      expect(list.status).toBe(200)
      const runners = new Map(
        (JSON.parse(list.body.toString()) as Summary[]).map((r) => [r.id, r] as const),
      )
      for (const [id, bytes] of expected) {
        const runner = runners.get(id)
        expect(runner, `runner ${id} listed after restart`).toBeDefined()
        expect(["running", "completed"]).toContain(runner?.status)
        const log = await get(s, `/api/runners/${id}/log`)
        expect(log.status).toBe(200)
        const same = commonPrefix(log.body, bytes)
        expect(same, `runner ${id}: log diverges at byte ${same}`).toBe(log.body.length)
        if (runner?.status === "completed") {
          expect(log.body.length).toBe(bytes.length)
          expect(runner.exitCode).toBe(0)
        }
      }
    }

    /** The audit trail's entries of one action, oldest first (as the owner, an admin). */
    const trail = async (s: ServerProcess, action: string) => {
      const reply = await world.fetchJson(s, `/api/audit?action=${action}&limit=1000`)
      expect(reply.status, reply.body.toString()).toBe(200)
      return (
        JSON.parse(reply.body.toString()) as {
          entries: Array<{ runnerId?: string; detail?: string }>
        }
      ).entries.reverse()
    }
    for (let kill = 0; kill < KILLS; kill++) {
      const live = server
      // Wait until at least one more line has been logged, then a random moment more.
      await check(live)
      // Answered 201 only once audited: it must be in the trail after the kill.
      const added = await world.fetchJson(live, "/api/users", {
        method: "POST",
        body: JSON.stringify({ name: `killed-${kill}`, role: "viewer" }),
      })
      expect(added.status, added.body.toString()).toBe(201)
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(random() * 1400)))
      live.child.kill("SIGKILL")
      await live.exited
      const next = await world.start()
      if (!isStarted(next)) throw new Error(`restart ${kill + 1} failed: ${next.failed}`)
      server = next
      await check(server)
      // The audit trail came through the kill: every start, and every input so far.
      expect((await trail(server, "runner.start")).map((e) => e.runnerId)).toEqual([
        ...expected.keys(),
      ])
      expect((await trail(server, "user.add")).map((e) => e.detail)).toEqual(
        Array.from({ length: kill + 1 }, (_, k) => `killed-${k} as viewer`),
      )
      record({ faults: 1 })
    }

    // Every runner finishes with exit 0 and its whole output, none lost across 10 kills.
    const current = server
    await waitFor(
      async () => {
        const list = JSON.parse((await get(current, "/api/runners")).body.toString()) as Summary[]
        return list.length >= RUNNERS && list.every((r) => r.status === "completed")
      },
      "every runner completed",
      120_000,
    )
    await check(current)
    let lost = 0
    for (const [id, bytes] of expected) {
      const log = await get(current, `/api/runners/${id}/log`)
      lost += bytes.length - commonPrefix(log.body, bytes)
    }
    record({ bytesLost: lost, fiveXx, inputs: 0 })
    expect(lost).toBe(0)
    expect(fiveXx).toBe(0)

    // Every finished runner is in the journal, which decodes without a skipped line.
    await waitFor(() => {
      const journal = decodeJournal(readFileSync(join(world.dataDir, "journal", "journal.log")))
      const state = foldRecords(journal.records)
      return [...expected.keys()].every((id) => state.has(id)) ? journal : undefined
    }, "every runner in the journal")
    const journal = decodeJournal(readFileSync(join(world.dataDir, "journal", "journal.log")))
    expect(journal.skipped).toEqual([])
  })
})
