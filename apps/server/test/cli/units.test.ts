import { randomBytes } from "node:crypto"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { probeTmuxServer, tmuxServerLabel, tmuxSocketPath } from "@geppetto/runner"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { attachArgv } from "../../src/cli/attach.js"
import { errorMessageIn, networkErrorCode, resolveConnection } from "../../src/cli/client.js"
import { CliError } from "../../src/cli/errors.js"
import { formatAge, formatBytes, formatTable } from "../../src/cli/ls.js"
import { parseDuration } from "../../src/cli/run.js"

describe("run flags", () => {
  it("reads durations with units, a bare number as seconds", () => {
    expect(parseDuration("90")).toBe(90_000)
    expect(parseDuration("90s")).toBe(90_000)
    expect(parseDuration("30m")).toBe(1_800_000)
    expect(parseDuration("1h30m")).toBe(5_400_000)
    expect(parseDuration("1d")).toBe(86_400_000)
    expect(parseDuration("500ms")).toBe(500)
    for (const bad of ["", "soon", "1x", "1h 30m", "-5s", "1.5h"]) {
      expect(() => parseDuration(bad)).toThrow(CliError)
    }
  })
})

describe("ls formatting", () => {
  it("prints ages and sizes compactly", () => {
    expect(formatAge(0)).toBe("0s")
    expect(formatAge(59_999)).toBe("59s")
    expect(formatAge(60_000)).toBe("1m")
    expect(formatAge(3 * 3_600_000 + 5)).toBe("3h")
    expect(formatAge(2 * 86_400_000)).toBe("2d")
    expect(formatAge(-5)).toBe("0s")
    expect(formatBytes(0)).toBe("0B")
    expect(formatBytes(1023)).toBe("1023B")
    expect(formatBytes(1536)).toBe("1.5K")
    expect(formatBytes(31 * 1024 * 1024)).toBe("31M")
    expect(formatBytes(1.5 * 1024 ** 3)).toBe("1.5G")
  })

  it("pads columns to the widest cell", () => {
    expect(
      formatTable([
        ["A", "BB", "C"],
        ["long", "x", "last"],
      ]),
    ).toBe("A     BB  C\nlong  x   last\n")
  })
})

describe("attach", () => {
  it("builds tmux's argv from the session's name and socket, not its display command", () => {
    expect(attachArgv({ name: "calm-otter", socket: "geppetto" })).toEqual([
      "-L",
      "geppetto",
      "attach",
      "-t",
      "=calm-otter",
    ])
    expect(attachArgv({ name: "calm-otter", socket: null })).toEqual([
      "attach",
      "-t",
      "=calm-otter",
    ])
  })

  it("refuses names and sockets it cannot pass on safely", () => {
    for (const session of [
      { name: "a;rm -rf ~", socket: null },
      { name: "-t", socket: null },
      { name: "", socket: null },
      { name: "ok", socket: "$(id)" },
      { name: "ok", socket: "-S/tmp/x" },
      { name: "ok", socket: "../other-user" },
      { name: "ok", socket: "" },
    ]) {
      expect(() => attachArgv(session)).toThrow(CliError)
    }
  })
})

describe("doctor's tmux probes (from the runner package)", () => {
  it("finds a server's socket where tmux puts it", () => {
    expect(tmuxSocketPath("g", { TMUX_TMPDIR: "/run/x" }, 1000)).toBe("/run/x/tmux-1000/g")
    expect(tmuxSocketPath("g", { TMUX_TMPDIR: "" }, 5)).toBe("/tmp/tmux-5/g")
    expect(tmuxSocketPath(undefined, {}, 1000)).toBe("/tmp/tmux-1000/default")
    expect(tmuxServerLabel(undefined)).toBe("the default tmux server")
    expect(tmuxServerLabel("g")).toBe("tmux -L g")
  })

  it("tells a server that is not running from a stale socket, starting none", async () => {
    const dir = join(tmpdir(), `geppetto-probe-${randomBytes(4).toString("hex")}`)
    const env = { ...process.env, TMUX_TMPDIR: dir }
    const socket = "probe"
    const path = tmuxSocketPath(socket, env)
    try {
      expect(await Effect.runPromise(probeTmuxServer(socket, env))).toEqual({
        _tag: "NotRunning",
        socketPath: path,
      })
      // A socket file with nothing listening, as a killed tmux server leaves behind.
      mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 })
      writeFileSync(path, "")
      expect(await Effect.runPromise(probeTmuxServer(socket, env))).toEqual({
        _tag: "StaleSocket",
        socketPath: path,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("connection", () => {
  it("takes --url, else GEPPETTO_URL, else host and port with wildcards mapped to loopback", async () => {
    const env = { GEPPETTO_TOKEN: "t0123456789" }
    expect((await resolveConnection({}, env)).url).toBe("http://127.0.0.1:7420")
    expect(
      (await resolveConnection({ url: "http://h:1/" }, { ...env, GEPPETTO_URL: "http://x:2" })).url,
    ).toBe("http://h:1")
    expect((await resolveConnection({}, { ...env, GEPPETTO_URL: "https://x:2/g/" })).url).toBe(
      "https://x:2/g",
    )
    expect(
      (await resolveConnection({}, { ...env, GEPPETTO_HOST: "0.0.0.0", GEPPETTO_PORT: "8000" }))
        .url,
    ).toBe("http://127.0.0.1:8000")
    expect((await resolveConnection({ host: "::", port: "9" }, env)).url).toBe("http://[::1]:9")
    expect((await resolveConnection({}, env)).token).toBe("t0123456789")
    await expect(resolveConnection({ port: "99999" }, env)).rejects.toThrow(CliError)
    await expect(resolveConnection({ url: "ftp://x" }, env)).rejects.toThrow(CliError)
  })

  it("finds the server's message in either error shape, and the errno behind a failed fetch", () => {
    expect(errorMessageIn({ error: { code: "NotFoundError", message: "no runner x" } })).toBe(
      "no runner x",
    )
    expect(errorMessageIn({ statusCode: 400, message: "bad body" })).toBe("bad body")
    expect(errorMessageIn("nope")).toBeUndefined()
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    expect(networkErrorCode(new TypeError("fetch failed", { cause: refused }))).toBe("ECONNREFUSED")
    expect(
      networkErrorCode(new TypeError("fetch failed", { cause: new AggregateError([refused]) })),
    ).toBe("ECONNREFUSED")
  })
})
