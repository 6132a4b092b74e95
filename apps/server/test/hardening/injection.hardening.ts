import { spawnSync } from "node:child_process"
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CONTROL_SESSION } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { escapeIds, hostilePayloads } from "./payloads.js"
import { record } from "./tally.js"

const canaryDir = mkdtempSync(join(tmpdir(), "geppetto-canary-"))
const payloads = hostilePayloads(canaryDir)
const fakeBin = join(import.meta.dirname, "fixtures", "bin")
let server: TestServer
let inputs = 0
let fiveXx = 0

beforeAll(async () => {
  // The fake `claude` must be on the PATH of the tmux server the app starts.
  process.env.PATH = `${fakeBin}:${process.env.PATH ?? ""}`
  server = await startServer()
})
afterAll(async () => {
  record({ inputs, fiveXx })
  await server?.close()
  rmSync(canaryDir, { recursive: true, force: true })
})

interface Started {
  readonly id: string
  readonly payload: string
}

/** One hostile request: never a 5xx; a 201 yields the runner it started. */
const attempt = async (
  method: "GET" | "POST" | "DELETE",
  url: string,
  body?: Record<string, unknown>,
) => {
  inputs++
  const reply = await server.request("operator", {
    method,
    url,
    ...(body === undefined ? {} : { payload: body }),
  })
  if (reply.statusCode >= 500) fiveXx++
  expect(
    reply.statusCode,
    `${method} ${url.slice(0, 120)}: ${reply.body.slice(0, 300)}`,
  ).toBeLessThan(500)
  return reply
}

const startAll = async (
  make: (payload: string) => Record<string, unknown>,
): Promise<ReadonlyArray<Started>> => {
  const started: Started[] = []
  for (const payload of payloads) {
    const reply = await attempt("POST", "/api/runners", make(payload))
    if (reply.statusCode === 201) started.push({ id: (reply.json() as { id: string }).id, payload })
    else expect(reply.statusCode).toBeGreaterThanOrEqual(400)
  }
  return started
}

const settle = async (started: ReadonlyArray<Started>) => {
  for (const { id } of started) {
    await waitFor(async () => {
      const status = (await server.runner(id)).status
      return status === "completed" || status === "failed"
    }, `runner ${id} to finish`)
  }
}

const forget = async (started: ReadonlyArray<Started>) => {
  for (const { id } of started) {
    const reply = await server.request("operator", { method: "DELETE", url: `/api/runners/${id}` })
    expect(reply.statusCode).toBeLessThan(300)
  }
}

/** Nothing ran: no canary file, no session but ours, no process naming the canary dir. */
const assertNothingEscaped = (allowedSessions: ReadonlyArray<string>) => {
  expect(readdirSync(canaryDir)).toEqual([])
  const sessions = server.sessions().filter((s) => s !== CONTROL_SESSION)
  expect(sessions.filter((s) => !allowedSessions.includes(s))).toEqual([])
  const ps = spawnSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).stdout
  expect(ps.split("\n").filter((line) => line.includes(canaryDir))).toEqual([])
}

describe("injection canaries through every user-controlled field", () => {
  it("argv: each hostile string reaches the program as one inert argument, byte for byte", async () => {
    const started = await startAll((payload) => ({
      provider: "shell",
      command: ["sh", "-c", 'stty -opost; printf "%s" "$1"', "sh", payload],
    }))
    // Only the NUL one is refused (argv cannot carry it).
    expect(started.length).toBe(payloads.length - 1)
    await settle(started)
    for (const { id, payload } of started) {
      expect((await server.runner(id)).status).toBe("completed")
      expect((await server.log(id)).bytes.toString("utf8")).toBe(payload)
    }
    // A hostile string as the program itself: it fails to start or exits non-zero; nothing runs.
    const asProgram = await startAll((payload) => ({ provider: "shell", command: [payload] }))
    await settle(asProgram)
    await forget([...started, ...asProgram])
    assertNothingEscaped([])
  })

  it("env values arrive verbatim; hostile env names are refused", async () => {
    const started = await startAll((payload) => ({
      provider: "shell",
      command: ["sh", "-c", 'stty -opost; printf "%s" "$HOSTILE"'],
      env: { HOSTILE: payload },
    }))
    expect(started.length).toBe(payloads.length - 1)
    await settle(started)
    for (const { id, payload } of started) {
      expect((await server.log(id)).bytes.toString("utf8")).toBe(payload)
    }
    const named = await startAll((payload) => ({
      provider: "shell",
      command: ["true"],
      env: { [payload]: "x" },
    }))
    expect(named).toEqual([])
    await forget(started)
    assertNothingEscaped([])
  })

  it("prompts reach the agent as one argument", async () => {
    const started = await startAll((payload) => ({
      provider: "claude",
      mode: "oneshot",
      prompt: payload,
    }))
    expect(started.length).toBeGreaterThan(0)
    await settle(started)
    for (const { id, payload } of started) {
      expect((await server.log(id)).bytes.toString("utf8")).toContain(payload.trim())
    }
    await forget(started)
    assertNothingEscaped([])
  })

  it("names, cwds and account ids: refused or inert", async () => {
    const base = mkdtempSync(join(tmpdir(), "geppetto-cwd-"))
    try {
      for (const payload of payloads) {
        try {
          mkdirSync(join(base, payload), { recursive: true })
        } catch {
          // NUL and over-long names cannot be folders: the request must still be refused cleanly.
        }
      }
      const started = [
        ...(await startAll((payload) => ({ provider: "shell", command: ["true"], name: payload }))),
        ...(await startAll((payload) => ({ provider: "shell", command: ["true"], cwd: payload }))),
        ...(await startAll((payload) => ({
          provider: "shell",
          command: ["sh", "-c", "stty -opost; pwd"],
          cwd: join(base, payload),
        }))),
        ...(await startAll((payload) => ({
          provider: "shell",
          command: ["true"],
          accountId: payload,
        }))),
      ]
      await settle(started)
      await forget(started)
      assertNothingEscaped([])
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  it("input data is typed as bytes into the pane, never run by tmux; adopt names are refused", async () => {
    const cat = await server.start({ provider: "shell", command: ["cat"] })
    for (const payload of payloads) {
      await attempt("POST", `/api/runners/${cat.id}/input`, { data: payload })
    }
    for (const payload of payloads) {
      const reply = await attempt("POST", `/api/sessions/${encodeURIComponent(payload)}/adopt`, {})
      expect(reply.statusCode).toBeGreaterThanOrEqual(400)
    }
    // The pane got the bytes (cat echoes them back): the last marker is in its log.
    await waitFor(
      async () => (await server.log(cat.id)).bytes.toString("utf8").includes("hit-27"),
      "the typed input in the log",
    )
    assertNothingEscaped([cat.session.name])
    await forget([{ id: cat.id, payload: "" }])
  })
})

describe("path escape through ids and the data dir", () => {
  it("hostile ids in every runner route: 4xx, never a file from outside", async () => {
    for (const id of escapeIds) {
      for (const [method, suffix] of [
        ["GET", ""],
        ["GET", "/log"],
        ["POST", "/terminate"],
        ["POST", "/input"],
        ["DELETE", ""],
      ] as const) {
        const reply = await attempt(
          method,
          `/api/runners/${id}${suffix}`,
          method === "POST" ? { data: "x" } : undefined,
        )
        expect(reply.statusCode, `${method} ${id}${suffix}`).toBeGreaterThanOrEqual(400)
        expect(reply.body).not.toContain("root:")
      }
    }
    // Raw traversal in the path itself.
    for (const url of [
      "/api/runners/../../../../etc/passwd",
      "/api/runners/..%2f..%2f..%2fetc%2fpasswd/log",
      "/api/runners/%2e%2e/%2e%2e/journal/log",
      "/api/../../etc/passwd",
    ]) {
      const reply = await attempt("GET", url)
      expect(reply.statusCode).toBeGreaterThanOrEqual(400)
      expect(reply.body).not.toContain("root:")
    }
  })

  it("a symlink planted in runners/ is never served or adopted, before or after a restart", async () => {
    const runner = await server.start({
      provider: "shell",
      command: ["sh", "-c", "stty -opost; printf real-output"],
    })
    await settle([{ id: runner.id, payload: "" }])
    const runnersDir = join(server.dataDir, "runners")
    const outside = mkdtempSync(join(tmpdir(), "geppetto-outside-"))
    try {
      // A copy of a real runner folder whose log says SECRET, reachable only through symlinks.
      const fake = join(outside, "fake")
      cpSync(join(runnersDir, runner.id), fake, { recursive: true })
      for (const file of readdirSync(fake)) {
        if (/^\d|seg|out|log/.test(file)) writeFileSync(join(fake, file), "SECRET-OUTSIDE")
      }
      symlinkSync(fake, join(runnersDir, "run-planted"))
      symlinkSync("/etc", join(runnersDir, "run-etc"))
      // And the real runner's own folder swapped for a symlink to the fake.
      renameSync(join(runnersDir, runner.id), join(outside, "real"))
      symlinkSync(fake, join(runnersDir, runner.id))
      const check = async () => {
        for (const id of ["run-planted", "run-etc"]) {
          expect((await attempt("GET", `/api/runners/${id}`)).statusCode).toBe(404)
          const log = await attempt("GET", `/api/runners/${id}/log`)
          expect(log.statusCode).toBe(404)
          expect(log.body).not.toContain("SECRET")
        }
        const list = await attempt("GET", "/api/runners")
        expect(list.body).not.toContain("run-planted")
        expect(list.body).not.toContain("run-etc")
        const log = await attempt("GET", `/api/runners/${runner.id}/log`)
        expect(log.body).not.toContain("SECRET")
      }
      await check()
      await server.stop()
      server = await startServer({ reuse: { dataDir: server.dataDir, socket: server.socket } })
      await check()
    } finally {
      rmSync(outside, { recursive: true, force: true })
    }
  })
})
