import type { ProcessEvent as WireProcessEvent } from "@geppetto/protocol"
import type { ProcessMonitorError, TmuxSessionError } from "./errors.js"

export type OutputSource = "pty" | "stdout" | "stderr"
export type ActivityState = "active" | "idle"

/**
 * What a monitored process reports (the seed's `ProcessEvent`). Every event carries
 * `offset`: the number of output bytes logged before it, so output and state changes
 * interleave in one order for every subscriber.
 */
export type ProcessEvent =
  | {
      readonly _tag: "output"
      readonly source: OutputSource
      readonly offset: number
      readonly data: Uint8Array
      readonly timestamp: number
    }
  | {
      readonly _tag: "activity"
      readonly state: ActivityState
      readonly offset: number
      readonly timestamp: number
    }
  | {
      readonly _tag: "exit"
      /** `null` when the process was killed by a signal or vanished with its session. */
      readonly exitCode: number | null
      /** e.g. `SIGTERM`, or `null` for a normal exit. */
      readonly signal: string | null
      readonly offset: number
      readonly timestamp: number
    }
  | {
      readonly _tag: "error"
      /** `TmuxSessionError` when tmux itself failed (its server is gone). */
      readonly error: ProcessMonitorError | TmuxSessionError
      readonly offset: number
      readonly timestamp: number
    }
  | {
      /**
       * The log writer of a pane stopped while the pane ran and was started again: output
       * printed in between is not in the log, and how much is unknown. The log stays one run
       * of offsets: the new writer continues at `logOffset`, the end of what was logged.
       */
      readonly _tag: "log-gap"
      /** The pane whose log has the gap (a multi-pane session logs each pane apart). */
      readonly paneId: string
      /** Where in that pane's log the gap sits. */
      readonly logOffset: number
      readonly reason: string
      readonly offset: number
      readonly timestamp: number
    }

export type ControlEvent = Exclude<ProcessEvent, { _tag: "output" }>

/** The JSON form of an event, as `packages/protocol` defines it. */
export const toWireEvent = (event: ProcessEvent): WireProcessEvent => {
  switch (event._tag) {
    case "output":
      return {
        type: "output",
        timestamp: event.timestamp,
        source: event.source,
        offset: event.offset,
        data: Buffer.from(event.data).toString("base64"),
      }
    case "activity":
      return {
        type: "activity",
        timestamp: event.timestamp,
        state: event.state,
      }
    case "exit":
      return {
        type: "exit",
        timestamp: event.timestamp,
        exitCode: event.exitCode,
        signal: event.signal,
      }
    case "error":
      return {
        type: "error",
        timestamp: event.timestamp,
        error: { code: event.error._tag, message: event.error.message },
      }
    case "log-gap":
      return {
        type: "log-gap",
        timestamp: event.timestamp,
        pane: event.paneId,
        offset: event.logOffset,
        bytesLost: null,
        reason: event.reason,
      }
  }
}
