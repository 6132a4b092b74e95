import type { RunnerDetail as WireRunnerDetail } from "@geppetto/protocol"
import type {
  AiRunnerPort,
  AuditLog,
  ProviderListing,
  RunnerDetail,
  Schedules,
  Transcripts,
} from "@geppetto/runner"
import type { Effect, ManagedRuntime } from "effect"
import type { FlowLimits, FlowState } from "../terminal/flow.js"
import type { TerminalTarget } from "../terminal/terminal-session.js"

/** What the API routes need from the runner domain. */
export interface ApiContext {
  /** The runner domain, its audit trail and its schedules (`AiRunnerLive`). */
  readonly runtime: ManagedRuntime.ManagedRuntime<
    AiRunnerPort | AuditLog | Schedules | Transcripts,
    unknown
  >
  readonly providers: { readonly list: Effect.Effect<ReadonlyArray<ProviderListing>> }
  /** The tmux server the runners live on (`-L` name); `undefined` is tmux's default server. */
  readonly tmuxSocket: string | undefined
  /**
   * Terminal sockets' flow bounds (default `defaultFlowLimits`) and a look at each viewer's
   * `FlowState` as it is created: for tests that check a stuck viewer stays bounded.
   */
  readonly terminal?: {
    readonly limits?: FlowLimits
    readonly onFlow?: (flow: FlowState, target: TerminalTarget) => void
  }
}

/**
 * The contract's `GET /api/runners/:id` shape from the registry's view. `tmuxSocket` is the
 * server's own (`ApiContext.tmuxSocket`): every runner lives on that one tmux server.
 */
export const toWireDetail = (
  detail: RunnerDetail,
  tmuxSocket: string | undefined,
): WireRunnerDetail => ({
  ...detail.runner,
  metrics: detail.metrics,
  session: {
    name: detail.session?.name ?? detail.runner.name,
    socket: tmuxSocket ?? null,
    attachCommand: detail.attachCommand,
    panes: detail.session?.panes.map((p) => ({ id: p.id, cols: p.cols, rows: p.rows })) ?? [],
  },
  ...(detail.answers !== undefined
    ? { answers: detail.answers.map((a) => ({ label: a.label, keys: a.keys })) }
    : {}),
})
