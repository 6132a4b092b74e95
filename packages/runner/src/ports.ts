import type { CommitResult, RunnerSummary, WorkspaceDiff } from "@geppetto/protocol"
import { Context, type Effect, type Queue, type Scope, type Stream } from "effect"
import type { Screen } from "./attention/evaluate.js"
import type { ScreenAnswer } from "./attention/rules.js"
import type {
  AiRunnerError,
  LogStoreError,
  NotFoundError,
  ProcessMonitorError,
  PromptChangedError,
  StorageError,
  TmuxSessionError,
  ValidationError,
} from "./domain/errors.js"
import type { ActivityState, ControlEvent, ProcessEvent } from "./domain/events.js"
import type { GitOperationError } from "./domain/git-errors.js"
import type { PaneId, ProcessId, SessionName } from "./domain/ids.js"
import type {
  RegistryEvent,
  RunnerDetail,
  StartRunnerOptions,
  StartRunnerRequest,
  UnmanagedSession,
} from "./domain/runner.js"
import type { LogFollower, LogSubscription } from "./logs/log-feed.js"
import type { LogBounds, LogChunk } from "./logs/log-store.js"
import type { TierLimitError } from "./providers/limits.js"
import type { WaitOptions } from "./runners/wait.js"
import type { RunnerSearchOptions } from "./search/registry-search.js"
import type { LogSearchEvent } from "./search/search-logs.js"
import type { TmuxStatus } from "./tmux/control-client.js"
import type { RunnerSnapshot } from "./tmux/pane-snapshot.js"
import type { TmuxVersion } from "./tmux/version.js"
import type { AgentSessionRef } from "./transcripts/agent-session.js"
import type { RunnerUsage } from "./transcripts/usage-tally.js"

/** Where a process lives in tmux, and how a person reaches it. */
export interface TmuxSessionInfo {
  readonly name: string
  readonly sessionId: string
  readonly windowId: string
  readonly paneId: PaneId
  readonly panes: ReadonlyArray<PaneSummary>
  /** e.g. `tmux -L geppetto attach -t =NAME` */
  readonly attachCommand: string
}

export interface PaneSummary {
  readonly id: PaneId
  readonly cols: number
  readonly rows: number
}

export interface ProcessMonitorOptions {
  /** Our id for the process; also its folder under the data dir. */
  readonly processId: ProcessId
  /** tmux session name to create (spawn) or adopt (monitorExisting). */
  readonly sessionName?: SessionName
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  readonly cols?: number
  readonly rows?: number
  /** Extra `@geppetto-*` session options (keys without the prefix). */
  readonly metadata?: Readonly<Record<string, string>>
}

/** A live handle on a monitored process. Closing its scope stops watching, never the process. */
export interface ProcessMonitorHandle {
  readonly processId: ProcessId
  readonly sessionInfo: TmuxSessionInfo | undefined
  /**
   * Every event in order, output included, from the oldest byte still logged; ends after
   * `exit`. Each run is an independent, pull-driven reader: a slow consumer slows only itself.
   */
  readonly events: Stream.Stream<ProcessEvent, ProcessMonitorError>
  /** The same, from an absolute output offset. */
  readonly eventsFrom: (offset: number) => Stream.Stream<ProcessEvent, ProcessMonitorError>
  /** Every event but output (activity, error, log gaps, exit), from an offset; ends after `exit`. */
  readonly controlEvents: (offset: number) => Stream.Stream<ControlEvent>
  /** Raw output from an absolute offset, following new bytes (never ends by itself). */
  readonly output: (offset: number, paneId?: PaneId) => Stream.Stream<LogChunk, LogStoreError>
  /**
   * The same bytes handed to a callback as they are logged (see `followLogChunks`): one read
   * of the log however many follow it, and no fiber per chunk. The hot path for the
   * registry, the attention detector and terminal viewers.
   */
  readonly followOutput: (
    offset: number,
    follower: LogFollower,
    paneId?: PaneId,
  ) => Effect.Effect<LogSubscription, LogStoreError, Scope.Scope>
  readonly logBounds: Effect.Effect<LogBounds, LogStoreError>
  readonly getActivityState: Effect.Effect<ActivityState>
  /** Resolves with the exit event once the process has ended. */
  readonly awaitExit: Effect.Effect<Extract<ProcessEvent, { _tag: "exit" }>>
  /** Exact bytes to the process's input (tmux `send-keys -H`), or to another pane of its session. */
  readonly write: (data: Uint8Array, paneId?: PaneId) => Effect.Effect<void, ProcessMonitorError>
  /**
   * `write` from plain code, for the keystroke path: written to tmux before it returns true,
   * `done` called once tmux answered. False, with nothing written, when it cannot be done at
   * once (no live tmux connection, a pane it does not know yet): then use `write`.
   */
  readonly writeNow?: (
    data: Uint8Array,
    paneId: PaneId | undefined,
    done: (error: ProcessMonitorError | undefined) => void,
  ) => boolean
  /** C-c, then SIGTERM to the process group, then kill the session; each after a grace period. */
  readonly terminate: Effect.Effect<void, ProcessMonitorError>
  /** SIGSTOP to the command's process tree; fails when nothing runs that could be stopped. */
  readonly pause: Effect.Effect<void, ProcessMonitorError>
  /** SIGCONT to the command's process tree. */
  readonly resume: Effect.Effect<void, ProcessMonitorError>
  /** The main pane's visible rows and title, as the attention rules read them. */
  readonly captureScreen: Effect.Effect<Screen, ProcessMonitorError>
  /**
   * What a new viewer draws first, and the log offset it is true at (see `RunnerSnapshot`):
   * of the main pane, or of `paneId` of the session.
   */
  readonly snapshot: (paneId?: PaneId) => Effect.Effect<RunnerSnapshot, ProcessMonitorError>
  /** Resizes the main pane's window; viewers hear of it through `awaitResize`. */
  readonly resize: (cols: number, rows: number) => Effect.Effect<void, ProcessMonitorError>
  /** The session's panes and their sizes now (empty once the session is gone). */
  readonly panes: Effect.Effect<ReadonlyArray<PaneSummary>>
  /**
   * Waits for the next resize by anyone (our API, an attached tmux client) and gives the
   * session's panes then; a resize while nobody waits is kept for the next call. Never fails.
   * An effect, not a stream: the registry waits on it for every runner, and a fiber waiting
   * costs a few KB where a suspended stream reader costs some 25 KB (measured).
   */
  readonly awaitResize: Effect.Effect<ReadonlyArray<PaneSummary>>
  /** Ends the session of a process that has exited (nothing left to show that the log lacks). */
  readonly closeSession: Effect.Effect<void>
}

/** A pane of a listed session, as far as the runners care. */
export interface ListedPane {
  readonly paneId: PaneId
  readonly windowId: string
  readonly dead: boolean
  readonly active: boolean
  readonly currentCommand: string
  /** The pane's working folder (`#{pane_current_path}`); empty when unknown. */
  readonly currentPath: string
  /** The log folder our writer pipes this pane into, if it is ours. */
  readonly logDir: string | undefined
}

/** A session on the terminal server with its panes. */
export interface ListedSession extends TmuxSessionListing {
  readonly panes: ReadonlyArray<ListedPane>
}

/** How a person attaches a terminal to a runner's session. */
export interface AttachTarget {
  /** tmux `-L` socket name; `undefined` for tmux's default server. */
  readonly socket: string | undefined
  readonly session: string
  /** e.g. `tmux -L geppetto attach -t =NAME`, for display. */
  readonly command: string
}

/** Runs and watches processes (the seed's `ProcessMonitorPort`). */
export interface ProcessMonitorPort {
  readonly spawn: (
    command: string,
    args: ReadonlyArray<string>,
    options: ProcessMonitorOptions,
  ) => Effect.Effect<ProcessMonitorHandle, ProcessMonitorError | ValidationError, Scope.Scope>
  /**
   * Watches a session that already runs: one we started before a restart, or someone else's
   * (adopted). `options.metadata` is written to the session so a restart finds it again.
   */
  readonly monitorExisting: (
    sessionName: string,
    options: ProcessMonitorOptions,
  ) => Effect.Effect<ProcessMonitorHandle, ProcessMonitorError | ValidationError, Scope.Scope>
  /** Every session with its panes (ours carry `metadata.id`). */
  readonly listSessions: Effect.Effect<ReadonlyArray<ListedSession>, TmuxSessionError>
  readonly sessionExists: (name: string) => Effect.Effect<boolean, TmuxSessionError>
  /** How a process ended, as recorded in its folder while no one watched; `undefined` if not. */
  readonly recordedExit: (
    processId: ProcessId,
  ) => Effect.Effect<
    { readonly exitCode: number | null; readonly signal: string | null } | undefined
  >
  readonly attachTarget: (sessionName: string) => AttachTarget
  /** Whether the terminal server answers; never starts one. */
  readonly serverStatus: Effect.Effect<TmuxStatus>
  readonly serverVersion: Effect.Effect<TmuxVersion, TmuxSessionError>
}

/** A pane as tmux reports it. */
export interface PaneState {
  readonly paneId: PaneId
  readonly sessionId: string
  readonly sessionName: string
  readonly windowId: string
  readonly pid: number
  readonly dead: boolean
  readonly deadStatus: number | null
  readonly deadSignal: number | null
  readonly piped: boolean
  readonly cols: number
  readonly rows: number
  readonly currentCommand: string
  readonly active: boolean
  /** The log folder our writer pipes this pane into, if it is ours. */
  readonly logDir: string | undefined
  /** The pane's working folder (`#{pane_current_path}`); empty when unknown. */
  readonly currentPath: string
}

/** What `createSession` starts: argv never passes through a shell. */
export interface CreateSessionSpec {
  readonly name: string
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly cols: number
  readonly rows: number
  readonly metadata: Readonly<Record<string, string>>
  /** Folder the pane's writer logs into; also where the exit hook writes `exit`. */
  readonly logDir: string
  /** Shell command for `pipe-pane` (the segment writer). */
  readonly writerCommand: string
}

/** Sessions on the tmux server (the seed's `TmuxSessionManagerPort`). */
export interface TmuxSessionManagerPort {
  /** A detached session running `spec.argv`, logged and exit-hooked before it starts. */
  readonly createSession: (spec: CreateSessionSpec) => Effect.Effect<PaneState, TmuxSessionError>
  readonly listSessions: Effect.Effect<ReadonlyArray<TmuxSessionListing>, TmuxSessionError>
  readonly hasSession: (name: string) => Effect.Effect<boolean, TmuxSessionError>
  readonly killSession: (sessionId: string) => Effect.Effect<void, TmuxSessionError>
  readonly capturePane: (
    paneId: PaneId,
    options?: { readonly escapes?: boolean },
  ) => Effect.Effect<ReadonlyArray<string>, TmuxSessionError>
  readonly sendKeysHex: (paneId: PaneId, data: Uint8Array) => Effect.Effect<void, TmuxSessionError>
  /** `sendKeysHex` written at once from plain code (see `TmuxControlClient.writeNow`). */
  readonly sendKeysHexNow: (
    paneId: PaneId,
    data: Uint8Array,
    done: (error: TmuxSessionError | undefined) => void,
  ) => boolean
  readonly resizeWindow: (
    windowId: string,
    cols: number,
    rows: number,
  ) => Effect.Effect<void, TmuxSessionError>
}

export interface TmuxSessionListing {
  readonly sessionId: string
  readonly name: string
  readonly attached: boolean
  readonly windows: number
  readonly createdAt: number
  /** Our `@geppetto-*` options (without the prefix); empty for sessions we did not make. */
  readonly metadata: Readonly<Record<string, string>>
}

/** Rolling segment logs on disk (the seed's rolling logs); one folder per pane. */
export interface LogStorePort {
  readonly processDir: (processId: string) => string
  readonly ensureDir: (dir: string) => Effect.Effect<void, LogStoreError>
  /** `[start, end)`: the oldest byte still kept and the end of what is written. */
  readonly bounds: (dir: string) => Effect.Effect<LogBounds, LogStoreError>
  /** The shell command `pipe-pane` runs to append to this log (continues the offsets). */
  readonly writerCommand: (dir: string) => Effect.Effect<string, LogStoreError>
  /** Deletes the oldest whole segments past the retention cap; returns how many. */
  readonly prune: (dir: string) => Effect.Effect<number, LogStoreError>
  /** Follows the log from an offset; pull-driven, so each reader is bounded by itself. */
  readonly tail: (dir: string, from: number) => Stream.Stream<LogChunk, LogStoreError>
  readonly remove: (dir: string) => Effect.Effect<void, LogStoreError>
}

/** The runner list now, and every change after it (see `RegistryEvent.seq`). */
export interface RunnerChanges {
  readonly runners: ReadonlyArray<RunnerSummary>
  readonly seq: number
  readonly queue: Queue.Dequeue<RegistryEvent>
}

/** What starting a runner can fail with; each maps to one HTTP status in the server. */
export type StartRunnerError =
  | GitOperationError
  | ValidationError
  | TierLimitError
  | StorageError
  | AiRunnerError
  | ProcessMonitorError

/**
 * The runners (the seed's `AiRunnerPort`): start, watch, pause, stop, wait for and forget them.
 * The server depends on this tag alone; `AiRunnerRegistryLive` implements it over tmux, and
 * tests may build it over an in-memory `ProcessMonitorPort`.
 */
export interface AiRunner {
  /** `options` are the server's own (a schedule's run), never a client's. */
  readonly startRunner: (
    request: StartRunnerRequest,
    options?: StartRunnerOptions,
  ) => Effect.Effect<RunnerDetail, StartRunnerError>
  readonly getRunner: (id: string) => Effect.Effect<RunnerDetail, NotFoundError>
  readonly listRunners: Effect.Effect<ReadonlyArray<RunnerSummary>>
  /** Terminates a live runner, then forgets it and its logs. */
  readonly removeRunner: (id: string) => Effect.Effect<void, NotFoundError | AiRunnerError>
  readonly pauseRunner: (id: string) => Effect.Effect<RunnerDetail, NotFoundError | AiRunnerError>
  readonly resumeRunner: (id: string) => Effect.Effect<RunnerDetail, NotFoundError | AiRunnerError>
  /** C-c, then SIGTERM, then the session killed; resolves once the runner has ended. */
  readonly terminateRunner: (
    id: string,
  ) => Effect.Effect<RunnerDetail, NotFoundError | AiRunnerError>
  /**
   * Resolves once the runner reaches `options.for` (default `done`: it ended; `waiting`: it
   * waits for a person; `idle`: an agent back at its prompt), at once when it is there; a
   * runner that ends first resolves it with its final detail. Fails when it is removed.
   */
  readonly waitForCompletion: (
    id: string,
    options?: WaitOptions,
  ) => Effect.Effect<RunnerDetail, NotFoundError>
  /** Exact bytes as keys into the runner's main pane, or into `paneId` of its session. */
  readonly write: (
    id: string,
    data: Uint8Array,
    paneId?: PaneId,
  ) => Effect.Effect<void, ProcessMonitorError | NotFoundError | AiRunnerError>
  /**
   * `write` from plain code, for a terminal socket's keystrokes: the bytes are on their way to
   * tmux when it returns true, and `done` is called once tmux answered (with why it failed,
   * if it did). False, with nothing written, whenever the fast way does not apply (the runner
   * is not live, a pane not known yet, no tmux connection): then `write`, which says why.
   */
  readonly writeNow: (
    id: string,
    data: Uint8Array,
    paneId: PaneId | undefined,
    done: (error: ProcessMonitorError | undefined) => void,
  ) => boolean
  /**
   * Types the quick answer `label` of the prompt `attentionId`, only while the runner still
   * waits on that prompt and, for a prompt a screen rule found, one more capture still shows
   * it: a notification or a board left open may be old, and its keys must never answer a later
   * dialog. Resolves with the answer typed; `PromptChangedError` (nothing typed) otherwise.
   */
  readonly reply: (
    id: string,
    attentionId: string,
    label: string,
  ) => Effect.Effect<
    ScreenAnswer,
    PromptChangedError | ValidationError | ProcessMonitorError | NotFoundError | AiRunnerError
  >
  readonly resize: (
    id: string,
    cols: number,
    rows: number,
  ) => Effect.Effect<void, NotFoundError | AiRunnerError | ValidationError>
  /** The runner's output from `from`, following new bytes while it runs. */
  readonly output: (
    id: string,
    from: number,
    paneId?: PaneId,
  ) => Stream.Stream<LogChunk, NotFoundError | LogStoreError>
  /** The same bytes handed to `follower` as they are logged (see `followLogChunks`). */
  readonly follow: (
    id: string,
    from: number,
    follower: LogFollower,
    paneId?: PaneId,
  ) => Effect.Effect<LogSubscription, NotFoundError | LogStoreError, Scope.Scope>
  readonly logBounds: (
    id: string,
    paneId?: PaneId,
  ) => Effect.Effect<LogBounds, NotFoundError | LogStoreError>
  /**
   * A literal, case-insensitive search over every kept log byte of every runner (or one),
   * terminal escapes stripped: hits as found, then an `End` (limit reached, time budget out).
   */
  readonly searchLogs: (
    options: RunnerSearchOptions,
  ) => Stream.Stream<LogSearchEvent, NotFoundError>
  /** What a new viewer draws first, and the log offset it is true at. */
  readonly snapshot: (
    id: string,
    paneId?: PaneId,
  ) => Effect.Effect<RunnerSnapshot, NotFoundError | AiRunnerError>
  /** Sessions on the tmux server that are not runners (yet). */
  readonly unmanagedSessions: Effect.Effect<ReadonlyArray<UnmanagedSession>, TmuxSessionError>
  readonly adoptSession: (
    sessionName: string,
  ) => Effect.Effect<
    RunnerDetail,
    NotFoundError | ValidationError | StorageError | TmuxSessionError | ProcessMonitorError
  >
  /** The runner's workspace against its base commit (see `Workspaces.diff`); 404 without one. */
  readonly diff: (
    id: string,
    options?: { readonly stat?: boolean },
  ) => Effect.Effect<WorkspaceDiff, NotFoundError | GitOperationError>
  /** Stages and commits everything in the runner's workspace. */
  readonly commit: (
    id: string,
    message: string,
  ) => Effect.Effect<CommitResult, NotFoundError | ValidationError | GitOperationError>
  /** Merges the runner's branch into `into` (default: its base branch); refusals change nothing. */
  readonly merge: (
    id: string,
    options?: { readonly into?: string; readonly strategy?: "merge" | "squash" },
  ) => Effect.Effect<CommitResult, NotFoundError | ValidationError | GitOperationError>
  /** The git work tree a folder lies in (for the start form); `undefined` outside any. */
  readonly gitWorkTree: (
    cwd: string,
  ) => Effect.Effect<
    { readonly repo: string; readonly path: string; readonly branch: string } | undefined
  >
  /** Whether tmux answers; never starts a tmux server. */
  readonly tmuxStatus: Effect.Effect<TmuxStatus>
  readonly tmuxVersion: Effect.Effect<TmuxVersion, TmuxSessionError>
  /** The runner list now, and every change after it, until the scope closes. */
  readonly subscribe: Effect.Effect<RunnerChanges, never, Scope.Scope>
  /** Calls `listener` synchronously with each change of runner `id` until the scope closes. */
  readonly onRunnerEvent: (
    id: string,
    listener: (event: RegistryEvent) => void,
  ) => Effect.Effect<void, never, Scope.Scope>
  /** What is known of runner `id`'s agent session (its transcript is read from it). */
  readonly agentSession: (id: string) => Effect.Effect<AgentSessionInfo, NotFoundError>
  /** Records the usage read from runner `id`'s session file; pushed on the change feed. */
  readonly setUsage: (id: string, usage: RunnerUsage) => Effect.Effect<void, NotFoundError>
  /**
   * Records the session id an agent chose itself (Codex: its rollout's, once matched), so that
   * the runner can be resumed; an id already known is kept.
   */
  readonly setAgentSessionId: (id: string, sessionId: string) => Effect.Effect<void, NotFoundError>
}

/** A runner as its transcript reader needs it. */
export interface AgentSessionInfo {
  readonly id: string
  readonly provider: string
  readonly cwd: string
  readonly accountId: string | undefined
  readonly createdAt: number
  readonly live: boolean
  /** The runner whose session this one continues or forks (`StartRunnerRequest.resume`). */
  readonly parentId: string | undefined
  /** When it ended, if it has. */
  readonly endedAt: number | undefined
  readonly ref: AgentSessionRef | undefined
  readonly usage: RunnerUsage | undefined
}

export class AiRunnerPort extends Context.Tag("geppetto/AiRunnerPort")<AiRunnerPort, AiRunner>() {}
