/**
 * restart: with runners live in tmux, SIGTERM the server and start a new one on the same
 * data dir and tmux socket; time from the new process's spawn to `GET /api/runners` listing
 * every runner (polled from the moment it prints "listening"). Baseline: spawn to listening
 * (and to a first list) with no runners, on a fresh data dir and socket.
 */
import { spawn } from "node:child_process"
import { join } from "node:path"
import { median } from "../../../packages/runner/bench/stats.js"
import {
  getJson,
  log,
  removeServerLeftovers,
  sleep,
  spawnServer,
  startRunners,
  stopServerAndRunners,
  stopServerProcess,
  type TimedServer,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface RestartOptions {
  readonly runners: number
  readonly repeats: number
  readonly nodeArgs?: ReadonlyArray<string>
}

export const restartDefaults: RestartOptions = { runners: 100, repeats: 3 }
export const restartQuick: RestartOptions = { runners: 20, repeats: 2 }

interface Start {
  readonly listeningMs: number
  readonly listedMs: number
  readonly polls: number
}

/** Polls the list until `expect` runners are there and running; ms from spawn. */
const untilListed = async (server: TimedServer, expect: number): Promise<Start> => {
  let polls = 0
  const deadline = performance.now() + 30_000
  for (;;) {
    polls++
    const list = await getJson<ReadonlyArray<{ status: string }>>(server, "/api/runners").catch(
      () => [],
    )
    if (list.filter((r) => r.status === "running").length >= expect) break
    if (performance.now() > deadline) throw new Error(`only ${list.length} of ${expect} listed`)
    await sleep(5)
  }
  const now = performance.now()
  return {
    listeningMs: server.listeningAt - server.spawnedAt,
    listedMs: now - server.spawnedAt,
    polls,
  }
}

/** The built command line: main.js and the chunks it imports (scripts/bundle.mjs). */
const SERVER_MAIN = join(import.meta.dirname, "..", "dist", "main.js")

/** ms from spawning `node ARGS` to its exit. */
const nodeRun = (args: ReadonlyArray<string>) =>
  new Promise<number>((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, args, { stdio: "ignore" })
    child.once("error", reject)
    child.once("exit", (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`node exited ${code}`)),
    )
  })

export const restartScenario = async (options: RestartOptions): Promise<ScenarioReport> => {
  const nodeArgs = options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }
  const empty: Start[] = []
  for (let i = 0; i < options.repeats; i++) {
    const fresh = await spawnServer({ label: `restart-empty-${i}`, ...nodeArgs })
    try {
      empty.push(await untilListed(fresh, 0))
    } finally {
      await stopServerAndRunners(fresh)
    }
  }
  // A command's start beside node's own: main.js loads the chunks of the command it runs only
  // (here none but the version), so this is the floor of every CLI command.
  const bareNode: number[] = []
  const imports: number[] = []
  for (let i = 0; i < options.repeats; i++) {
    bareNode.push(await nodeRun(["-e", ""]))
    imports.push(await nodeRun([SERVER_MAIN, "--version"]))
  }
  let server = await spawnServer({ label: "restart", ...nodeArgs })
  const restarts: Start[] = []
  try {
    log(`  restart: starting ${options.runners} runners ...`)
    const started = await startRunners(
      server,
      options.runners,
      () => ["sleep", "3600"],
      (i) => `restart-${i}`,
    )
    if (started.error !== undefined) throw new Error(started.error)
    await untilListed(server, options.runners)
    for (let i = 0; i < options.repeats; i++) {
      log(`  restart: SIGTERM and start again (${i + 1}/${options.repeats}) ...`)
      await stopServerProcess(server)
      server = await spawnServer({
        label: "restart",
        dir: server.dir,
        socket: server.socket,
        ...nodeArgs,
      })
      restarts.push(await untilListed(server, options.runners))
      await sleep(500)
    }
  } finally {
    await stopServerProcess(server)
    removeServerLeftovers(server)
  }
  const med = (starts: ReadonlyArray<Start>, pick: (s: Start) => number) => median(starts.map(pick))
  const b = "no runners"
  return {
    scenario: "restart",
    title: `server restart with ${options.runners} live runners`,
    setup: `SIGTERM, then \`geppetto serve\` on the same data dir and tmux socket; median of ${options.repeats}; the list is polled every 5 ms from "listening" until all ${options.runners} show running`,
    figures: [
      {
        name: "spawn -> list shows all runners",
        value: med(restarts, (s) => s.listedMs),
        unit: "ms",
        target: { op: "<", limit: 1000 },
        baseline: { label: `${b}: spawn -> first list`, value: med(empty, (s) => s.listedMs) },
        digits: 0,
      },
      {
        name: "spawn -> listening",
        value: med(restarts, (s) => s.listeningMs),
        unit: "ms",
        baseline: { label: b, value: med(empty, (s) => s.listeningMs) },
        digits: 0,
      },
      {
        name: "listening -> list shows all runners",
        value: med(restarts, (s) => s.listedMs - s.listeningMs),
        unit: "ms",
        baseline: { label: b, value: med(empty, (s) => s.listedMs - s.listeningMs) },
        digits: 0,
      },
      {
        name: "geppetto --version: start the command line, print, exit",
        value: median(imports),
        unit: "ms",
        baseline: { label: "node -e '' (start, exit)", value: median(bareNode) },
        digits: 0,
      },
    ],
    details: {
      bareNodeMs: bareNode,
      versionMs: imports,
      restarts: restarts.map((s) => ({ ...s })),
      empty: empty.map((s) => ({ ...s })),
    },
    notes: [],
  }
}
