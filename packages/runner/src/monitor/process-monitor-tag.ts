import { Context } from "effect"
import type { ProcessMonitorPort } from "../ports.js"

/** The process monitor in use: tmux-backed (`TmuxProcessMonitorLive`), or an in-memory one in unit tests. */
export class ProcessMonitorTag extends Context.Tag("geppetto/ProcessMonitor")<
  ProcessMonitorTag,
  ProcessMonitorPort
>() {}
