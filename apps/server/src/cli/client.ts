import { join } from "node:path"
import {
  ErrorResponse,
  RunnerDetail,
  type RunnerStatus,
  RunnerSummary,
  SAFE_ID_PATTERN,
} from "@geppetto/protocol"
import { z } from "zod"
import { readSecretFile, SecretFileError } from "../auth/secret-files.js"
import { TOKENS_FILE } from "../auth/tokens.js"
import { defaultDataDir } from "../config.js"
import { CliError, ExitCode, usageError } from "./errors.js"

/** Where the server is and how to prove who we are. */
export interface Connection {
  /** e.g. `http://127.0.0.1:7420`, without a trailing slash. */
  readonly url: string
  readonly token: string | undefined
  /** Where the token came from, for the message when the server refuses it. */
  readonly tokenSource: string
}

export interface ConnectionFlags {
  readonly url?: string | undefined
  readonly host?: string | undefined
  readonly port?: string | undefined
  readonly "data-dir"?: string | undefined
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value

/** A host a client can connect to: a wildcard bind address means this machine. */
const connectHost = (host: string): string => {
  if (host === "0.0.0.0") return "127.0.0.1"
  if (host === "::" || host === "[::]") return "[::1]"
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
}

const serverUrl = (flags: ConnectionFlags, env: NodeJS.ProcessEnv): string => {
  const explicit = nonEmpty(flags.url) ?? nonEmpty(env.GEPPETTO_URL)
  if (explicit !== undefined) {
    let parsed: URL
    try {
      parsed = new URL(explicit)
    } catch {
      throw usageError(`--url ${JSON.stringify(explicit)} is not a URL`)
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw usageError(`--url must be http:// or https://, got ${parsed.protocol}`)
    }
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`
  }
  const host = nonEmpty(flags.host) ?? nonEmpty(env.GEPPETTO_HOST) ?? "127.0.0.1"
  const portText = nonEmpty(flags.port) ?? nonEmpty(env.GEPPETTO_PORT) ?? "7420"
  const port = Number(portText)
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw usageError(`--port must be a number from 1 to 65535, got ${JSON.stringify(portText)}`)
  }
  return `http://${connectHost(host)}:${port}`
}

const TokensFile = z.object({ operator: z.string().min(1) })

/**
 * The operator token: `GEPPETTO_TOKEN`, else the one `geppetto serve` generated into the data
 * dir's `tokens.json`. The file is only read (with the same ownership and mode checks as the
 * server), never created: a client must not invent credentials.
 */
const operatorToken = async (
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ readonly token: string | undefined; readonly source: string }> => {
  const fromEnv = nonEmpty(env.GEPPETTO_TOKEN)
  if (fromEnv !== undefined) return { token: fromEnv, source: "GEPPETTO_TOKEN" }
  const dataDir = nonEmpty(flags["data-dir"]) ?? nonEmpty(env.GEPPETTO_DATA_DIR)
  const file = join(dataDir ?? defaultDataDir(env), TOKENS_FILE)
  let content: string | undefined
  try {
    content = await readSecretFile(file)
  } catch (error) {
    if (error instanceof SecretFileError) throw new CliError(error.message, ExitCode.auth)
    throw error
  }
  if (content === undefined) {
    return { token: undefined, source: `no GEPPETTO_TOKEN and no ${file}` }
  }
  let json: unknown
  try {
    json = JSON.parse(content)
  } catch {
    throw new CliError(`${file} is not valid JSON`, ExitCode.auth)
  }
  const parsed = TokensFile.safeParse(json)
  if (!parsed.success) {
    throw new CliError(`${file} has no "operator" token`, ExitCode.auth)
  }
  return { token: parsed.data.operator, source: file }
}

/** The server URL and token from flags, then the environment, then the defaults. */
export const resolveConnection = async (
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
): Promise<Connection> => {
  const url = serverUrl(flags, env)
  const { token, source } = await operatorToken(flags, env)
  return { url, token, tokenSource: source }
}

/** Statuses after which a runner never changes again. */
export const FINAL_STATUSES: ReadonlySet<RunnerStatus> = new Set(["completed", "failed"])

const NETWORK_DOWN = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH"])

/** The errno code behind a failed `fetch` (undici wraps it, sometimes in an AggregateError). */
export const networkErrorCode = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string" && /^E[A-Z]+$/.test(current.code))
      return current.code
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0]
      continue
    }
    current = "cause" in current ? current.cause : undefined
  }
  return undefined
}

/** The failure for a server that cannot be reached at all. */
export const unreachable = (url: string, error: unknown): CliError => {
  const code = networkErrorCode(error)
  if (code === "ECONNREFUSED") {
    return new CliError(
      `no server at ${url}; start it with \`geppetto serve\``,
      ExitCode.serverDown,
    )
  }
  const why = code ?? (error instanceof Error ? error.message : String(error))
  return new CliError(
    `cannot reach a server at ${url} (${why})${NETWORK_DOWN.has(code ?? "") ? "; is `geppetto serve` running?" : ""}`,
    ExitCode.serverDown,
  )
}

/** The failure for an HTTP error status, with the server's own message when it sent one. */
export const statusError = (
  connection: Connection,
  status: number,
  serverMessage: string | undefined,
  what: string,
): CliError => {
  const message = serverMessage ?? `HTTP ${status}`
  switch (status) {
    case 400:
      return new CliError(message, ExitCode.usage)
    case 401:
      return new CliError(
        connection.token === undefined
          ? `the server at ${connection.url} needs a token (${connection.tokenSource}); set GEPPETTO_TOKEN to the operator token, or --data-dir to the server's data dir`
          : `the server at ${connection.url} refused the token from ${connection.tokenSource} (${message}); set GEPPETTO_TOKEN to the operator token`,
        ExitCode.auth,
      )
    case 403:
      return new CliError(`forbidden: ${message}`, ExitCode.auth)
    case 404:
      return new CliError(message, ExitCode.notFound)
    default:
      return new CliError(`${what} failed: ${message} (HTTP ${status})`, ExitCode.failure)
  }
}

/** Fastify's own shape, for errors that reach it before ours (e.g. a body it cannot parse). */
const PlainError = z.object({ message: z.string() })

/** The message of an error body: the contract's `{ error: { code, message } }`, else `{ message }`. */
export const errorMessageIn = (json: unknown): string | undefined => {
  const parsed = ErrorResponse.safeParse(json)
  if (parsed.success) {
    const { message, conflicts } = parsed.data.error
    return conflicts === undefined || conflicts.length === 0
      ? message
      : `${message}\n  in conflict: ${conflicts.join(", ")}`
  }
  const plain = PlainError.safeParse(json)
  return plain.success ? plain.data.message : undefined
}

const errorMessageOf = async (response: Response): Promise<string | undefined> =>
  errorMessageIn(await response.json().catch(() => undefined))

export interface RequestOptions {
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
  /** Statuses the caller handles itself instead of failing on (e.g. 416 for a log range). */
  readonly accept?: ReadonlyArray<number>
}

/** The REST API as the command line uses it; every failure is a `CliError` with its exit code. */
export class ApiClient {
  constructor(readonly connection: Connection) {}

  /** Headers that authenticate us (none when there is no token: the server says 401). */
  authHeaders(): Record<string, string> {
    return this.connection.token === undefined
      ? {}
      : { authorization: `Bearer ${this.connection.token}` }
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const what = `${method} ${path}`
    let response: Response
    try {
      response = await fetch(`${this.connection.url}${path}`, {
        method,
        headers: {
          ...this.authHeaders(),
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      })
    } catch (error) {
      throw unreachable(this.connection.url, error)
    }
    if (response.ok || options.accept?.includes(response.status)) return response
    throw statusError(this.connection, response.status, await errorMessageOf(response), what)
  }

  async json<S extends z.core.$ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const response = await this.request(method, path, body === undefined ? {} : { body })
    const parsed = z.safeParse(schema, await response.json().catch(() => undefined))
    if (!parsed.success) {
      throw new CliError(
        `unexpected answer to ${method} ${path} from ${this.connection.url}: ${parsed.error.issues[0]?.message ?? "bad shape"}`,
        ExitCode.failure,
      )
    }
    return parsed.data
  }

  runners(): Promise<ReadonlyArray<RunnerSummary>> {
    return this.json("GET", "/api/runners", z.array(RunnerSummary))
  }

  runner(id: string): Promise<RunnerDetail> {
    return this.json("GET", `/api/runners/${encodeURIComponent(id)}`, RunnerDetail)
  }

  /**
   * The runner a user means by `ref`: the one with that id, else the one with that name (a
   * live one wins over finished namesakes). Unknown → exit 5; ambiguous → exit 2.
   */
  async resolveRunner(ref: string): Promise<RunnerSummary> {
    const runners = await this.runners()
    const byId = runners.find((r) => r.id === ref)
    if (byId !== undefined) return byId
    const named = runners.filter((r) => r.name === ref)
    const live = named.filter((r) => !FINAL_STATUSES.has(r.status))
    const only = named.length === 1 ? named[0] : live.length === 1 ? live[0] : undefined
    if (only !== undefined) return only
    if (named.length > 1) {
      throw usageError(
        `${named.length} runners are named ${ref} (${named.map((r) => r.id).join(", ")}); give an id`,
      )
    }
    throw new CliError(
      `no runner with id or name ${JSON.stringify(ref)} at ${this.connection.url} (see \`geppetto ls\`)`,
      ExitCode.notFound,
    )
  }

  /** `WS /api/runners/:id/terminal?from=OFFSET` (auth goes in a header, not the URL). */
  terminalUrl(id: string, from: number): string {
    if (!SAFE_ID_PATTERN.test(id)) throw usageError(`invalid runner id ${JSON.stringify(id)}`)
    const url = new URL(`${this.connection.url}/api/runners/${id}/terminal`)
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
    url.searchParams.set("from", String(from))
    return url.toString()
  }
}

/** The client for a command's parsed connection flags. */
export const connect = async (flags: ConnectionFlags, env: NodeJS.ProcessEnv): Promise<ApiClient> =>
  new ApiClient(await resolveConnection(flags, env))

/** `NAME (ID)`, or just the id when they are the same. */
export const describeRunner = (runner: { readonly id: string; readonly name: string }): string =>
  runner.name === runner.id ? runner.id : `${runner.name} (${runner.id})`
