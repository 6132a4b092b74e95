import { describe, expect, it } from "vitest"
import {
  AdoptParams,
  InputRequest,
  LoginRequest,
  LogQuery,
  ProviderInfo,
  RunnerDetail,
  RunnerParams,
  SessionListing,
  StartRunnerRequest,
  TerminalQuery,
} from "../src/index.js"

const ok = (schema: { safeParse: (v: unknown) => { success: boolean } }, value: unknown) =>
  expect(schema.safeParse(value).success, JSON.stringify(value)?.slice(0, 200)).toBe(true)
const bad = (schema: { safeParse: (v: unknown) => { success: boolean } }, value: unknown) =>
  expect(schema.safeParse(value).success, JSON.stringify(value)?.slice(0, 200)).toBe(false)

describe("LoginRequest", () => {
  it("takes a token and nothing else", () => {
    ok(LoginRequest, { token: "abc" })
    bad(LoginRequest, { token: "" })
    bad(LoginRequest, {})
    bad(LoginRequest, { token: "abc", role: "operator" })
  })
})

describe("StartRunnerRequest", () => {
  const full = {
    provider: "shell",
    prompt: "fix the tests",
    mode: "oneshot",
    command: ["bash", "-c", "echo hi; exit 3"],
    cwd: "/tmp",
    name: "build-1",
    env: { FOO: "bar", _X1: "" },
    maxDurationMs: 60_000,
    accountId: "work",
    cols: 120,
    rows: 40,
  }

  it("accepts the contract's fields, all but provider optional", () => {
    expect(StartRunnerRequest.parse(full)).toEqual(full)
    ok(StartRunnerRequest, { provider: "claude" })
    ok(StartRunnerRequest, { provider: "cursor-agent" })
  })

  it("refuses unknown keys, so a typo is a 400 and not silently ignored", () => {
    bad(StartRunnerRequest, { provider: "claude", promt: "typo" })
  })

  it("bounds sizes and forbids NUL", () => {
    bad(StartRunnerRequest, { provider: "" })
    bad(StartRunnerRequest, { provider: "../x" })
    ok(StartRunnerRequest, { provider: "claude", prompt: "x".repeat(128 * 1024) })
    bad(StartRunnerRequest, { provider: "claude", prompt: "x".repeat(128 * 1024 + 1) })
    // Counted in UTF-8 bytes: 43,691 three-byte characters are over 128 KiB.
    bad(StartRunnerRequest, { provider: "claude", prompt: "€".repeat(43_691) })
    bad(StartRunnerRequest, { provider: "claude", prompt: "a\u0000b" })
    bad(StartRunnerRequest, { provider: "shell", command: [] })
    bad(StartRunnerRequest, { provider: "shell", command: [""] })
    bad(StartRunnerRequest, { provider: "shell", command: ["ls", "a\u0000"] })
    ok(StartRunnerRequest, { provider: "shell", command: Array(256).fill("x") })
    bad(StartRunnerRequest, { provider: "shell", command: Array(257).fill("x") })
    bad(StartRunnerRequest, { provider: "shell", cwd: "" })
    bad(StartRunnerRequest, { provider: "shell", cwd: "/tmp\u0000/x" })
  })

  it("checks name, size, duration and account against their bounds", () => {
    bad(StartRunnerRequest, { provider: "shell", name: "a.b" })
    bad(StartRunnerRequest, { provider: "shell", name: "-t" })
    for (const [cols, rows, valid] of [
      [10, 5, true],
      [500, 200, true],
      [9, 5, false],
      [10, 4, false],
      [501, 24, false],
      [80, 201, false],
      [80.5, 24, false],
    ] as const) {
      expect(StartRunnerRequest.safeParse({ provider: "shell", cols, rows }).success).toBe(valid)
    }
    ok(StartRunnerRequest, { provider: "shell", maxDurationMs: 30 * 24 * 3600 * 1000 })
    bad(StartRunnerRequest, { provider: "shell", maxDurationMs: 30 * 24 * 3600 * 1000 + 1 })
    bad(StartRunnerRequest, { provider: "shell", maxDurationMs: 0 })
    bad(StartRunnerRequest, { provider: "shell", maxDurationMs: 1.5 })
    bad(StartRunnerRequest, { provider: "shell", accountId: "a/b" })
  })

  it("bounds env names, values and entries", () => {
    for (const name of ["1X", "A-B", "A B", "", "É"])
      bad(StartRunnerRequest, { provider: "shell", env: { [name]: "v" } })
    // zod's records drop a `__proto__` key rather than copy it, so it never reaches an env.
    const parsed = StartRunnerRequest.parse(
      JSON.parse('{"provider":"shell","env":{"__proto__":"v","A":"b"}}'),
    )
    expect(Object.keys(parsed.env ?? {})).toEqual(["A"])
    bad(StartRunnerRequest, { provider: "shell", env: { A: "v\u0000" } })
    ok(StartRunnerRequest, { provider: "shell", env: { A: "v".repeat(32 * 1024) } })
    bad(StartRunnerRequest, { provider: "shell", env: { A: "v".repeat(32 * 1024 + 1) } })
    const env = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, ""]))
    ok(StartRunnerRequest, { provider: "shell", env: env(100) })
    bad(StartRunnerRequest, { provider: "shell", env: env(101) })
    bad(StartRunnerRequest, { provider: "shell", env: { A: 1 } })
  })
})

describe("InputRequest", () => {
  it("takes up to 64 KiB of any text, NUL included (Ctrl-@ is a key)", () => {
    ok(InputRequest, { data: "\u0003" })
    ok(InputRequest, { data: "\u0000" })
    ok(InputRequest, { data: "x".repeat(64 * 1024) })
    bad(InputRequest, { data: "x".repeat(64 * 1024 + 1) })
    bad(InputRequest, { data: 1 })
    bad(InputRequest, { data: "x", more: 1 })
  })
})

describe("params and queries", () => {
  it("parses ids and names", () => {
    ok(RunnerParams, { id: "run-1" })
    bad(RunnerParams, { id: "../etc" })
    ok(AdoptParams, { name: "work" })
    bad(AdoptParams, { name: "a:b" })
  })

  it("reads offsets from query strings as non-negative integers", () => {
    expect(LogQuery.parse({})).toEqual({})
    expect(LogQuery.parse({ from: "0" })).toEqual({ from: 0 })
    expect(LogQuery.parse({ from: "123456789" })).toEqual({ from: 123456789 })
    for (const from of ["", "-1", "1.5", "1e3", " 1", "0x10", "abc", "99999999999999999", 5])
      bad(LogQuery, { from })
    bad(LogQuery, { from: ["1", "2"] })
    bad(LogQuery, { to: "1" })
  })

  it("reads the terminal socket's pane, offset and token", () => {
    expect(TerminalQuery.parse({ pane: "%3", from: "10", token: "t" })).toEqual({
      pane: "%3",
      from: 10,
      token: "t",
    })
    bad(TerminalQuery, { pane: "3" })
    bad(TerminalQuery, { from: "-3" })
  })
})

describe("responses", () => {
  const summary = {
    id: "run-1",
    name: "build",
    provider: "shell",
    mode: "oneshot",
    status: "completed",
    activity: "idle",
    waitingForInput: false,
    cwd: "/tmp",
    createdAt: 1,
    exitCode: 0,
    bytesOut: 10,
  }

  it("describes a runner's detail as its summary plus metrics and session", () => {
    const detail = {
      ...summary,
      metrics: {
        bytesOut: 10,
        lines: 1,
        startedAt: 2,
        endedAt: 3,
        activeMs: 1,
        idleMs: 0,
        lastActivityAt: 3,
        attentionCount: 0,
        waitingMs: 0,
        exitCode: 0,
      },
      session: {
        name: "build",
        socket: null,
        attachCommand: "tmux attach -t =build",
        panes: [{ id: "%1", cols: 80, rows: 24 }],
      },
      answers: [{ label: "Yes", keys: "y\r" }],
    }
    expect(RunnerDetail.parse(detail)).toEqual(detail)
    ok(RunnerDetail, { ...detail, session: { ...detail.session, socket: "geppetto" } })
    bad(RunnerDetail, { ...detail, metrics: undefined })
    bad(RunnerDetail, { ...detail, session: { ...detail.session, panes: [{ id: "1" }] } })
    // The socket is what a client passes to `tmux -L`: never a path, a flag or missing.
    for (const socket of ["../x", "-S/tmp/x", "a b", "", undefined]) {
      bad(RunnerDetail, { ...detail, session: { ...detail.session, socket } })
    }
  })

  it("describes providers and tmux sessions", () => {
    ok(ProviderInfo, { id: "claude", name: "Claude Code", installed: false, modes: ["oneshot"] })
    ok(ProviderInfo, {
      id: "shell",
      name: "Shell",
      installed: true,
      modes: ["interactive", "oneshot"],
      version: "5.2",
    })
    bad(ProviderInfo, { id: "claude", name: "x", installed: "yes", modes: [] })
    ok(SessionListing, {
      name: "my work",
      windows: 1,
      panes: 2,
      attached: true,
      createdAt: 1,
      command: "vim",
    })
  })
})
