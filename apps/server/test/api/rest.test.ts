import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import {
  ErrorResponse,
  ProviderInfo,
  RunnerDetail,
  RunnerSummary,
  SessionListing,
} from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest"
import { z } from "zod"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

const expectError = (
  reply: { statusCode: number; json: () => unknown; body: string },
  status: number,
  code?: string,
) => {
  expect(reply.statusCode, reply.body).toBe(status)
  const body = ErrorResponse.parse(reply.json())
  if (code !== undefined) expect(body.error.code).toBe(code)
  expect(body.error.message.length).toBeGreaterThan(0)
  return body
}

/** Process states (`ps` STAT) of every process in the pane's process tree. */
const treeStates = (rootPid: number): ReadonlyArray<string> => {
  const ps = spawnSync("ps", ["-e", "-o", "pid=,ppid=,stat="], { encoding: "utf8" }).stdout
  const rows = ps
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => r.length === 3)
    .map(([pid = "", ppid = "", stat = ""]) => ({ pid: Number(pid), ppid: Number(ppid), stat }))
  const tree = new Set([rootPid])
  for (let grew = true; grew; ) {
    grew = false
    for (const r of rows) {
      if (!tree.has(r.pid) && tree.has(r.ppid)) {
        tree.add(r.pid)
        grew = true
      }
    }
  }
  return rows.filter((r) => tree.has(r.pid)).map((r) => r.stat)
}

const panePid = (name: string) =>
  Number(server.tmux(["display", "-p", "-t", `=${name}:`, "#{pane_pid}"]).stdout.trim())

describe("runners", () => {
  it("starts a runner (201 RunnerDetail), lists it, gets it, and its session is in tmux", async () => {
    const reply = await server.post("/api/runners", {
      provider: "shell",
      command: ["sh", "-c", "echo started-ok; exec sleep 600"],
      name: "rest-start",
      cols: 90,
      rows: 25,
      env: { GEPPETTO_TEST_VAR: "x" },
    })
    expect(reply.statusCode, reply.body).toBe(201)
    const detail = RunnerDetail.parse(reply.json())
    expect(detail).toMatchObject({
      name: "rest-start",
      provider: "shell",
      mode: "interactive",
      status: "running",
      waitingForInput: false,
      cwd: server.dataDir,
      session: { name: "rest-start", panes: [{ cols: 90, rows: 25 }] },
    })
    expect(detail.session.attachCommand).toContain(server.socket)
    expect(detail.session.socket).toBe(server.socket)
    expect(detail.session.attachCommand).toContain("rest-start")
    expect(server.sessions()).toContain("rest-start")

    const list = z.array(RunnerSummary).parse((await server.get("/api/runners")).json())
    expect(list.find((r) => r.id === detail.id)).toMatchObject({ name: "rest-start" })

    const got = await server.runner(detail.id)
    expect(got.id).toBe(detail.id)
    expect(got.metrics.startedAt).toBeTypeOf("number")
    await waitFor(
      () => server.capture("=rest-start:").includes("started-ok"),
      "the runner's output in tmux",
    )
    // The same bytes through the API: bytesOut catches up with what the log holds.
    const log = await server.log(detail.id)
    expect(log.bytes.toString("utf8")).toContain("started-ok")
  })

  it("pauses (SIGSTOP), resumes (SIGCONT) and terminates a runner", async () => {
    const detail = await server.start({
      provider: "shell",
      command: ["sh", "-c", "while :; do echo tick; sleep 0.2; done"],
    })
    const root = panePid(detail.name)
    expect(root).toBeGreaterThan(1)

    const paused = await server.post(`/api/runners/${detail.id}/pause`)
    expect(paused.statusCode, paused.body).toBe(200)
    expect(RunnerDetail.parse(paused.json()).status).toBe("paused")
    // Every process under the pane's shell wrapper is stopped (the wrapper itself stays up).
    await waitFor(
      () => treeStates(root).filter((s) => s.startsWith("T")).length >= 1,
      "stopped processes",
    )
    expect((await server.runner(detail.id)).status).toBe("paused")

    const resumed = await server.post(`/api/runners/${detail.id}/resume`)
    expect(resumed.statusCode, resumed.body).toBe(200)
    expect(RunnerDetail.parse(resumed.json()).status).toBe("running")
    await waitFor(
      () => treeStates(root).every((s) => !s.startsWith("T")),
      () => `no stopped process left: ${treeStates(root).join(",")}`,
    )

    const terminated = await server.post(`/api/runners/${detail.id}/terminate`)
    expect(terminated.statusCode, terminated.body).toBe(200)
    const done = RunnerDetail.parse(terminated.json())
    expect(["completed", "failed"]).toContain(done.status)
    expect(done.endedAt).toBeTypeOf("number")
    await waitFor(() => !server.sessions().includes(detail.name), "the tmux session to go")
    // A finished runner stays listed, and cannot be paused (a conflict, not a server error).
    expect((await server.runner(detail.id)).status).toBe(done.status)
    expectError(await server.post(`/api/runners/${detail.id}/pause`), 409)
    expectError(await server.post(`/api/runners/${detail.id}/input`, { data: "x" }), 409)
  })

  it("types input byte for byte (POST /input → 204)", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    const reply = await server.post(`/api/runners/${detail.id}/input`, {
      data: "echo in$((40+2))put-é\r",
    })
    expect(reply.statusCode, reply.body).toBe(204)
    await waitFor(
      () => /in42put-é/.test(server.capture(`=${detail.name}:`)),
      () => `the echo: ${server.capture(`=${detail.name}:`)}`,
    )
  })

  it("deletes a live runner: session killed, log gone, then 404 everywhere", async () => {
    const detail = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exec sleep 600"],
    })
    const logDir = join(server.dataDir, "runners", detail.id)
    await waitFor(() => existsSync(logDir), "the log folder")
    const reply = await server.request("operator", {
      method: "DELETE",
      url: `/api/runners/${detail.id}`,
    })
    expect(reply.statusCode, reply.body).toBe(204)
    expect(server.sessions()).not.toContain(detail.name)
    expect(existsSync(logDir)).toBe(false)
    expectError(await server.get(`/api/runners/${detail.id}`), 404, "NotFoundError")
    expectError(await server.get(`/api/runners/${detail.id}/log`), 404, "NotFoundError")
    const list = z.array(RunnerSummary).parse((await server.get("/api/runners")).json())
    expect(list.map((r) => r.id)).not.toContain(detail.id)
  })

  it("answers 404 NotFoundError for an unknown id on every runner route", async () => {
    const id = "run-doesnotexist"
    expectError(await server.get(`/api/runners/${id}`), 404, "NotFoundError")
    expectError(await server.get(`/api/runners/${id}/log`), 404, "NotFoundError")
    for (const action of ["pause", "resume", "terminate"]) {
      expectError(await server.post(`/api/runners/${id}/${action}`), 404, "NotFoundError")
    }
    expectError(await server.post(`/api/runners/${id}/input`, { data: "x" }), 404, "NotFoundError")
    expectError(
      await server.request("operator", { method: "DELETE", url: `/api/runners/${id}` }),
      404,
      "NotFoundError",
    )
    expectError(await server.post("/api/sessions/nosuchsession/adopt"), 404, "NotFoundError")
    const ws = await server.get(`/api/runners/${id}/terminal`)
    expect(ws.statusCode).toBeGreaterThanOrEqual(400)
    expect(ws.statusCode).toBeLessThan(500)
  })

  it("answers 400 ValidationError for ids that are not ids", async () => {
    for (const id of ["-rf", ".hidden", "a".repeat(65), "a%00b", "a%20b", "a%2Fb", "%E2%82%AC"]) {
      expectError(await server.get(`/api/runners/${id}`), 400, "ValidationError")
      expectError(await server.post(`/api/runners/${id}/pause`), 400, "ValidationError")
    }
    expectError(await server.post("/api/sessions/bad.name/adopt"), 400, "ValidationError")
    // Paths the router itself refuses (undecodable, or a segment past its 100-character
    // limit) get the same shape, not the router's own.
    for (const url of [
      "/api/runners/%zz",
      "/api/runners/%E0%A4%A/log",
      `/api/runners/${"a".repeat(101)}`,
      `/api/runners/${"a".repeat(5000)}/pause`,
      `/api/sessions/${"s".repeat(200)}/adopt`,
    ]) {
      const reply = await server.request("operator", {
        method: url.endsWith("pause") || url.endsWith("adopt") ? "POST" : "GET",
        url,
      })
      const body = expectError(reply, 400, "ValidationError")
      expect(body.error.message.length).toBeLessThan(300)
    }
  })
})

describe("bad requests change nothing", () => {
  it("refuses malformed start bodies with 400 and the one error shape, starting nothing", async () => {
    const sessionsBefore = server.sessions()
    const ids = async () =>
      z
        .array(RunnerSummary)
        .parse((await server.get("/api/runners")).json())
        .map((r) => r.id)
    const runnersBefore = await ids()
    const bodies: ReadonlyArray<unknown> = [
      {},
      [],
      null,
      "shell",
      42,
      { provider: "nope" },
      { provider: "SHELL", command: ["sh"] },
      { provider: "shell", command: [] },
      { provider: "shell", command: [""] },
      { provider: "shell", command: "sh -c 'echo hi'" },
      { provider: "shell", command: ["sh"], promt: "typo" },
      { provider: "shell", command: ["sh"], prompt: "shell takes no prompt" },
      { provider: "shell", command: ["sh"], cols: 5 },
      { provider: "shell", command: ["sh"], rows: 1000 },
      { provider: "shell", command: ["sh"], cols: 80.5 },
      { provider: "shell", command: ["sh"], env: { "BAD-NAME": "x" } },
      { provider: "shell", command: ["sh"], env: { OK: 1 } },
      { provider: "shell", command: ["sh"], name: "has space" },
      { provider: "shell", command: ["sh"], name: "has.dot" },
      { provider: "shell", command: ["sh"], cwd: "/definitely/not/a/dir" },
      { provider: "shell", command: ["sh"], cwd: "" },
      { provider: "shell", command: ["sh\u0000"] },
      { provider: "shell", command: ["sh"], maxDurationMs: -1 },
      { provider: "shell", command: ["sh"], maxDurationMs: 1e20 },
      { provider: "shell", command: ["sh"], accountId: "nobody" },
      { provider: "shell", command: ["sh"], mode: "batch" },
      { provider: "shell", command: ["sh"], __proto__: { x: 1 }, constructor: "x" },
    ]
    for (const body of bodies) {
      const reply = await server.request("operator", {
        method: "POST",
        url: "/api/runners",
        payload: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      })
      expectError(reply, 400)
    }
    // Not JSON at all, or not JSON by its content type.
    expectError(
      await server.request("operator", {
        method: "POST",
        url: "/api/runners",
        payload: "{not json",
        headers: { "content-type": "application/json" },
      }),
      400,
    )
    const textBody = await server.request("operator", {
      method: "POST",
      url: "/api/runners",
      payload: "provider=shell",
      headers: { "content-type": "text/plain" },
    })
    expect(textBody.statusCode).toBeGreaterThanOrEqual(400)
    expect(textBody.statusCode).toBeLessThan(500)
    ErrorResponse.parse(textBody.json())
    // Over the body limit.
    const huge = await server.request("operator", {
      method: "POST",
      url: "/api/runners",
      payload: JSON.stringify({ provider: "shell", command: ["sh"], prompt: "x".repeat(2 << 20) }),
      headers: { "content-type": "application/json" },
    })
    expectError(huge, 413)

    expect(server.sessions()).toEqual(sessionsBefore)
    expect(await ids()).toEqual(runnersBefore)
  })

  it("refuses bad input bodies and bad log queries with 400", async () => {
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    for (const body of [
      {},
      { data: 1 },
      { data: "x", extra: true },
      { data: "x".repeat(65 * 1024) },
    ]) {
      expectError(
        await server.post(`/api/runners/${detail.id}/input`, body),
        400,
        "ValidationError",
      )
    }
    for (const query of ["from=-1", "from=abc", "from=1e3", "from=", "x=1", "from=1&from=2"]) {
      expectError(
        await server.get(`/api/runners/${detail.id}/log?${query}`),
        400,
        "ValidationError",
      )
    }
  })
})

describe("sessions and providers", () => {
  it("lists unmanaged tmux sessions and adopts one (201), which then leaves the list", async () => {
    const managed = await server.start({ provider: "shell", command: ["sh"] })
    const made = server.tmux(["new-session", "-d", "-s", "users-own", "-x", "100", "-y", "30"])
    expect(made.code, made.stderr).toBe(0)
    onTestFinished(() => {
      server.tmux(["kill-session", "-t", "=users-own"])
    })
    const sessions = z.array(SessionListing).parse((await server.get("/api/sessions")).json())
    const names = sessions.map((s) => s.name)
    expect(names).toContain("users-own")
    expect(names).not.toContain(managed.name)
    expect(names).not.toContain("geppetto-control")
    // The server's own control session is not anybody's to adopt.
    const control = await server.post("/api/sessions/geppetto-control/adopt")
    expect(control.statusCode).toBeGreaterThanOrEqual(400)
    expect(control.statusCode).toBeLessThan(500)
    expect(server.sessions()).toContain("geppetto-control")
    expect(sessions.find((s) => s.name === "users-own")).toMatchObject({ windows: 1, panes: 1 })

    const adopted = await server.post("/api/sessions/users-own/adopt")
    expect(adopted.statusCode, adopted.body).toBe(201)
    const detail = RunnerDetail.parse(adopted.json())
    expect(detail).toMatchObject({ name: "users-own", status: "running" })
    expect(detail.session.panes).toEqual([expect.objectContaining({ cols: 100, rows: 30 })])
    const after = z.array(SessionListing).parse((await server.get("/api/sessions")).json())
    expect(after.map((s) => s.name)).not.toContain("users-own")
    const list = z.array(RunnerSummary).parse((await server.get("/api/runners")).json())
    expect(list.map((r) => r.id)).toContain(detail.id)
    // Adopting it again is a client error, not a second runner.
    const again = await server.post("/api/sessions/users-own/adopt")
    expect(again.statusCode).toBeGreaterThanOrEqual(400)
    expect(again.statusCode).toBeLessThan(500)

    // Input reaches the adopted pane too.
    await server.post(`/api/runners/${detail.id}/input`, { data: "echo adopted-$((6*7))\r" })
    await waitFor(() => /adopted-42/.test(server.capture("=users-own:")), "the adopted echo")
  })

  it("lists every provider of the contract with installed and modes", async () => {
    const reply = await server.get("/api/providers")
    expect(reply.statusCode).toBe(200)
    const providers = z.array(ProviderInfo).parse(reply.json())
    expect(providers.map((p) => p.id).sort()).toEqual(
      ["aider", "claude", "codex", "cursor-agent", "gemini", "opencode", "qwen", "shell"].sort(),
    )
    expect(providers.find((p) => p.id === "shell")).toMatchObject({
      installed: true,
      modes: expect.arrayContaining(["interactive", "oneshot"]),
    })
    // What the dashboard's Continue and Fork follow: each provider's own declaration.
    expect(Object.fromEntries(providers.map((p) => [p.id, p.resumes ?? null]))).toEqual({
      aider: null,
      claude: { fork: true },
      codex: { fork: false },
      "cursor-agent": null,
      gemini: { fork: false },
      opencode: null,
      qwen: { fork: true },
      shell: null,
    })
  })
})

describe("limits", () => {
  it("answers 429 TierLimitError past limits.perProvider, and frees the slot when one ends", async () => {
    const limited = await startServer({ config: { limits: { perProvider: { shell: 1 } } } })
    onTestFinished(() => limited.close())
    const first = await limited.start({
      provider: "shell",
      command: ["sh", "-c", "exec sleep 600"],
    })
    const before = limited.sessions()
    const second = await limited.post("/api/runners", {
      provider: "shell",
      command: ["sh", "-c", "exec sleep 600"],
    })
    expectError(second, 429, "TierLimitError")
    expect(limited.sessions()).toEqual(before)
    // Starts racing for the last slot: at most one wins.
    await limited.post(`/api/runners/${first.id}/terminate`)
    const race = await Promise.all(
      [1, 2, 3].map(() =>
        limited.post("/api/runners", {
          provider: "shell",
          command: ["sh", "-c", "exec sleep 600"],
        }),
      ),
    )
    expect(race.map((r) => r.statusCode).sort()).toEqual([201, 429, 429])
  })
})

describe("GET /api/runners/:id/log", () => {
  /** A runner that printed `lines` numbered lines and then waits, with its output on record. */
  const printed = async (s: TestServer, lines: number) => {
    const detail = await s.start({
      provider: "shell",
      command: [
        "sh",
        "-c",
        `i=0; while [ $i -lt ${lines} ]; do echo "line $i"; i=$((i+1)); done; echo END-OF-LINES; exec sleep 600`,
      ],
    })
    const log = await waitFor(async () => {
      // With a small retention cap a read racing a deletion is cut short (by design): again.
      const l = await s.log(detail.id).catch(() => undefined)
      return l?.bytes.toString("utf8").includes("END-OF-LINES") === true ? l : undefined
    }, "the whole output in the log")
    return { detail, log }
  }

  it("serves the bytes from ?from, and Range requests as 206 with Content-Range", async () => {
    const { detail, log } = await printed(server, 200)
    expect(log.start).toBe(0)
    expect(log.end).toBe(log.bytes.length)
    const url = `/api/runners/${detail.id}/log`

    const head = await server.request("viewer", { method: "HEAD", url: `${url}?from=100` })
    expect(head.statusCode).toBe(200)
    expect(head.headers["content-length"]).toBe(String(log.end - 100))
    expect(head.headers["x-log-start"]).toBe("0")
    expect(head.rawPayload.length).toBe(0)

    const from = await server.get(`${url}?from=100`)
    expect(from.statusCode).toBe(200)
    expect(from.headers["x-log-start"]).toBe("0")
    expect(from.rawPayload.equals(log.bytes.subarray(100))).toBe(true)
    const atEnd = await server.get(`${url}?from=${log.end}`)
    expect(atEnd.statusCode).toBe(200)
    expect(atEnd.rawPayload.length).toBe(0)

    const ranged = async (range: string) =>
      server.request("viewer", { method: "GET", url, headers: { range } })
    const mid = await ranged("bytes=10-19")
    expect(mid.statusCode).toBe(206)
    expect(mid.headers["content-range"]).toBe(`bytes 10-19/${log.end}`)
    expect(mid.rawPayload.equals(log.bytes.subarray(10, 20))).toBe(true)
    const open = await ranged("bytes=50-")
    expect(open.statusCode).toBe(206)
    expect(open.rawPayload.equals(log.bytes.subarray(50))).toBe(true)
    const suffix = await ranged("bytes=-7")
    expect(suffix.statusCode).toBe(206)
    expect(suffix.headers["content-range"]).toBe(`bytes ${log.end - 7}-${log.end - 1}/${log.end}`)
    expect(suffix.rawPayload.equals(log.bytes.subarray(log.end - 7))).toBe(true)
    const past = await ranged(`bytes=${log.end - 3}-${log.end + 100}`)
    expect(past.statusCode).toBe(206)
    expect(past.rawPayload.equals(log.bytes.subarray(log.end - 3))).toBe(true)

    for (const range of [
      `bytes=${log.end}-`,
      `bytes=${log.end + 10}-${log.end + 20}`,
      "bytes=-0",
    ]) {
      const reply = await ranged(range)
      expectError(reply, 416, "RangeNotSatisfiable")
      expect(reply.headers["content-range"]).toBe(`bytes */${log.end}`)
    }
    expectError(await server.get(`${url}?from=${log.end + 1}`), 416, "RangeNotSatisfiable")
    // The last bytes of a log with none yet: 416, not a 206 with the range `bytes 0--1/0`.
    const silent = await server.start({
      provider: "shell",
      command: ["sh", "-c", "exec sleep 600"],
    })
    const empty = await server.request("viewer", {
      method: "GET",
      url: `/api/runners/${silent.id}/log`,
      headers: { range: "bytes=-5" },
    })
    expectError(empty, 416, "RangeNotSatisfiable")
    expect(empty.headers["content-range"]).toBe("bytes */0")
    // A malformed Range is ignored (RFC 9110): the whole log.
    const ignored = await ranged("bytes=5-1,7-9")
    expect(ignored.statusCode).toBe(200)
    expect(ignored.rawPayload.equals(log.bytes)).toBe(true)
  })

  it("starts at the oldest kept byte once retention deleted the first segments (X-Log-Start)", async () => {
    const small = await startServer({ runner: { segmentBytes: 4096, retainBytes: 8192 } })
    onTestFinished(() => small.close())
    const { detail } = await printed(small, 3000)
    const url = `/api/runners/${detail.id}/log`
    // Retention runs behind the writer; once it kept no more than its cap, the log is still.
    // A read racing the last deletion is cut short (by design, see "never splices"): read again.
    const log = await waitFor(async () => {
      const l = await small.log(detail.id).catch(() => undefined)
      return l !== undefined && l.start > 0 && l.end - l.start <= 8192 ? l : undefined
    }, "retention to delete the oldest segments")
    expect(log.start % 4096).toBe(0)
    expect(log.end - log.start).toBe(log.bytes.length)
    expect(log.bytes.toString("utf8")).toMatch(/END-OF-LINES\r?\n$/)

    expectError(await small.get(`${url}?from=0`), 416, "RangeNotSatisfiable")
    expectError(await small.get(`${url}?from=${log.start - 1}`), 416, "RangeNotSatisfiable")
    const kept = await small.get(`${url}?from=${log.start + 1}`)
    expect(kept.statusCode).toBe(200)
    expect(kept.rawPayload.equals(log.bytes.subarray(1))).toBe(true)
    const before = await small.request("viewer", {
      method: "GET",
      url,
      headers: { range: `bytes=0-${log.start - 1}` },
    })
    expectError(before, 416, "RangeNotSatisfiable")
    const within = await small.request("viewer", {
      method: "GET",
      url,
      headers: { range: `bytes=${log.start}-${log.start + 9}` },
    })
    expect(within.statusCode).toBe(206)
    expect(within.rawPayload.equals(log.bytes.subarray(0, 10))).toBe(true)
  })

  it("never splices: log reads racing retention get the bytes their headers claim, or are cut", async () => {
    const LINES = 100_000
    const small = await startServer({ runner: { segmentBytes: 4096, retainBytes: 8192 } })
    onTestFinished(() => small.close())
    const detail = await small.start({
      provider: "shell",
      command: [
        "sh",
        "-c",
        `i=0; while [ $i -lt ${LINES} ]; do echo "line $i"; i=$((i+1)); done; echo END-OF-LINES; exec sleep 600`,
      ],
    })
    // What the pane printed, byte for byte (the tty turns each \n into \r\n).
    const output = Buffer.from(
      `${Array.from({ length: LINES }, (_, i) => `line ${i}\r\n`).join("")}END-OF-LINES\r\n`,
    )
    let served = 0
    let cut = 0
    let moved = 0
    let duringFlood = 0
    // Whole-log reads (from the oldest kept byte, the one retention deletes next) alternate
    // with reads of the last 6,000 bytes (which mostly win the race), until the end is read
    // and a read came after retention moved the start: on a loaded machine the whole output
    // can be printed before retention first runs.
    for (let done = false, round = 0; !done || moved === 0; round++) {
      const tail = round % 2 === 1
      const reply = await small
        .request("viewer", {
          method: "GET",
          url: `/api/runners/${detail.id}/log`,
          ...(tail ? { headers: { range: "bytes=-6000" } } : {}),
        })
        .catch(() => undefined) // a read cut short because its bytes were deleted meanwhile
      if (reply === undefined || (reply.statusCode !== 200 && reply.statusCode !== 206)) {
        if (reply !== undefined) expectError(reply, 416)
        cut++
        continue
      }
      const logStart = Number(reply.headers["x-log-start"])
      const end = Number(reply.headers["x-log-end"])
      const range = /^bytes (\d+)-(\d+)\/\d+$/.exec(String(reply.headers["content-range"] ?? ""))
      const from = tail ? Number(range?.[1]) : logStart
      const to = tail ? Number(range?.[2]) + 1 : end
      expect(reply.statusCode).toBe(tail ? 206 : 200)
      if (reply.rawPayload.length !== to - from) {
        // Cut short: fine, as long as what came is what it claims to be (checked below).
        expect(reply.rawPayload.length).toBeLessThan(to - from)
      }
      // The bytes really are [from, from + length) of the output: nothing skipped or moved.
      expect(
        reply.rawPayload.equals(output.subarray(from, from + reply.rawPayload.length)),
        `bytes ${from}-${from + reply.rawPayload.length} of the output`,
      ).toBe(true)
      served++
      if (logStart > 0) moved++
      if (end < output.length) duringFlood++
      done ||= end === output.length
    }
    // How many reads raced the writer and retention (a loaded machine may see few).
    console.log(`log reads: ${served} served (${duringFlood} during the flood), ${cut} cut short`)
  })

  it("serves a finished runner's log", async () => {
    const detail = await server.start({
      provider: "shell",
      command: ["sh", "-c", "echo one; echo two; exit 3"],
    })
    const done = await waitFor(async () => {
      const d = await server.runner(detail.id)
      return d.status === "failed" || d.status === "completed" ? d : undefined
    }, "the runner to end")
    expect(done.exitCode).toBe(3)
    const log = await server.log(detail.id)
    expect(log.bytes.toString("utf8")).toMatch(/one\r?\ntwo/)
  })
})
