import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { HealthResponse } from "@geppetto/protocol"
import { decodeJournal } from "@geppetto/runner"
import { afterAll, describe, expect, it } from "vitest"
import { waitFor } from "../helpers/server.js"
import { WsClient } from "../helpers/ws.js"
import { isStarted, operatorToken, processWorld, type ServerProcess } from "./process-server.js"
import { record } from "./tally.js"

/**
 * Full and read-only data dirs are made with tmpfs mounts (chmod cannot stop root). Mounting
 * needs root or CAP_SYS_ADMIN: without it the cases are skipped, saying why.
 */
const mountProbe = () => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-mount-probe-"))
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], {
    encoding: "utf8",
  })
  if (mounted.status === 0) spawnSync("umount", [dir])
  rmdirSync(dir)
  return mounted.status === 0
    ? undefined
    : (mounted.stderr || mounted.error?.message || "mount failed").trim()
}
const cannotMount = mountProbe()
if (cannotMount !== undefined) {
  process.stdout.write(`disk-full: SKIPPED, cannot mount a tmpfs here: ${cannotMount}\n`)
}

const mount = (args: ReadonlyArray<string>) => {
  const result = spawnSync("mount", args, { encoding: "utf8" })
  expect(result.status, `mount ${args.join(" ")}: ${result.stderr}`).toBe(0)
}

interface Reply {
  readonly status: number
  readonly json: unknown
  readonly text: string
}

/** A server process on a data dir that lives on its own tmpfs of `size`. */
const tmpfsWorld = (size: string) => {
  const world = processWorld()
  mkdirSync(world.dataDir, { mode: 0o700 })
  mount(["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", world.dataDir])
  let server: ServerProcess | undefined
  /** 500s that are not a typed answer: what this suite counts as 5xx. */
  let untyped = 0
  const typed: string[] = []

  const call = async (
    path: string,
    init: { readonly method?: string; readonly body?: string } = {},
  ): Promise<Reply> => {
    if (server === undefined) throw new Error("no server")
    const reply = await world.fetchJson(server, path, init)
    const text = reply.body.toString()
    let json: unknown = null
    try {
      json = JSON.parse(text)
    } catch {
      // the log route answers bytes
    }
    if (reply.status >= 400) {
      const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error
      // The one error shape, a typed code, and nothing of a stack trace.
      expect(typeof error?.code, `${path}: ${text}`).toBe("string")
      expect(typeof error?.message, `${path}: ${text}`).toBe("string")
      expect(text).not.toMatch(/\n\s+at /)
      if (reply.status >= 500) {
        if (error?.code === "InternalError" || reply.status === 500) untyped++
        else typed.push(`${reply.status} ${String(error?.code)}`)
      }
    }
    return { status: reply.status, json, text }
  }

  const start = async () => {
    const started = await world.start()
    if (!isStarted(started)) throw new Error(`server failed: ${started.failed}`)
    server = started
    return started
  }

  const startRunner = async (command: ReadonlyArray<string>, name?: string) =>
    call("/api/runners", {
      method: "POST",
      body: JSON.stringify({ provider: "shell", command, ...(name ? { name } : {}) }),
    })

  const idOf = (reply: Reply) => (reply.json as { id: string }).id
  const statusOf = async (id: string) =>
    (await call(`/api/runners/${id}`)).json as {
      status: string
      exitCode?: number
      failureReason?: string
    }

  /** Every record of the journal decodes: no half-written line anywhere. */
  const checkJournal = () => {
    const journal = decodeJournal(readFileSync(join(world.dataDir, "journal", "journal.log")))
    expect(journal.skipped).toEqual([])
    expect(journal.tornTail).toBe(false)
    return journal.records.length
  }

  return {
    world,
    call,
    start,
    startRunner,
    idOf,
    statusOf,
    checkJournal,
    server: () => {
      if (server === undefined) throw new Error("no server")
      return server
    },
    untyped: () => untyped,
    typed: () => typed,
    close: async () => {
      server?.child.kill("SIGKILL")
      if (server !== undefined) await server.exited
      world.tmux(["kill-server"])
      // Every mount stacked on the data dir (a read-only bind over the tmpfs), then the dir.
      // Lazily: writers of the killed panes may still hold files open for a moment.
      for (let i = 0; i < 4 && spawnSync("umount", ["-l", world.dataDir]).status === 0; i++) {}
      await world.close()
    },
  }
}

const FLOOD_LINE = "flood line 0123456789abcdefghijklmnopqrstuvwxyz\n"
const FLOOD_BYTES = 3_000_000

describe.skipIf(cannotMount !== undefined)("data dir full or read-only", () => {
  const worlds: Array<ReturnType<typeof tmpfsWorld>> = []
  afterAll(async () => {
    // Each world closed even if another one's cleanup fails: no server or mount left behind.
    const failures = await Promise.allSettled(worlds.map((w) => w.close()))
    for (const f of failures) if (f.status === "rejected") throw f.reason
  })

  it("disk full (2 MiB tmpfs, one runner floods): typed errors, the server serves on, the journal stays whole", async () => {
    const w = tmpfsWorld("2m")
    worlds.push(w)
    const server = await w.start()
    const events = await WsClient.open(`${server.url.replace(/^http/, "ws")}/api/events`, {
      authorization: `Bearer ${operatorToken}`,
    })
    const bystander = await w.startRunner(["cat"], "bystander")
    expect(bystander.status).toBe(201)
    const bystanderId = w.idOf(bystander)
    const flood = await w.startRunner(
      [
        "sh",
        "-c",
        `stty -opost; yes '${FLOOD_LINE.trim()}' | head -c ${FLOOD_BYTES}; while :; do echo tick; sleep 0.2; done`,
      ],
      "flooder",
    )
    expect(flood.status).toBe(201)
    const floodId = w.idOf(flood)

    // The writer hits ENOSPC: a log-gap event that says so, then (ticks keep failing it) one
    // error about the delayed restarts.
    const gap = await events.nextJson(
      (f) => f.runnerId === floodId && (f.event as { type?: string })?.type === "log-gap",
      "the flooder's log-gap event",
      0,
      30_000,
    )
    expect((gap.event as { reason: string }).reason).toMatch(/exit status 1: a write failed/)
    await events.nextJson(
      (f) =>
        f.runnerId === floodId &&
        /stopped again without logging a byte/.test(
          String((f.event as { error?: { message?: string } })?.error?.message),
        ),
      "the flooder's backoff error",
      0,
      30_000,
    )

    // The server serves on: health, lists, details, the log (an exact prefix of the flood).
    const health = HealthResponse.parse((await w.call("/api/health")).json)
    expect(health.tmux.ok).toBe(true)
    expect((await w.call("/api/runners")).status).toBe(200)
    expect((await w.call(`/api/runners/${floodId}`)).status).toBe(200)
    const log = (await w.world.fetchJson(server, `/api/runners/${floodId}/log`)).body
    expect(log.length).toBeGreaterThan(1_000_000)
    const expected = Buffer.from(FLOOD_LINE.repeat(Math.ceil(FLOOD_BYTES / FLOOD_LINE.length)))
    expect(log.equals(expected.subarray(0, log.length))).toBe(true)

    // A new runner is refused with a typed error, not started unlogged.
    const refused = await w.startRunner(["true"])
    expect(refused.status).toBe(507)
    expect((refused.json as { error: { code: string; message: string } }).error).toMatchObject({
      code: "StorageError",
      message: expect.stringMatching(/is full/),
    })
    // Journal appends fail meanwhile (each pause and resume is one): every reply still 200.
    for (let i = 0; i < 15; i++) {
      expect((await w.call(`/api/runners/${bystanderId}/pause`, { method: "POST" })).status).toBe(
        200,
      )
      expect((await w.call(`/api/runners/${bystanderId}/resume`, { method: "POST" })).status).toBe(
        200,
      )
    }
    expect(
      (
        await w.call(`/api/runners/${bystanderId}/input`, {
          method: "POST",
          body: JSON.stringify({ data: "typed while full\r" }),
        })
      ).status,
    ).toBeLessThan(300)
    expect(server.child.exitCode).toBeNull()

    // Room again (the flooder and its log removed): starts work, the journal takes appends.
    expect((await w.call(`/api/runners/${floodId}`, { method: "DELETE" })).status).toBeLessThan(300)
    const after = await w.startRunner(["sh", "-c", "echo room-again; sleep 30"])
    expect(after.status, after.text).toBe(201)
    await waitFor(
      async () =>
        (await w.world.fetchJson(server, `/api/runners/${w.idOf(after)}/log`)).body
          .toString()
          .includes("room-again"),
      "the new runner's output",
    )
    expect((await w.call(`/api/runners/${bystanderId}/pause`, { method: "POST" })).status).toBe(200)
    expect((await w.call(`/api/runners/${bystanderId}/resume`, { method: "POST" })).status).toBe(
      200,
    )

    // No half-written record, before and after a restart that replays it.
    const records = w.checkJournal()
    expect(records).toBeGreaterThan(0)
    server.child.kill("SIGTERM")
    await server.exited
    await w.start()
    const listed = (await w.call("/api/runners")).json as Array<{ id: string }>
    expect(listed.map((r) => r.id)).toEqual(expect.arrayContaining([bystanderId, w.idOf(after)]))
    expect(listed.map((r) => r.id)).not.toContain(floodId)
    w.checkJournal()
    events.socket.close()

    process.stdout.write(`disk-full: typed 5xx answers: ${w.typed().join(", ")}\n`)
    record({ faults: 1, fiveXx: w.untyped(), inputs: 0 })
    expect(w.untyped()).toBe(0)
  })

  it("read-only data dir (a read-only bind mount over it): typed errors, exits still recorded, back once writable", async () => {
    const w = tmpfsWorld("16m")
    worlds.push(w)
    const server = await w.start()
    const cat = await w.startRunner(["cat"], "ro-cat")
    expect(cat.status).toBe(201)
    const catId = w.idOf(cat)
    const ender = await w.startRunner(
      ["sh", "-c", "echo ready; read x; echo got-$x; exit 3"],
      "ro-ender",
    )
    expect(ender.status).toBe(201)
    const enderId = w.idOf(ender)
    const logText = async (id: string) =>
      (await w.world.fetchJson(server, `/api/runners/${id}/log`)).body.toString()
    // Each writer has its segment file open before the mount turns read-only (split creates
    // it at the first byte: one that had printed nothing could log nothing after).
    await w.call(`/api/runners/${catId}/input`, {
      method: "POST",
      body: JSON.stringify({ data: "before\r" }),
    })
    await waitFor(async () => (await logText(catId)).includes("before"), "the cat's first echo")
    await waitFor(async () => (await logText(enderId)).includes("ready"), "the ender's first line")

    // Files open before (logs being written, the journal) stay writable; nothing new is.
    mount(["--bind", w.world.dataDir, w.world.dataDir])
    mount(["-o", "remount,ro,bind", w.world.dataDir])
    expect(spawnSync("touch", [join(w.world.dataDir, "probe")]).status).not.toBe(0)

    expect((await w.call("/api/health")).status).toBe(200)
    expect((await w.call("/api/runners")).status).toBe(200)
    const refused = await w.startRunner(["true"])
    expect(refused.status).toBe(507)
    expect((refused.json as { error: { code: string; message: string } }).error).toMatchObject({
      code: "StorageError",
      message: expect.stringMatching(/not writable \(EROFS\)/),
    })

    // An exit while the folder cannot take the hook's exit file: taken from tmux.
    await w.call(`/api/runners/${enderId}/input`, {
      method: "POST",
      body: JSON.stringify({ data: "go\r" }),
    })
    const ended = await waitFor(async () => {
      const s = await w.statusOf(enderId)
      return s.status === "failed" ? s : undefined
    }, "the ender to fail with its exit code")
    expect(ended.exitCode).toBe(3)
    expect(ended.failureReason).toMatch(
      /could not be recorded .* \(not writable\); taken from tmux/,
    )
    expect(await logText(enderId)).toContain("got-go")

    // The live runner still logs (its segment was open) and can be stopped.
    await w.call(`/api/runners/${catId}/input`, {
      method: "POST",
      body: JSON.stringify({ data: "still-logging\r" }),
    })
    await waitFor(async () => (await logText(catId)).includes("still-logging"), "the cat's echo")
    expect((await w.call(`/api/runners/${catId}/terminate`, { method: "POST" })).status).toBe(200)
    expect(["failed", "completed"]).toContain((await w.statusOf(catId)).status)
    expect(server.child.exitCode).toBeNull()

    // A server started on it now says why it cannot, and nothing more.
    server.child.kill("SIGTERM")
    await server.exited
    const second = await w.world.start()
    expect(isStarted(second)).toBe(false)
    if (!isStarted(second)) {
      expect(second.failed).toMatch(/read-only file system|EROFS/i)
      expect(second.failed).not.toMatch(/\n\s+at /)
    }

    // Writable again: a server starts, runners start, the journal reads whole.
    expect(spawnSync("umount", [w.world.dataDir]).status).toBe(0)
    await w.start()
    const again = await w.startRunner(["true"])
    expect(again.status, again.text).toBe(201)
    expect((await w.statusOf(enderId)).exitCode).toBe(3)
    w.checkJournal()

    process.stdout.write(`read-only: typed 5xx answers: ${w.typed().join(", ")}\n`)
    record({ faults: 1, fiveXx: w.untyped(), inputs: 0 })
    expect(w.untyped()).toBe(0)
  })
})
