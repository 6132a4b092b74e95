import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RunnerDetail, RunnerSummary } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { z } from "zod"
import {
  type CliServer,
  cliEnv,
  count,
  runCli,
  SERVER_DIR,
  startCli,
  startCliServer,
  waitFor,
} from "./harness.js"

const RunnerList = z.array(RunnerSummary)

// Every step is a real `node` child through tsx: seconds each on a loaded 2-core machine.
describe("geppetto against a live server", { timeout: 240_000 }, () => {
  let world: CliServer
  let env: NodeJS.ProcessEnv

  const api = async (path: string, init: RequestInit = {}) =>
    fetch(`${world.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${world.operator}`, ...init.headers },
    })
  const runners = async () => RunnerList.parse(await (await api("/api/runners")).json())
  const detail = async (id: string) =>
    RunnerDetail.parse(await (await api(`/api/runners/${id}`)).json())
  const logBytes = async (id: string) =>
    Buffer.from(await (await api(`/api/runners/${id}/log`)).arrayBuffer())
  /** Starts `cat` in a runner through the CLI and returns its id. */
  const startCat = async (name: string) => {
    const started = await runCli(["run", "shell", "--name", name, "--", "cat"], env)
    expect(started.stderr).toBe("")
    expect(started.code).toBe(0)
    const [id, printedName] = started.out.trim().split(" ")
    expect(printedName).toBe(name)
    return id ?? ""
  }

  beforeAll(async () => {
    world = await startCliServer()
    env = cliEnv(world.home, { GEPPETTO_URL: world.url, GEPPETTO_TOKEN: world.operator })
  })
  afterAll(async () => {
    await world?.close()
  })

  it("runs a command, lists it, types into it, prints and follows its log, pauses, resumes, stops and removes it", async () => {
    const id = await startCat("cli-cat")
    const started = await detail(id)
    expect(started.provider).toBe("shell")
    expect(started.cwd).toBe(SERVER_DIR)

    const table = await runCli(["ls"], env)
    expect(table.code).toBe(0)
    const header = table.out.split("\n")[0] ?? ""
    for (const column of ["NAME", "PROVIDER", "STATUS", "WAITING", "AGE", "BYTES"]) {
      expect(header).toContain(column)
    }
    const row = table.out.split("\n").find((line) => line.includes("cli-cat")) ?? ""
    expect(row).toMatch(
      new RegExp(`^${id}\\s+cli-cat\\s+shell\\s+running\\s+-\\s+\\d+[smhd]\\s+\\d`),
    )
    const json = await runCli(["ls", "--json"], env)
    expect(json.code).toBe(0)
    expect(RunnerList.parse(JSON.parse(json.out)).map((r) => r.id)).toContain(id)

    // By name: `cat` echoes the line after the terminal does.
    const sent = await runCli(["send", "cli-cat", "hello-cli", "--enter"], env)
    expect(sent.code).toBe(0)
    await waitFor(
      async () => count((await logBytes(id)).toString(), "hello-cli\r\n") === 2,
      "the echo in the log",
    )
    const printed = await runCli(["logs", id], env)
    expect(printed.code).toBe(0)
    expect(count(printed.out, "hello-cli\r\n")).toBe(2)
    // Byte for byte what the server keeps.
    expect(printed.stdout.equals(await logBytes(id))).toBe(true)

    // -f: first what is there, then new output exactly once, across what it printed.
    const follower = startCli(["logs", "-f", "cli-cat"], env)
    try {
      await waitFor(
        () => follower.stdout().equals(printed.stdout),
        () =>
          `logs -f to print the log so far, got ${JSON.stringify(follower.stdout().toString())}`,
      )
      expect((await runCli(["send", id, "second-line", "--enter"], env)).code).toBe(0)
      await waitFor(
        () => count(follower.stdout().toString(), "second-line\r\n") === 2,
        () => `logs -f to print new output, got ${JSON.stringify(follower.stdout().toString())}`,
      )
      await waitFor(
        async () => follower.stdout().equals(await logBytes(id)),
        "logs -f output to equal the log",
      )
      expect(follower.stderr()).toBe("")
    } finally {
      follower.child.kill("SIGTERM")
      await follower.exited
    }

    const paused = await runCli(["pause", "cli-cat"], env)
    expect(paused.code).toBe(0)
    expect(paused.out).toContain("paused cli-cat")
    expect((await detail(id)).status).toBe("paused")
    const resumed = await runCli(["resume", id], env)
    expect(resumed.code).toBe(0)
    expect((await detail(id)).status).toBe("running")

    const stopped = await runCli(["stop", "cli-cat"], env)
    expect(stopped.code).toBe(0)
    await waitFor(
      async () => ["completed", "failed"].includes((await detail(id)).status),
      "the runner to end after stop",
    )

    const removed = await runCli(["rm", "cli-cat"], env)
    expect(removed.code).toBe(0)
    expect(removed.out).toContain(`removed cli-cat (${id})`)
    expect((await runners()).map((r) => r.id)).not.toContain(id)
    const again = await runCli(["rm", id], env)
    expect(again.code).toBe(5)
  })

  it("logs -f resumes across a server restart without a gap or a duplicate, and ends with the runner", async () => {
    const id = await startCat("cli-follow")
    expect((await runCli(["send", id, "before", "--enter"], env)).code).toBe(0)
    await waitFor(async () => count((await logBytes(id)).toString(), "before") === 2, "the echo")
    const follower = startCli(["logs", "-f", id], env)
    try {
      await waitFor(
        () => count(follower.stdout().toString(), "before") === 2,
        "logs -f to print the log so far",
      )
      await world.restart()
      // Typed while the follower may still be reconnecting: it must come from `from=`.
      await waitFor(async () => {
        const r = await api(`/api/runners/${id}/input`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ data: "after\r" }),
        })
        return r.status === 204
      }, "input after the restart")
      await waitFor(
        () => count(follower.stdout().toString(), "after") === 2,
        () =>
          `the follower to print output after the restart, got ${JSON.stringify(follower.stdout().toString())}; stderr ${follower.stderr()}`,
      )
      expect(follower.stderr()).toContain("reconnecting from offset")

      // Stopping the runner ends `logs -f` by itself, with every byte printed once.
      expect((await runCli(["stop", id], env)).code).toBe(0)
      const code = await Promise.race([
        follower.exited,
        new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 60_000)),
      ])
      expect(code).toBe(0)
      expect(follower.stdout().equals(await logBytes(id))).toBe(true)
    } finally {
      follower.child.kill("SIGTERM")
      await follower.exited
    }
    expect((await runCli(["rm", id], env)).code).toBe(0)
  })

  it("exits 5 for an unknown runner, 4 for a wrong or viewer token, 2 for bad input, 3 with no server", async () => {
    const unknown = await runCli(["pause", "no-such-runner"], env)
    expect(unknown.code).toBe(5)
    expect(unknown.stderr).toContain("no-such-runner")
    expect((await runCli(["logs", "no-such-runner"], env)).code).toBe(5)

    const wrong = await runCli(["ls"], { ...env, GEPPETTO_TOKEN: "not-the-token-0123456789" })
    expect(wrong.code).toBe(4)
    expect(wrong.stderr).toContain("GEPPETTO_TOKEN")

    const viewer = await runCli(["run", "shell", "--", "true"], {
      ...env,
      GEPPETTO_TOKEN: world.viewer,
    })
    expect(viewer.code).toBe(4)
    expect(viewer.stderr).toContain("forbidden")

    const bad = await runCli(["run", "shell", "--mode", "oneshot"], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("needs a command")
    const usage = await runCli(["run", "shell", "--cols", "wide"], env)
    expect(usage.code).toBe(2)

    // A port nothing listens on any more.
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address()
        probe.close(() => resolve(typeof address === "object" && address ? address.port : 1))
      })
    })
    const down = await runCli(["ls"], { ...env, GEPPETTO_URL: `http://127.0.0.1:${closed}` })
    expect(down.code).toBe(3)
    expect(down.stderr).toContain(`no server at http://127.0.0.1:${closed}`)
    expect(down.stderr).toContain("geppetto serve")
    const byPort = await runCli(["ls", "--port", String(closed)], {
      ...env,
      GEPPETTO_URL: undefined,
    })
    expect(byPort.code).toBe(3)
  })

  it("reads the operator token from the data dir's tokens.json, and never creates one", async () => {
    const fromFile = cliEnv(world.home, {
      GEPPETTO_URL: world.url,
      GEPPETTO_DATA_DIR: world.dataDir,
    })
    const listed = await runCli(["ls", "--json"], fromFile)
    expect(listed.stderr).toBe("")
    expect(listed.code).toBe(0)

    const empty = mkdtempSync(join(tmpdir(), "geppetto-cli-empty-"))
    try {
      const none = await runCli(["ls"], { ...fromFile, GEPPETTO_DATA_DIR: empty })
      expect(none.code).toBe(4)
      expect(none.stderr).toContain("GEPPETTO_TOKEN")
      expect(existsSync(join(empty, "tokens.json"))).toBe(false)
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })

  it("attach runs `tmux -L SOCKET attach -t =NAME` without a shell and exits with its code", async () => {
    const id = await startCat("cli-attach")
    const bin = mkdtempSync(join(tmpdir(), "geppetto-cli-bin-"))
    try {
      // A stand-in tmux: records its argv one per line, exits 7.
      writeFileSync(
        join(bin, "tmux"),
        `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${join(bin, "argv")}"\nexit 7\n`,
        { mode: 0o755 },
      )
      const fake = { ...env, PATH: `${bin}:${process.env.PATH ?? ""}` }
      const attached = await runCli(["attach", "cli-attach"], fake)
      expect(attached.code).toBe(7)
      const argv = readFileSync(join(bin, "argv"), "utf8").trim().split("\n")
      expect(argv).toEqual(["-L", world.socket, "attach", "-t", "=cli-attach"])

      rmSync(join(bin, "argv"))
      const runAttached = await runCli(
        ["run", "shell", "--name", "cli-attach2", "--attach", "--", "cat"],
        fake,
      )
      expect(runAttached.code).toBe(7)
      expect(runAttached.out).toBe("")
      expect(readFileSync(join(bin, "argv"), "utf8").trim().split("\n")).toEqual([
        "-L",
        world.socket,
        "attach",
        "-t",
        "=cli-attach2",
      ])
      expect((await runCli(["rm", "cli-attach2"], env)).code).toBe(0)
    } finally {
      rmSync(bin, { recursive: true, force: true })
      await runCli(["rm", id], env)
    }
  })

  it("doctor passes on the server's own setup and reports a data dir others can read", async () => {
    // Only tmux on PATH: no agent CLI is probed, so the check does not depend on this machine.
    const bin = mkdtempSync(join(tmpdir(), "geppetto-cli-doctor-"))
    const tmuxPath = (process.env.PATH ?? "")
      .split(":")
      .map((dir) => join(dir, "tmux"))
      .find((file) => existsSync(file))
    expect(tmuxPath).toBeDefined()
    symlinkSync(tmuxPath ?? "", join(bin, "tmux"))
    const doctorEnv = (dataDir: string) =>
      cliEnv(world.home, {
        PATH: bin,
        GEPPETTO_DATA_DIR: dataDir,
        GEPPETTO_TMUX_SOCKET: world.socket,
        GEPPETTO_PORT: String(world.port),
      })
    try {
      const good = await runCli(["doctor"], doctorEnv(world.dataDir))
      expect(good.stderr).toBe("")
      expect(good.code).toBe(0)
      expect(good.out).toMatch(/^ok\s+tmux \d/m)
      expect(good.out).toContain(`tmux -L ${world.socket}: reachable`)
      expect(good.out).toContain("mode 0700, writable")
      expect(good.out).toMatch(/free for the data dir/)
      expect(good.out).toContain(
        `port ${world.port} on 127.0.0.1 is taken by a running geppetto server`,
      )
      expect(good.out).toMatch(/provider shell \(Shell\): installed/)
      expect(good.out).toMatch(/provider claude .*: not installed/)

      const open = join(bin, "open-data")
      mkdirSync(open)
      chmodSync(open, 0o755)
      const bad = await runCli(["doctor"], doctorEnv(open))
      expect(bad.code).toBe(1)
      expect(bad.out).toMatch(/^FAIL\s+data dir .* has mode 0755/m)
      expect(bad.out).toContain(`chmod 700 ${open}`)
      expect(bad.out).toContain("1 problem(s) found")
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  })

  it("prints usage for --help and for each command, and refuses an unknown one", async () => {
    const help = await runCli(["--help"], env)
    expect(help.code).toBe(0)
    for (const command of [
      "serve",
      "run",
      "ls",
      "logs",
      "attach",
      "send",
      "pause",
      "resume",
      "stop",
      "rm",
      "wait",
      "schedule",
      "doctor",
    ]) {
      expect(help.out).toMatch(new RegExp(`^  ${command}\\s`, "m"))
    }
    const logsHelp = await runCli(["logs", "--help"], env)
    expect(logsHelp.code).toBe(0)
    expect(logsHelp.out).toMatch(/^usage: geppetto logs/)
    const waitHelp = await runCli(["wait", "--help"], env)
    expect(waitHelp.out).toMatch(/^usage: geppetto wait/)
    expect(help.out).toContain("6 timed out")
    const scheduleHelp = await runCli(["schedule", "--help"], env)
    // `schedule add` takes run's flags, read by the same parser.
    expect(scheduleHelp.out).toContain("--auto-approve REGEX")
    const unknown = await runCli(["frobnicate"], env)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown command")
    const badFlag = await runCli(["ls", "--nope"], env)
    expect(badFlag.code).toBe(2)
  })
})
