import { statSync } from "node:fs"
import { homedir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { TmuxSocketName } from "@geppetto/protocol"
import { z } from "zod"

/** What `geppetto serve` runs with: flags win over env, env over defaults (the contract). */
export interface ServeConfig {
  readonly host: string
  readonly port: number
  readonly tmuxSocket: string | undefined
  readonly dataDir: string
  /** Serve HTTPS with these PEM files; unset serves plain HTTP. */
  readonly tls?: TlsFiles | undefined
  /**
   * The built dashboard to serve, from `GEPPETTO_DASHBOARD_DIR`; unset serves the checkout's
   * or image's own build (`defaultDashboardDir`). The e2e suite points it at the test build
   * (`apps/dashboard/build-test`, which adds the hooks its tests read).
   */
  readonly dashboardDir?: string | undefined
}

export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
}

const Port = z.coerce.number().int().min(0).max(65535)

export const defaultDataDir = (env: NodeJS.ProcessEnv): string => {
  const state = env.XDG_STATE_HOME
  return join(
    state !== undefined && state !== "" ? state : join(homedir(), ".local", "state"),
    "geppetto",
  )
}

export class ConfigError extends Error {}

const parseFlags = (argv: ReadonlyArray<string>) => {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "tmux-socket": { type: "string" },
        "data-dir": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    })
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error))
  }
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value

const tlsFiles = (
  certFile: string | undefined,
  keyFile: string | undefined,
): TlsFiles | undefined => {
  if (certFile === undefined && keyFile === undefined) return undefined
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError(
      "--tls-cert and --tls-key (GEPPETTO_TLS_CERT, GEPPETTO_TLS_KEY) go together: give both or neither",
    )
  }
  for (const [flag, file] of [
    ["--tls-cert", certFile],
    ["--tls-key", keyFile],
  ] as const) {
    const isFile = (() => {
      try {
        return statSync(file).isFile()
      } catch {
        return false
      }
    })()
    if (!isFile) throw new ConfigError(`${flag} ${file}: no such file`)
  }
  return { certFile, keyFile }
}

export const parseServeArgs = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
): ServeConfig => {
  const { values } = parseFlags(argv)
  const port = Port.safeParse(values.port ?? env.GEPPETTO_PORT ?? "7420")
  if (!port.success) throw new ConfigError(`--port must be a number from 0 to 65535`)
  const socketValue = values["tmux-socket"] ?? env.GEPPETTO_TMUX_SOCKET
  const socket =
    socketValue === undefined || socketValue === ""
      ? undefined
      : TmuxSocketName.safeParse(socketValue)
  if (socket !== undefined && !socket.success) {
    throw new ConfigError(`--tmux-socket ${socket.error.issues[0]?.message ?? "is invalid"}`)
  }
  const dataDir = values["data-dir"] ?? env.GEPPETTO_DATA_DIR ?? defaultDataDir(env)
  const dashboardDir = nonEmpty(env.GEPPETTO_DASHBOARD_DIR)
  const tls = tlsFiles(
    nonEmpty(values["tls-cert"] ?? env.GEPPETTO_TLS_CERT),
    nonEmpty(values["tls-key"] ?? env.GEPPETTO_TLS_KEY),
  )
  return {
    host: values.host ?? env.GEPPETTO_HOST ?? "127.0.0.1",
    port: port.data,
    tmuxSocket: socket?.data,
    dataDir,
    ...(tls === undefined ? {} : { tls }),
    ...(dashboardDir === undefined ? {} : { dashboardDir: resolve(dashboardDir) }),
  }
}
