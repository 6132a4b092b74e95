import type { RunnerUsage } from "@geppetto/protocol"
import { AiRunnerPort } from "@geppetto/runner"
import { Cause, Effect, Fiber, type ManagedRuntime, Option, Queue } from "effect"
import type { FastifyInstance } from "fastify"
import { Counter, type Registry } from "prom-client"

/** Changes taken off the feed at once. */
const BATCH = 512

const KINDS = [
  ["input", "inputTokens"],
  ["output", "outputTokens"],
  ["cacheRead", "cacheReadTokens"],
  ["cacheWrite", "cacheWriteTokens"],
] as const

type Labels = { readonly provider: string; readonly account: string }

/**
 * Agent tokens and cost as Prometheus counters, by provider and account (`""` for none), fed
 * from the runner change feed: each runner's usage is counted by what it grew since this
 * process last saw it, so a message counts once however often its runner is pushed, and the
 * history a runner brings in at start (the journal's figure) is the starting point, not news.
 * A restart resets the counters, as Prometheus expects; growth made while the server was down
 * is counted when the transcript is caught up after it.
 */
export class UsageCounters {
  readonly tokens: Counter<"provider" | "account" | "kind">
  readonly cost: Counter<"provider" | "account">
  /** The usage last counted, by runner; forgotten when a runner is removed. */
  private readonly seen = new Map<string, { labels: Labels; usage: RunnerUsage }>()

  constructor(registry: Registry) {
    const registers = [registry]
    this.tokens = new Counter({
      name: "geppetto_agent_tokens_total",
      help: "Tokens agents used (read from their session files), by provider, account and kind (input, output, cacheRead, cacheWrite)",
      labelNames: ["provider", "account", "kind"] as const,
      registers,
    })
    this.cost = new Counter({
      name: "geppetto_agent_cost_usd_total",
      help: "What agents' tokens cost in USD (by the price table; models without a price add nothing), by provider and account",
      labelNames: ["provider", "account"] as const,
      registers,
    })
  }

  /** A runner's usage now: as a starting point (`baseline`) or counted by its growth. */
  observe(id: string, labels: Labels, usage: RunnerUsage | undefined, baseline: boolean): void {
    const before = this.seen.get(id)
    const now = usage ?? zero
    this.seen.set(id, { labels, usage: now })
    if (before === undefined && baseline) return
    const last = before?.usage ?? zero
    for (const [kind, field] of KINDS) {
      const grown = now[field] - last[field]
      if (grown > 0) this.tokens.inc({ ...labels, kind }, grown)
    }
    // The priced part's cost: tokens of a model with no price add to `unpricedTokens` only.
    if (now.costUsd !== undefined) {
      const grown = now.costUsd - (last.costUsd ?? 0)
      if (grown > 0) this.cost.inc(labels, grown)
    }
  }

  forget(id: string): void {
    this.seen.delete(id)
  }

  knows(id: string): boolean {
    return this.seen.has(id)
  }

  labelsOf(id: string): Labels | undefined {
    return this.seen.get(id)?.labels
  }
}

const zero: RunnerUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
}

type RunnerRuntime = ManagedRuntime.ManagedRuntime<AiRunnerPort, unknown>

/** Follows the runner feed into `counters` until the app closes. */
export const followUsage = (
  app: FastifyInstance,
  counters: UsageCounters,
  runtime: RunnerRuntime,
): void => {
  const watch = Effect.gen(function* () {
    const registry = yield* AiRunnerPort
    /** The account never changes: asked once per runner, when first seen. */
    const labelsOf = (id: string, provider: string) =>
      Effect.gen(function* () {
        const known = counters.labelsOf(id)
        if (known !== undefined) return Option.some(known)
        const detail = yield* Effect.option(registry.getRunner(id))
        return Option.map(detail, (d) => ({ provider, account: d.accountId ?? "" }))
      })
    const { runners, seq, queue } = yield* registry.subscribe
    for (const r of runners) {
      const labels = yield* labelsOf(r.id, r.provider)
      if (Option.isSome(labels)) counters.observe(r.id, labels.value, r.usage, true)
    }
    let last = seq
    for (;;) {
      const batch = yield* Queue.takeBetween(queue, 1, BATCH)
      for (const event of batch) {
        const gap = event.seq > last + 1
        last = event.seq
        if (gap) {
          // The feed slid past changes: the list says where every runner is; one not known
          // yet started meanwhile, in this process, so all its usage is news.
          for (const r of yield* registry.listRunners) {
            const labels = yield* labelsOf(r.id, r.provider)
            if (Option.isSome(labels)) counters.observe(r.id, labels.value, r.usage, false)
          }
          continue
        }
        if (event.type === "runner") {
          const r = event.runner
          if (r.usage === undefined && counters.knows(r.id)) continue
          const labels = yield* labelsOf(r.id, r.provider)
          if (Option.isSome(labels)) counters.observe(r.id, labels.value, r.usage, false)
        } else if (event.type === "removed") counters.forget(event.runnerId)
      }
    }
  }).pipe(Effect.scoped)
  const fiber = runtime.runFork(
    watch.pipe(
      Effect.catchAllCause((cause) =>
        Effect.sync(() =>
          app.log.error({ cause: Cause.pretty(cause) }, "usage counters stopped following runners"),
        ),
      ),
    ),
  )
  app.addHook("onClose", async () => {
    // Interrupting needs no service: run outside the domain runtime, which may be disposed first.
    await Effect.runPromise(Fiber.interrupt(fiber))
  })
}
