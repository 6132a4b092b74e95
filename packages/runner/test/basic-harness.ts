import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { defaultRunnerConfig, type RunnerConfigShape } from "../src/config.js"
import { BasicRunnerLive } from "../src/live.js"
import { LogStore } from "../src/logs/log-store.js"
import { ProcessMonitorTag } from "../src/monitor/process-monitor-tag.js"
import type { ProcessMonitorOptions } from "../src/ports.js"

/**
 * The runner domain over the `basic` adapter and a temp data dir, deleted when the test's
 * scope closes. `spawn` also terminates the process then, so no test leaves one behind.
 */
export const basicRunner = (overrides: Partial<RunnerConfigShape> = {}) =>
  Effect.gen(function* () {
    const dataDir = mkdtempSync(join(tmpdir(), "geppetto-basic-"))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })),
    )
    const config = defaultRunnerConfig(dataDir, {
      idleThresholdMs: 500,
      activeConfirmMs: 100,
      terminateGraceMs: 500,
      ...overrides,
    })
    const context = yield* Layer.build(BasicRunnerLive(config))
    const monitor = Context.get(context, ProcessMonitorTag)
    const spawn = (command: string, args: ReadonlyArray<string>, options: ProcessMonitorOptions) =>
      Effect.tap(monitor.spawn(command, args, options), (handle) =>
        Effect.addFinalizer(() => Effect.orDie(handle.terminate)),
      )
    return {
      config,
      dataDir,
      monitor,
      logs: Context.get(context, LogStore),
      spawn,
    }
  })

/** The bytes of every segment in `dir`, in offset order (names sort by offset in one generation). */
export const readSegments = (dir: string): Buffer =>
  Buffer.concat(
    readdirSync(dir)
      .filter((name) => name.startsWith("out-"))
      .sort()
      .map((name) => readFileSync(join(dir, name))),
  )

const procStat = (pid: string) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return {
      state: fields[0],
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
    }
  } catch {
    return undefined
  }
}

const livePids = () =>
  readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      const stat = procStat(pid)
      // A zombie is not running; orphans may wait a while for init to reap them.
      return stat === undefined || stat.state === "Z" ? [] : [{ pid: Number(pid), ...stat }]
    })

/** Live processes in process group `pgid`. */
export const groupMembers = (pgid: number): ReadonlyArray<number> =>
  livePids()
    .filter((p) => p.pgrp === pgid)
    .map((p) => p.pid)

/** Whether `pid` is a running process (not a zombie). */
export const isRunning = (pid: number): boolean => livePids().some((p) => p.pid === pid)

/** Live direct children of this test process whose argv is exactly `argv`. */
export const childrenWithArgv = (argv: ReadonlyArray<string>): ReadonlyArray<number> =>
  livePids()
    .filter((p) => p.ppid === process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p.pid}/cmdline`, "utf8") === `${argv.join("\0")}\0`
      } catch {
        return false
      }
    })
    .map((p) => p.pid)
