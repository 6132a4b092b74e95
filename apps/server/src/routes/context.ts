import type { RunnerDetail as WireRunnerDetail } from "@geppetto/protocol"
import type { AiRunnerRegistry, ProviderListing, RunnerDetail } from "@geppetto/runner"
import type { Effect, ManagedRuntime } from "effect"

/** What the API routes need from the runner domain. */
export interface ApiContext {
  readonly runtime: ManagedRuntime.ManagedRuntime<AiRunnerRegistry, unknown>
  readonly providers: { readonly list: Effect.Effect<ReadonlyArray<ProviderListing>> }
}

/** The contract's `GET /api/runners/:id` shape from the registry's view. */
export const toWireDetail = (detail: RunnerDetail): WireRunnerDetail => ({
  ...detail.runner,
  metrics: detail.metrics,
  session: {
    name: detail.session?.name ?? detail.runner.name,
    attachCommand: detail.attachCommand,
    panes: detail.session?.panes.map((p) => ({ id: p.id, cols: p.cols, rows: p.rows })) ?? [],
  },
  ...(detail.answers !== undefined
    ? { answers: detail.answers.map((a) => ({ label: a.label, keys: a.keys })) }
    : {}),
})
