import { execFile, spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { Context, Data, Effect, Layer, type Scope } from "effect"
import {
  defaultRunnerConfig,
  LogStore,
  ProcessMonitorTag,
  type RunnerConfigShape,
  RunnerLive,
} from "../src/index.js"

/** Anything that makes a measurement meaningless (lost bytes, a stuck tail, tmux refusing). */
export class BenchError extends Data.TaggedError("BenchError")<{
  readonly message: string
}> {}

/** A tmux command on a bench server, run synchronously (setup and teardown only). */
export const tmuxSync = (socket: string, args: ReadonlyArray<string>) => {
  const result = spawnSync("tmux", ["-L", socket, ...args], {
    encoding: "utf8",
  })
  return {
    stdout: result.stdout ?? "",
    stderr: result.stderr ?? "",
    code: result.status,
  }
}

/** One `tmux` process, asynchronously; resolves with its exit code. */
export const tmuxAsync = (socket: string, args: ReadonlyArray<string>) =>
  Effect.async<number, BenchError>((resume) => {
    const child = execFile("tmux", ["-L", socket, ...args], (error, _stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        resume(Effect.fail(new BenchError({ message: `tmux ${args[0]}: ${error.message}` })))
        return
      }
      const code = typeof error?.code === "number" ? error.code : 0
      if (code !== 0) {
        resume(
          Effect.fail(
            new BenchError({
              message: `tmux ${args.join(" ")} failed: ${stderr}`,
            }),
          ),
        )
        return
      }
      resume(Effect.succeed(code))
    })
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })

let counter = 0

/** Where tmux puts a `-L` socket: `$TMUX_TMPDIR/tmux-UID/NAME` (`/tmp` by default). */
const tmuxSocketPath = (socket: string) =>
  join(process.env.TMUX_TMPDIR || "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket)

/** A private tmux server name and temp data dir; the server is killed and the dir removed on scope close. */
export const benchSandbox = (label: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dataDir = mkdtempSync(join(tmpdir(), `geppetto-bench-${label}-`))
      const socket = `geppetto-bench-${label}-${process.pid}-${++counter}`
      return { dataDir, socket }
    }),
    ({ dataDir, socket }) =>
      Effect.sync(() => {
        tmuxSync(socket, ["kill-server"])
        // tmux leaves its socket file behind (also when it exits on its own, with no sessions).
        rmSync(tmuxSocketPath(socket), { force: true })
        rmSync(dataDir, { recursive: true, force: true })
      }),
  )

/** The runner domain (the real `RunnerLive` layer) over its own tmux server and data dir. */
export const benchRunner = (
  label: string,
  overrides: Partial<RunnerConfigShape> = {},
): Effect.Effect<
  {
    readonly socket: string
    readonly dataDir: string
    readonly monitor: Context.Tag.Service<ProcessMonitorTag>
    readonly logs: LogStore
  },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const { dataDir, socket } = yield* benchSandbox(label)
    const config = defaultRunnerConfig(dataDir, {
      tmuxSocket: socket,
      ...overrides,
    })
    const context = yield* Layer.build(RunnerLive(config))
    return {
      socket,
      dataDir,
      monitor: Context.get(context, ProcessMonitorTag),
      logs: Context.get(context, LogStore),
    }
  })

export interface MachineFacts {
  readonly cpus: number
  readonly cpuModel: string
  readonly node: string
  readonly tmux: string
  readonly platform: string
  readonly kernel: string
  readonly totalMemMB: number
  readonly freeMemMB: number
  readonly loadAvg: ReadonlyArray<number>
}

export const machineFacts = (): MachineFacts => {
  const list = cpus()
  const tmux = spawnSync("tmux", ["-V"], { encoding: "utf8" })
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    node: process.version,
    tmux: (tmux.stdout ?? "").trim() || "unknown",
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    totalMemMB: Math.round(totalmem() / 1e6),
    freeMemMB: Math.round(freemem() / 1e6),
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100),
  }
}

const clockTicks = (() => {
  const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
  const n = Number((out.stdout ?? "").trim())
  return Number.isFinite(n) && n > 0 ? n : 100
})()

/** User + system CPU time a live process has used, in ms (Linux `/proc`); undefined if gone. */
export const processCpuMs = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1000) / clockTicks : undefined
  } catch {
    return undefined
  }
}

/** The pid of the first process whose argv[0] ends with `name` and whose command line holds `needle`. */
export const findProcess = (name: string, needle: string): number | undefined => {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      const exe = argv[0] ?? ""
      if ((exe === name || exe.endsWith(`/${name}`)) && argv.some((a) => a.includes(needle))) {
        return Number(entry)
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

/** The pid of a tmux server, asked through one of its sessions. */
export const tmuxServerPid = (socket: string, session: string): number | undefined => {
  const out = tmuxSync(socket, ["display-message", "-p", "-t", session, "#{pid}"])
  const pid = Number(out.stdout.trim())
  return out.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined
}
