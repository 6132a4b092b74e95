import { AiRunnerPort, type TmuxCommandObservation } from "@geppetto/runner"
import { Effect, type ManagedRuntime } from "effect"
import type { FastifyInstance } from "fastify"
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client"
import { followUsage, UsageCounters } from "./usage-counters.js"

/** Sub-millisecond to seconds: a tmux reply or a socket write is usually well under 5 ms. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
/** Runners whose log folders are looked at at once during a scrape. */
const LOG_BOUNDS_CONCURRENCY = 4
/** tmux command names are ours, but a label value is kept to that shape all the same. */
const TMUX_COMMAND = /^[a-z][a-z-]{0,31}$/

/**
 * The server's Prometheus metrics, one set per app (its own `Registry`, so two apps in one
 * process never clash). Counters and histograms are fed where things happen; runner gauges
 * are read from the registry at scrape time (`registerMetricsRoute`), with no timer.
 */
export interface ServerMetrics {
  readonly registry: Registry
  /** Output bytes sent to terminal viewers in binary frames (the 8-byte offsets not counted). */
  readonly terminalOutputBytes: Counter
  /** Terminal sockets open now, by role. */
  readonly terminalViewers: Gauge<"role">
  /** `/api/events` sockets open now. */
  readonly eventWatchers: Gauge
  /** From a change taken off the registry feed to its message written to the watcher's socket. */
  readonly eventDelivery: Histogram<"type">
  readonly tmuxCommands: Histogram<"command" | "outcome">
  /** For `RunnerConfigShape.onTmuxCommand`: usable before the app (and its runtime) exist. */
  readonly observeTmuxCommand: (observation: TmuxCommandObservation) => void
}

export const createServerMetrics = (): ServerMetrics => {
  const registry = new Registry()
  const registers = [registry]
  const tmuxCommands = new Histogram({
    name: "geppetto_tmux_command_duration_seconds",
    help: "tmux control-mode command lines, from write to reply, by first command and outcome",
    labelNames: ["command", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  return {
    registry,
    terminalOutputBytes: new Counter({
      name: "geppetto_terminal_output_bytes_total",
      help: "Runner output bytes sent to terminal viewers",
      registers,
    }),
    terminalViewers: new Gauge({
      name: "geppetto_terminal_viewers",
      help: "Terminal WebSockets open now, by role",
      labelNames: ["role"] as const,
      registers,
    }),
    eventWatchers: new Gauge({
      name: "geppetto_event_watchers",
      help: "/api/events WebSockets open now",
      registers,
    }),
    eventDelivery: new Histogram({
      name: "geppetto_event_delivery_seconds",
      help: "Runner change taken from the registry feed until written to an /api/events socket",
      labelNames: ["type"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    tmuxCommands,
    observeTmuxCommand: (o) =>
      tmuxCommands.observe(
        {
          command: TMUX_COMMAND.test(o.command) ? o.command : "other",
          outcome: o.ok ? "ok" : "error",
        },
        o.durationMs / 1000,
      ),
  }
}

/**
 * Process memory, CPU, GC and event-loop lag, once per process. Per app they would not clash
 * (each app has its own registry) but would leak: prom-client enables an event-loop delay
 * monitor and a GC observer per call and never stops them, and tests build hundreds of apps.
 * They describe the process, not an app, so one copy is right, made with the first app.
 * The event-loop monitor samples every 100 ms, not prom-client's 10: its timer was the
 * server's only wake-up when idle (100 a second, most of a quiet server's CPU); a stall still
 * shows, to within 100 ms.
 */
const EVENT_LOOP_SAMPLE_MS = 100
let processRegistry: Registry | undefined
const processMetrics = (): Registry => {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({
      register: processRegistry,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    })
  }
  return processRegistry
}

type RunnerRuntime = ManagedRuntime.ManagedRuntime<AiRunnerPort, unknown>

/** The runner gauges, read from the registry on each scrape. */
const addRunnerGauges = (metrics: ServerMetrics, runtime: RunnerRuntime): void => {
  const registers = [metrics.registry]
  const list = () => runtime.runPromise(Effect.flatMap(AiRunnerPort, (r) => r.listRunners))
  const runners: Gauge<"status" | "provider"> = new Gauge({
    name: "geppetto_runners",
    help: "Runners known to the server (live and finished), by status and provider",
    labelNames: ["status", "provider"] as const,
    registers,
    collect: async () => {
      const counts = new Map<string, { status: string; provider: string; n: number }>()
      for (const r of await list()) {
        const key = `${r.status}\u0000${r.provider}`
        const entry = counts.get(key) ?? { status: r.status, provider: r.provider, n: 0 }
        entry.n++
        counts.set(key, entry)
      }
      // A combination with no runner left disappears rather than staying at its last count.
      runners.reset()
      for (const c of counts.values()) runners.set({ status: c.status, provider: c.provider }, c.n)
    },
  })
  const waiting: Gauge<"provider"> = new Gauge({
    name: "geppetto_runners_waiting_for_input",
    help: "Runners waiting for a person (a permission prompt, a question), by provider",
    labelNames: ["provider"] as const,
    registers,
    collect: async () => {
      const counts = new Map<string, number>()
      for (const r of await list()) {
        if (r.waitingForInput) counts.set(r.provider, (counts.get(r.provider) ?? 0) + 1)
      }
      waiting.reset()
      for (const [provider, n] of counts) waiting.set({ provider }, n)
    },
  })
  const logBytes: Gauge = new Gauge({
    name: "geppetto_log_bytes",
    help: "Output bytes kept in runners' log segments on disk (main panes), after retention",
    registers,
    collect: async () => {
      const total = await runtime.runPromise(
        Effect.flatMap(AiRunnerPort, (registry) =>
          Effect.flatMap(registry.listRunners, (list) =>
            Effect.forEach(
              list,
              (r) =>
                registry.logBounds(r.id).pipe(
                  Effect.map((b) => b.end - b.start),
                  // Removed between the list and the look: nothing of it is kept.
                  Effect.orElseSucceed(() => 0),
                ),
              { concurrency: LOG_BOUNDS_CONCURRENCY },
            ),
          ),
        ),
      )
      logBytes.set(total.reduce((a, b) => a + b, 0))
    },
  })
}

/**
 * `GET /metrics`: Prometheus text format, operators only (the runner list and volumes are
 * not for viewers). Runner gauges need the runner domain; without `runtime` only the
 * server's and the process's own metrics are served.
 */
export const registerMetricsRoute = (
  app: FastifyInstance,
  metrics: ServerMetrics,
  runtime: RunnerRuntime | undefined,
): void => {
  if (runtime !== undefined) {
    addRunnerGauges(metrics, runtime)
    followUsage(app, new UsageCounters(metrics.registry), runtime)
  }
  // From the start, so that lag and CPU cover the whole run, not just since the first scrape.
  const processes = processMetrics()
  app.get(
    "/metrics",
    // A scraper every few seconds would drown the request log.
    { config: { auth: "operator" }, logLevel: "warn" },
    async (_request, reply) => {
      const text = await Registry.merge([processes, metrics.registry]).metrics()
      return reply
        .header("content-type", metrics.registry.contentType)
        .header("cache-control", "no-store")
        .send(text)
    },
  )
}
