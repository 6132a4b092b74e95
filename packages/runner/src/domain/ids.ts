import { randomBytes } from "node:crypto"
import { SAFE_ID_PATTERN } from "@geppetto/protocol"
import { Brand, Effect } from "effect"
import { ValidationError } from "./errors.js"

/** A process or runner id: also a folder name under the data dir and part of URLs. */
export type ProcessId = string & Brand.Brand<"ProcessId">
export const ProcessId = Brand.nominal<ProcessId>()

/** A tmux session name we may target or create: never contains `.` or `:` (tmux rewrites them). */
export type SessionName = string & Brand.Brand<"SessionName">
export const SessionName = Brand.nominal<SessionName>()

/** A tmux pane id such as `%3`. */
export type PaneId = string & Brand.Brand<"PaneId">
export const PaneId = Brand.nominal<PaneId>()

const SESSION_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/
const PANE_ID_PATTERN = /^%[0-9]{1,9}$/

export const decodeProcessId = (value: string, field = "id") =>
  SAFE_ID_PATTERN.test(value) && value !== "." && value !== ".."
    ? Effect.succeed(ProcessId(value))
    : Effect.fail(
        new ValidationError({
          field,
          message: `${field} ${JSON.stringify(value.slice(0, 80))} must match [A-Za-z0-9_.-]{1,64} and not start with '.' or '-'`,
        }),
      )

export const decodeSessionName = (value: string, field = "sessionName") =>
  SESSION_NAME_PATTERN.test(value)
    ? Effect.succeed(SessionName(value))
    : Effect.fail(
        new ValidationError({
          field,
          message: `${field} ${JSON.stringify(value.slice(0, 80))} must match [A-Za-z0-9_-]{1,64} and not start with '-'`,
        }),
      )

export const isPaneId = (value: string): value is PaneId => PANE_ID_PATTERN.test(value)

/** A fresh URL-safe id with a readable prefix, e.g. `run-k3v9x2m1q0`. */
export const generateProcessId = (prefix = "run"): ProcessId =>
  ProcessId(
    `${prefix}-${randomBytes(8)
      .toString("base64url")
      .replace(/[^A-Za-z0-9]/g, "x")
      .toLowerCase()}`,
  )
