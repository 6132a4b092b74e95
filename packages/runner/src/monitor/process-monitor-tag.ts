import { Context } from "effect"
import type { ProcessMonitorPort } from "../ports.js"

/** The process monitor in use: tmux-backed, or the `basic` child-process adapter. */
export class ProcessMonitorTag extends Context.Tag("geppetto/ProcessMonitor")<
  ProcessMonitorTag,
  ProcessMonitorPort
>() {}
