import { Context } from "effect"
import { runnerEnvironment } from "./domain/runner-environment.js"

/** One reply from the tmux control client, for a caller's metrics (see `onTmuxCommand`). */
export interface TmuxCommandObservation {
  /** The first tmux command of the line (`send-keys`, `capture-pane`, ...); never user data. */
  readonly command: string
  /** Commands chained on the line (`;`), all answered before the line counts as done. */
  readonly commands: number
  /** From writing the line to tmux to its last `%end`/`%error` (or the connection failing). */
  readonly durationMs: number
  readonly ok: boolean
}

/** Settings of the runner domain; the server fills them from flags, env and config. */
export interface RunnerConfigShape {
  /** Root of everything we write: `runners/ID/` folders with logs and exit files. */
  readonly dataDir: string
  /** tmux `-L` socket name; `undefined` means tmux's default server. */
  readonly tmuxSocket: string | undefined
  /** Size of one log segment in bytes (default 100 MB). */
  readonly segmentBytes: number
  /** Per-log cap on kept bytes; the oldest whole segments past it are deleted. */
  readonly retainBytes: number
  /** Silence after which a process counts as idle (default 2 s). */
  readonly idleThresholdMs: number
  /** Output must keep coming for this long before an idle process counts as active again. */
  readonly activeConfirmMs: number
  /** Wait between the steps of `terminate` (C-c, SIGTERM, kill-session). */
  readonly terminateGraceMs: number
  /**
   * The base environment of every pane the monitor spawns; a spawn's own `env` goes on top. It is
   * the pane's whole environment: tmux's global environment adds nothing (see `createSession`).
   */
  readonly environment: Readonly<Record<string, string>>
  /**
   * Called after each command line the control client sends, for latency metrics; the server
   * feeds its own histogram (the runner package knows nothing of Prometheus). Must not throw.
   */
  readonly onTmuxCommand?: (observation: TmuxCommandObservation) => void
  /**
   * Live runners found at start-up are listed at once and watched again once this settles
   * (resolved or rejected); until then a call about one of them waits, as it does while it is
   * being attached. The server settles it once it listens, so that its first answers do not
   * queue behind 100 reattachments on a busy loop. Undefined: watched again at once.
   */
  readonly reattachAfter?: PromiseLike<unknown>
}

export class RunnerConfig extends Context.Tag("geppetto/RunnerConfig")<
  RunnerConfig,
  RunnerConfigShape
>() {}

export const defaultRunnerConfig = (
  dataDir: string,
  overrides: Partial<RunnerConfigShape> = {},
): RunnerConfigShape => ({
  dataDir,
  tmuxSocket: undefined,
  segmentBytes: 100 * 1024 * 1024,
  retainBytes: 1024 * 1024 * 1024,
  idleThresholdMs: 2_000,
  activeConfirmMs: 300,
  terminateGraceMs: 2_000,
  environment: runnerEnvironment(process.env),
  ...overrides,
})
