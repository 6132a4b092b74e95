/**
 * scale: many chatty runners with watchers and viewers attached. One server; first
 * `baselineRunners` runners (the baseline), then up to `runners`, with the same watchers and
 * viewers at both levels. At each level: server CPU and RSS over a window, the tmux server's
 * and the log writers' CPU, `/api/events` latency (pause/resume → every watcher has the
 * change) and `GET /api/runners` latency.
 */
import { summarize } from "../../../packages/runner/bench/stats.js"
import {
  api,
  closeAll,
  cpuMsOf,
  getJson,
  log,
  metricsSample,
  openEvents,
  openTerminal,
  pidsMentioning,
  rssMb,
  serverCpu,
  sleep,
  spawnServer,
  startRunners,
  stopServerAndRunners,
  TOKEN,
  tmuxPid,
  within,
} from "./harness.js"
import { monotonicUs } from "./profile.js"
import type { Json, ScenarioReport } from "./report.js"

export interface ScaleOptions {
  readonly runners: number
  readonly baselineRunners: number
  readonly watchers: number
  readonly viewers: number
  readonly windowS: number
  /** The CPU window at the baseline level (shorter: the figure there is small). */
  readonly baselineWindowS: number
  readonly listRequests: number
  /** Pause/resume changes timed per level (each seen by every watcher). */
  readonly changes: number
  /** New viewers timed per level (socket open -> snapshot). */
  readonly snapshots: number
  readonly nodeArgs?: ReadonlyArray<string>
}

export const scaleDefaults: ScaleOptions = {
  runners: 100,
  baselineRunners: 10,
  watchers: 20,
  viewers: 10,
  windowS: 30,
  baselineWindowS: 15,
  listRequests: 50,
  changes: 20,
  snapshots: 5,
}

export const scaleQuick: ScaleOptions = {
  runners: 20,
  baselineRunners: 5,
  watchers: 5,
  viewers: 3,
  windowS: 8,
  baselineWindowS: 5,
  listRequests: 20,
  changes: 6,
  snapshots: 4,
}

/** 10 lines a second, no fork per line (a `sleep` per line would load the machine itself). */
const chattyCommand = () => [
  "perl",
  "-e",
  `$| = 1; my $i = 0; while (1) { print "line ", ++$i, " of a chatty runner\\n"; select(undef, undef, undef, 0.1) }`,
]

interface Level {
  readonly runners: number
  /** The CPU window on the profile clock (see `monotonicUs`). */
  readonly windowUs: { readonly fromUs: number; readonly toUs: number }
  readonly cpuPct: number
  readonly rssMaxMb: number
  readonly rssEndMb: number
  readonly tmuxCpuPct: number
  readonly writersCpuPct: number
  readonly benchCpuPct: number
  readonly eventsPerWatcherPerS: number
  readonly eventKBPerWatcherPerS: number
  readonly viewerKBPerS: number
  readonly eventLatency: ReturnType<typeof summarize>
  /** Server's change timestamp -> watcher (the push path alone; ms resolution). */
  readonly deliveryLatency: ReturnType<typeof summarize>
  readonly eventMissing: number
  readonly postLatency: ReturnType<typeof summarize>
  readonly listLatency: ReturnType<typeof summarize>
  readonly listBytes: number
  readonly snapshotLatency: ReturnType<typeof summarize>
  /** Phases stopped early by their time budget. */
  readonly cutShort: ReadonlyArray<string>
  readonly memory: {
    readonly heapUsedMb: number
    readonly heapTotalMb: number
    readonly externalMb: number
    readonly rssMb: number
  }
}

interface Pending {
  readonly id: string
  readonly status: string
  readonly t0: number
  readonly seen: Set<number>
  readonly resolve: () => void
}

export const scaleScenario = async (options: ScaleOptions): Promise<ScenarioReport> => {
  const server = await spawnServer({
    label: "scale",
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  })
  const ids: string[] = []
  const startLatencies: number[] = []
  let pending: Pending | undefined
  const latencies: number[] = []
  const deliveries: number[] = []
  const counters = { events: 0, eventBytes: 0, viewerBytes: 0 }
  const sockets: Array<Awaited<ReturnType<typeof openEvents>>> = []
  try {
    /** Up to `to` runners, 4 starts at a time (not measured: the windows come after). */
    const grow = async (to: number) => {
      const first = ids.length
      const started = await startRunners(
        server,
        to - first,
        chattyCommand,
        (i) => `chatty-${first + i}`,
      )
      ids.push(...started.ids)
      startLatencies.push(...started.ms)
      if (started.error !== undefined) throw new Error(started.error)
    }
    await grow(options.baselineRunners)
    for (let w = 0; w < options.watchers; w++) {
      sockets.push(
        await openEvents(server, (message, at, bytes) => {
          counters.events++
          counters.eventBytes += bytes
          const p = pending
          // The change itself, stamped by the server (same machine, same wall clock).
          if (
            p !== undefined &&
            message.type === "event" &&
            message.event.type === "status" &&
            message.runnerId === p.id &&
            message.event.status === p.status &&
            message.event.timestamp !== undefined
          ) {
            deliveries.push(performance.timeOrigin + at - message.event.timestamp)
          }
          if (
            p !== undefined &&
            message.type === "runner" &&
            message.runner.id === p.id &&
            message.runner.status === p.status &&
            !p.seen.has(w)
          ) {
            p.seen.add(w)
            latencies.push(at - p.t0)
            if (p.seen.size === options.watchers) p.resolve()
          }
        }),
      )
    }
    // Viewers on different runners; the baseline level has them all too.
    for (let v = 0; v < Math.min(options.viewers, ids.length); v++) {
      const id = ids[v]
      if (id === undefined) continue
      let last = 0
      sockets.push(
        await openTerminal(server, id, (end) => {
          counters.viewerBytes += Math.max(0, end - last)
          last = end
        }),
      )
    }

    const measure = async (runners: number, windowS: number): Promise<Level> => {
      log(`  scale: ${runners} runners, settling 3 s ...`)
      await sleep(3_000)
      const tmux = tmuxPid(server.socket)
      const writers = pidsMentioning(server.dir).filter(
        (pid) => pid !== server.child.pid && pid !== tmux,
      )
      const c0 = { ...counters }
      const cpu0 = serverCpu(server)
      const tmux0 = cpuMsOf(tmux === undefined ? [] : [tmux])
      const writers0 = cpuMsOf(writers)
      const bench0 = process.cpuUsage()
      const t0 = performance.now()
      const fromUs = monotonicUs()
      const rss: number[] = []
      log(`  scale: ${runners} runners, ${windowS} s CPU window ...`)
      while (performance.now() - t0 < windowS * 1000) {
        await sleep(1_000)
        rss.push(rssMb(server.child.pid))
      }
      const ms = performance.now() - t0
      const windowUs = { fromUs, toUs: monotonicUs() }
      const pct = (cpuMs: number) => (cpuMs / ms) * 100
      const bench = process.cpuUsage(bench0)
      const cpuPct = pct(serverCpu(server) - cpu0)
      const tmuxCpuPct = pct(cpuMsOf(tmux === undefined ? [] : [tmux]) - tmux0)
      const writersCpuPct = pct(cpuMsOf(writers) - writers0)
      const perWatcherPerS = (n: number) => n / options.watchers / (ms / 1000)
      const inWindow = { ...counters }

      // Where the memory is (prom-client's process metrics, when the server has /metrics).
      const metrics = await metricsSample(server)
      const mb = (name: string) => (metrics[name] ?? Number.NaN) / 1024 / 1024
      const memory = {
        heapUsedMb: mb("nodejs_heap_size_used_bytes"),
        heapTotalMb: mb("nodejs_heap_size_total_bytes"),
        externalMb: mb("nodejs_external_memory_bytes"),
        rssMb: mb("process_resident_memory_bytes"),
      }

      // Each phase below has a time budget: on an overloaded machine a phase is cut short
      // (and says so) rather than stretching the bench to many minutes.
      const cutShort: string[] = []
      const budget = (phase: string, seconds: number) => {
        const end = performance.now() + seconds * 1000
        return () => {
          if (performance.now() < end) return false
          cutShort.push(`${phase} (${seconds} s budget)`)
          return true
        }
      }

      // List latency: sequential GETs, as a dashboard reload or a script would do.
      const list: number[] = []
      let listBytes = 0
      const listOver = budget("list GETs", 30)
      for (let i = 0; i < options.listRequests && !listOver(); i++) {
        const t = performance.now()
        const response = await fetch(`${server.url}/api/runners`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
        const body = await response.arrayBuffer()
        list.push(performance.now() - t)
        listBytes = body.byteLength
        await sleep(20)
      }

      // A new viewer: socket opened -> snapshot received, on runners nobody views yet.
      const snapshots: number[] = []
      const snapshotsOver = budget("new viewers", 45)
      for (let i = 0; i < Math.min(options.snapshots, ids.length) && !snapshotsOver(); i++) {
        const id = ids[Math.floor(ids.length / 2) + (i % Math.ceil(ids.length / 2))]
        if (id === undefined) continue
        const t = performance.now()
        const ws = await within(
          30_000,
          "snapshot",
          openTerminal(server, id, () => {}),
        ).catch(() => undefined)
        if (ws === undefined) {
          cutShort.push("new viewers (a snapshot took over 30 s)")
          break
        }
        snapshots.push(performance.now() - t)
        await closeAll([ws])
      }

      // Event latency: pause then resume runners past the viewed ones; every watcher must
      // see each change. t0 is just before the POST is sent.
      latencies.length = 0
      deliveries.length = 0
      const posts: number[] = []
      let missing = 0
      const changesOver = budget("pause/resume changes", 60)
      for (let k = 0; k < options.changes && !changesOver(); k++) {
        const id = ids[ids.length - 1 - (Math.floor(k / 2) % ids.length)]
        if (id === undefined) continue
        const action = k % 2 === 0 ? "pause" : "resume"
        const status = action === "pause" ? "paused" : "running"
        let resolve: () => void = () => {}
        const all = new Promise<void>((r) => {
          resolve = r
        })
        const p: Pending = { id, status, t0: performance.now(), seen: new Set(), resolve }
        pending = p
        const answered = await within(
          20_000,
          action,
          api(server, "POST", `/api/runners/${id}/${action}`),
        ).then(
          () => true,
          () => false,
        )
        if (!answered) {
          pending = undefined
          cutShort.push(`pause/resume changes (a ${action} took over 20 s)`)
          break
        }
        posts.push(performance.now() - p.t0)
        await within(10_000, `${action} seen by every watcher`, all).catch(() => {
          missing += options.watchers - p.seen.size
        })
        pending = undefined
        await sleep(100)
      }
      return {
        runners,
        windowUs,
        cpuPct,
        rssMaxMb: Math.max(...rss),
        rssEndMb: rss[rss.length - 1] ?? Number.NaN,
        tmuxCpuPct,
        writersCpuPct,
        benchCpuPct: ((bench.user + bench.system) / 1000 / ms) * 100,
        eventsPerWatcherPerS: perWatcherPerS(inWindow.events - c0.events),
        eventKBPerWatcherPerS: perWatcherPerS(inWindow.eventBytes - c0.eventBytes) / 1024,
        viewerKBPerS: (inWindow.viewerBytes - c0.viewerBytes) / 1024 / (ms / 1000),
        eventLatency: summarize(latencies),
        deliveryLatency: summarize(deliveries),
        eventMissing: missing,
        postLatency: summarize(posts),
        listLatency: summarize(list),
        listBytes,
        snapshotLatency: summarize(snapshots),
        memory,
        cutShort,
      }
    }

    const levelJson = (l: Level): Json => ({
      ...l,
      windowUs: { ...l.windowUs },
      eventLatency: { ...l.eventLatency },
      deliveryLatency: { ...l.deliveryLatency },
      postLatency: { ...l.postLatency },
      listLatency: { ...l.listLatency },
      snapshotLatency: { ...l.snapshotLatency },
      memory: { ...l.memory },
      cutShort: [...l.cutShort],
    })
    const base = await measure(ids.length, options.baselineWindowS)
    log(`  scale: starting ${options.runners - ids.length} more runners ...`)
    // A server that stops answering while runners are added is a result, not a crash.
    const growError = await grow(options.runners).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    )
    if (growError !== undefined) {
      const b = `${base.runners} runners`
      return {
        scenario: "scale",
        title: `the server stopped answering after ${ids.length} of ${options.runners} runners`,
        setup: `one server; baseline level ${base.runners} runners (figures below), then runners added 4 at a time until ${growError}`,
        figures: [
          {
            name: "runners started before the server stopped answering",
            value: ids.length,
            unit: "",
            target: { op: ">=", limit: options.runners },
            digits: 0,
          },
          {
            name: `server CPU (% of one core), ${b}`,
            value: base.cpuPct,
            unit: "%",
          },
          { name: `server RSS, ${b}`, value: base.rssMaxMb, unit: "MB", digits: 0 },
          {
            name: `/api/events: status change -> every watcher, p99, ${b}`,
            value: base.deliveryLatency.p99,
            unit: "ms",
          },
          { name: `GET /api/runners p99, ${b}`, value: base.listLatency.p99, unit: "ms" },
        ],
        details: { baseline: levelJson(base), startedBeforeFailure: ids.length, error: growError },
        notes: [`adding runners failed: ${growError}`],
      }
    }
    const listed = await getJson<ReadonlyArray<{ status: string }>>(server, "/api/runners")
    const full = await measure(ids.length, options.windowS)
    const running = listed.filter((r) => r.status === "running").length
    const b = `${base.runners} runners`
    return {
      scenario: "scale",
      title: `${full.runners} runners at 10 lines/s, ${options.watchers} event watchers, ${options.viewers} terminal viewers`,
      setup: `one server; baseline level ${base.runners} runners, then ${full.runners}; CPU window ${options.baselineWindowS} s at the baseline level, ${options.windowS} s at full; ${options.listRequests} list GETs; ${options.changes} pause/resume changes x ${options.watchers} watchers`,
      figures: [
        {
          name: "server CPU (% of one core)",
          value: full.cpuPct,
          unit: "%",
          target: { op: "<", limit: 25 },
          baseline: { label: b, value: base.cpuPct },
        },
        {
          name: "server RSS (max in window)",
          value: full.rssMaxMb,
          unit: "MB",
          target: { op: "<", limit: 250 },
          baseline: { label: b, value: base.rssMaxMb },
          digits: 0,
        },
        {
          name: "/api/events: status change -> every watcher, p99",
          value: full.deliveryLatency.p99,
          unit: "ms",
          target: { op: "<", limit: 100 },
          baseline: { label: b, value: base.deliveryLatency.p99 },
        },
        {
          name: "/api/events: status change -> every watcher, p50",
          value: full.deliveryLatency.p50,
          unit: "ms",
          baseline: { label: b, value: base.deliveryLatency.p50 },
        },
        {
          name: "/api/events: POST pause/resume sent -> every watcher, p99",
          value: full.eventLatency.p99,
          unit: "ms",
          target: { op: "<", limit: 100 },
          baseline: { label: b, value: base.eventLatency.p99 },
        },
        {
          name: "/api/events: POST pause/resume sent -> every watcher, p50",
          value: full.eventLatency.p50,
          unit: "ms",
          baseline: { label: b, value: base.eventLatency.p50 },
        },
        {
          name: "POST pause/resume response, p50",
          value: full.postLatency.p50,
          unit: "ms",
          baseline: { label: b, value: base.postLatency.p50 },
        },
        {
          name: "GET /api/runners p99",
          value: full.listLatency.p99,
          unit: "ms",
          target: { op: "<", limit: 50 },
          baseline: { label: b, value: base.listLatency.p99 },
        },
        {
          name: "GET /api/runners p50",
          value: full.listLatency.p50,
          unit: "ms",
          baseline: { label: b, value: base.listLatency.p50 },
        },
        {
          name: "V8 heap used (at the end of the window)",
          value: full.memory.heapUsedMb,
          unit: "MB",
          baseline: { label: b, value: base.memory.heapUsedMb },
          digits: 0,
        },
        {
          name: "new viewer: socket open -> snapshot p50",
          value: full.snapshotLatency.p50,
          unit: "ms",
          baseline: { label: b, value: base.snapshotLatency.p50 },
        },
        {
          name: "tmux server CPU (% of one core)",
          value: full.tmuxCpuPct,
          unit: "%",
          baseline: { label: b, value: base.tmuxCpuPct },
        },
        {
          name: "log writers CPU (all, % of one core)",
          value: full.writersCpuPct,
          unit: "%",
          baseline: { label: b, value: base.writersCpuPct },
        },
        {
          name: "events per watcher per second",
          value: full.eventsPerWatcherPerS,
          unit: "/s",
          baseline: { label: b, value: base.eventsPerWatcherPerS },
        },
        {
          name: "POST /api/runners p50 (4 starts at a time)",
          value: summarize(startLatencies).p50,
          unit: "ms",
        },
      ],
      details: {
        baseline: levelJson(base),
        full: levelJson(full),
        runningAtFull: running,
        startLatency: { ...summarize(startLatencies) },
      },
      notes: [
        ...(full.eventMissing + base.eventMissing > 0
          ? [`${full.eventMissing + base.eventMissing} watcher deliveries never arrived (10 s)`]
          : []),
        ...[base, full].flatMap((l) =>
          l.cutShort.length > 0
            ? [`at ${l.runners} runners, cut short: ${l.cutShort.join("; ")}`]
            : [],
        ),
        `bench process CPU (${options.watchers} watchers parsing JSON, ${options.viewers} viewers) ${full.benchCpuPct.toFixed(1)} % of one core at ${full.runners} runners`,
      ],
    }
  } finally {
    await closeAll(sockets)
    await stopServerAndRunners(server)
  }
}
