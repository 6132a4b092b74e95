import type { FastifyRequest, FastifyServerOptions } from "fastify"
import { z } from "zod"
import { ConfigError } from "../config.js"

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
export type LogLevel = z.infer<typeof LogLevel>

/** Where log lines go: one JSON line per `write` (pino's destination contract). */
export interface LogDestination {
  write(line: string): void
}

/** The server log: `level` (default `info`) and a destination (default stdout). */
export interface LoggerSetup {
  readonly level?: LogLevel
  readonly stream?: LogDestination
}

const REDACTED = "[redacted]"

/**
 * Credentials that could reach a log line: headers of a request or reply logged whole, or a
 * `token` field. Fastify's own request and reply lines carry none (see `requestSerializer`);
 * this catches whatever a future log call passes by mistake.
 */
const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  "token",
  "*.token",
]

const decodeKey = (key: string): string => {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "))
  } catch {
    return key
  }
}

/**
 * `url` with the value of every `token` query parameter replaced: the `?token=` of a
 * WebSocket URL or of the banner's login link must not land in a log. The query is read as
 * the router reads it (find-my-way): everything after the first `?` or `#`, so a `#` neither
 * hides a token (`/api/events#token=…` is one) nor ends its value. Keys are compared decoded,
 * as the query parser reads them (`%74oken=` is a `token` too).
 */
export const redactUrl = (url: string): string => {
  const marks = [url.indexOf("?", 1), url.indexOf("#", 1)].filter((i) => i !== -1)
  if (marks.length === 0) return url
  const q = Math.min(...marks)
  const redacted = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=")
      const key = eq === -1 ? pair : pair.slice(0, eq)
      return decodeKey(key).trim().toLowerCase() === "token" ? `${key}=${REDACTED}` : pair
    })
    .join("&")
  return `${url.slice(0, q + 1)}${redacted}`
}

/** Fastify's own request line, with the URL's token stripped (and no headers, as Fastify's). */
const requestSerializer = (request: FastifyRequest) => ({
  method: request.method,
  url: redactUrl(request.url),
  host: request.host,
  remoteAddress: request.ip,
  // `injectWS` and `inject` requests have no socket.
  ...(request.socket?.remotePort !== undefined ? { remotePort: request.socket.remotePort } : {}),
})

/** Fastify's `logger` option for `buildApp`'s: off, on (stdout, `info`), or set up. */
export const fastifyLogger = (
  setup: boolean | LoggerSetup | undefined,
): NonNullable<FastifyServerOptions["logger"]> => {
  if (setup === undefined || setup === false) return false
  const { level = "info", stream } = setup === true ? {} : setup
  return {
    level,
    serializers: { req: requestSerializer },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    ...(stream !== undefined ? { stream } : {}),
  }
}

/**
 * The log of `geppetto serve`: JSON lines on stdout, or pino-pretty's readable lines when
 * stdout is a terminal. `GEPPETTO_LOG_LEVEL` sets the level (default `info`).
 */
export const consoleLogger = async (env: NodeJS.ProcessEnv): Promise<LoggerSetup> => {
  const raw = env.GEPPETTO_LOG_LEVEL
  const parsed = LogLevel.safeParse(raw === undefined || raw === "" ? "info" : raw)
  if (!parsed.success) {
    throw new ConfigError(`GEPPETTO_LOG_LEVEL must be one of ${LogLevel.options.join(", ")}`)
  }
  const level = parsed.data
  if (process.stdout.isTTY !== true) return { level }
  // In this thread, not as a pino transport: no worker to start, and lines in order with the
  // banner and warnings written beside them.
  const { default: pretty } = await import("pino-pretty")
  return {
    level,
    stream: pretty({
      colorize: true,
      sync: true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname",
    }),
  }
}
