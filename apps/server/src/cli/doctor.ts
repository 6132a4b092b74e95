import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import { access, lstat, stat, statfs, unlink, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { HealthResponse } from "@geppetto/protocol"
import {
  isSupportedTmux,
  MIN_TMUX_VERSION,
  makeProviderCatalog,
  probeTmuxBinary,
  probeTmuxServer,
  tmuxServerLabel,
} from "@geppetto/runner"
import { Effect } from "effect"
import { SESSION_SECRET_FILE, TOKENS_FILE } from "../auth/tokens.js"
import { ConfigError, parseServeArgs, type ServeConfig } from "../config.js"
import type { CliContext } from "./command.js"
import { usageError } from "./errors.js"

export const usage = `usage: geppetto doctor [--host HOST] [--port PORT] [--tmux-socket NAME] [--data-dir DIR]

Checks, without a server, what \`geppetto serve\` with the same flags (and GEPPETTO_*
environment) needs: tmux ${MIN_TMUX_VERSION.major}.${MIN_TMUX_VERSION.minor} or newer, its server reachable, the data dir private
(mode 0700) and writable, free disk space, which agent CLIs are installed, the port.
Each problem says what to do about it. Exits 1 when a check fails.`

type Level = "ok" | "info" | "warn" | "FAIL"

/** One finding: what was checked and, for a problem, what to do about it. */
export interface Finding {
  readonly level: Level
  readonly text: string
  readonly fix?: string
}

const ok = (text: string): Finding => ({ level: "ok", text })
const info = (text: string): Finding => ({ level: "info", text })
const warn = (text: string, fix: string): Finding => ({ level: "warn", text, fix })
const fail = (text: string, fix: string): Finding => ({ level: "FAIL", text, fix })

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** Below this the next 100 MB log segment may not fit. */
const DISK_FAIL_BYTES = 200 * MiB
const DISK_WARN_BYTES = 1 * GiB

const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

const exists = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    () => false,
  )

const checkTmux = async (config: ServeConfig, env: NodeJS.ProcessEnv): Promise<Finding[]> => {
  const binary = await Effect.runPromise(probeTmuxBinary(env))
  if (binary._tag === "Missing") {
    return [fail("tmux not found on PATH", "install tmux (e.g. `sudo apt install tmux`)")]
  }
  const needed = `${MIN_TMUX_VERSION.major}.${MIN_TMUX_VERSION.minor}`
  if (binary._tag === "Unparsed") {
    return [fail(`tmux -V said ${JSON.stringify(binary.output)}`, "reinstall tmux")]
  }
  const { version } = binary
  const findings: Finding[] = [
    isSupportedTmux(version)
      ? ok(`tmux ${version.raw} (${needed} or newer needed)`)
      : fail(`tmux ${version.raw} is too old`, `install tmux ${needed} or newer`),
  ]
  const label = tmuxServerLabel(config.tmuxSocket)
  const server = await Effect.runPromise(probeTmuxServer(config.tmuxSocket, env))
  const socket = server.socketPath
  switch (server._tag) {
    case "NotRunning":
      findings.push(ok(`${label}: not running (\`geppetto serve\` starts it)`))
      break
    case "Reachable":
      findings.push(ok(`${label}: reachable at ${socket}, ${server.sessions} session(s)`))
      break
    case "StaleSocket":
      findings.push(ok(`${label}: not running (stale socket ${socket}; tmux replaces it)`))
      break
    case "Unreachable":
      findings.push(
        fail(
          `${label}: cannot connect to ${socket}: ${server.reason}`,
          `${dirname(socket)} must be yours with mode 0700; remove ${socket} if no tmux server uses it`,
        ),
      )
      break
  }
  return findings
}

/** The path itself when it exists, else its nearest existing ancestor. */
const existingAncestor = async (path: string): Promise<string> => {
  let current = path
  while (!(await exists(current)) && dirname(current) !== current) current = dirname(current)
  return current
}

const mode = (m: number) => `0${(m & 0o777).toString(8)}`

const checkDataDir = async (dir: string): Promise<Finding[]> => {
  let stats: Awaited<ReturnType<typeof stat>>
  try {
    stats = await stat(dir)
  } catch (error) {
    if (errnoOf(error) !== "ENOENT") {
      return [fail(`data dir ${dir}: ${messageOf(error)}`, "check the path and its parents")]
    }
    const parent = await existingAncestor(dir)
    const writable = await access(parent, constants.W_OK | constants.X_OK).then(
      () => true,
      () => false,
    )
    return writable
      ? [ok(`data dir ${dir}: does not exist yet (\`geppetto serve\` creates it, mode 0700)`)]
      : [
          fail(
            `data dir ${dir}: does not exist and ${parent} is not writable`,
            `create it yourself (\`mkdir -p -m 700 ${dir}\`) or choose another --data-dir`,
          ),
        ]
  }
  if (!stats.isDirectory()) {
    return [fail(`data dir ${dir} is not a directory`, "choose another --data-dir")]
  }
  const findings: Finding[] = []
  const uid = process.getuid?.()
  if (uid !== undefined && stats.uid !== uid) {
    findings.push(
      fail(
        `data dir ${dir} is owned by uid ${stats.uid}, not by you (uid ${uid})`,
        `run geppetto as that user, or \`sudo chown -R ${uid} ${dir}\``,
      ),
    )
  }
  if ((stats.mode & 0o077) !== 0) {
    findings.push(
      fail(
        `data dir ${dir} has mode ${mode(stats.mode)}: group or others can reach its tokens and every runner's output`,
        `chmod 700 ${dir}`,
      ),
    )
  }
  const probe = join(dir, `.doctor-${randomBytes(6).toString("hex")}`)
  try {
    await writeFile(probe, "", { flag: "wx", mode: 0o600 })
    await unlink(probe)
  } catch (error) {
    findings.push(
      fail(
        `data dir ${dir} is not writable: ${messageOf(error)}`,
        `make it writable by you (\`chmod u+rwx ${dir}\`), or choose another --data-dir`,
      ),
    )
  }
  for (const file of [TOKENS_FILE, SESSION_SECRET_FILE]) {
    const path = join(dir, file)
    const secret = await lstat(path).catch(() => undefined)
    if (secret === undefined) continue
    if (!secret.isFile()) {
      findings.push(fail(`${path} is not a regular file`, `delete it; serve generates a new one`))
    } else if ((secret.mode & 0o077) !== 0) {
      findings.push(
        fail(
          `${path} has mode ${mode(secret.mode)}: others may read it (serve refuses it)`,
          `chmod 600 ${path}`,
        ),
      )
    }
  }
  if (findings.length === 0) findings.push(ok(`data dir ${dir}: mode 0700, writable`))
  return findings
}

const formatSize = (bytes: number): string =>
  bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.floor(bytes / MiB)} MiB`

const checkDisk = async (dir: string): Promise<Finding[]> => {
  const where = await existingAncestor(dir)
  try {
    const fs = await statfs(where)
    const free = fs.bavail * fs.bsize
    const text = `${formatSize(free)} free for the data dir (on the filesystem of ${where})`
    if (free < DISK_FAIL_BYTES) {
      return [fail(text, "free some space, or choose a --data-dir on another filesystem")]
    }
    if (free < DISK_WARN_BYTES) {
      return [warn(text, "runner logs roll in 100 MB segments; free some space soon")]
    }
    return [ok(text)]
  } catch (error) {
    return [warn(`cannot tell the free space at ${where}: ${messageOf(error)}`, "check `df -h`")]
  }
}

const checkProviders = async (env: NodeJS.ProcessEnv): Promise<Finding[]> => {
  const list = await Effect.runPromise(makeProviderCatalog(env).list)
  return list.map((p) =>
    info(
      `provider ${p.id} (${p.name}): ${
        p.installed
          ? `installed${p.version === undefined ? "" : `, ${p.version}`}`
          : "not installed"
      }`,
    ),
  )
}

const listenError = (host: string, port: number): Promise<string | undefined> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", (error) => resolve(errnoOf(error) ?? messageOf(error)))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)))
  })

const checkPort = async (config: ServeConfig): Promise<Finding[]> => {
  const { host, port } = config
  if (port === 0) return [ok("port 0: serve will take any free port")]
  const where = `port ${port} on ${host}`
  const error = await listenError(host, port)
  if (error === undefined) return [ok(`${where} is free`)]
  if (error === "EADDRINUSE") {
    const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host
    const scheme = config.tls === undefined ? "http" : "https"
    const url = `${scheme}://${target.includes(":") ? `[${target}]` : target}:${port}`
    const health = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => HealthResponse.safeParse(await r.json()))
      .catch(() => undefined)
    if (health?.success === true) {
      return [ok(`${where} is taken by a running geppetto server (version ${health.data.version})`)]
    }
    return [
      fail(
        `${where} is in use by another program`,
        "stop it, or choose another port with --port / GEPPETTO_PORT",
      ),
    ]
  }
  if (error === "EACCES") {
    return [fail(`${where}: permission denied`, "ports below 1024 need privileges; use --port")]
  }
  if (error === "EADDRNOTAVAIL") {
    return [fail(`${where}: ${host} is not an address of this machine`, "fix --host")]
  }
  return [fail(`${where}: cannot listen (${error})`, "choose another --host or --port")]
}

const render = (finding: Finding): string =>
  `${finding.level.padEnd(5)} ${finding.text}\n${finding.fix === undefined ? "" : `      → ${finding.fix}\n`}`

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  let config: ServeConfig
  try {
    config = parseServeArgs(argv, ctx.env)
  } catch (error) {
    if (error instanceof ConfigError) throw usageError(error.message)
    throw error
  }
  const groups = await Promise.all([
    checkTmux(config, ctx.env),
    checkDataDir(config.dataDir),
    checkDisk(config.dataDir),
    checkPort(config),
    checkProviders(ctx.env),
  ])
  const findings = groups.flat()
  process.stdout.write(findings.map(render).join(""))
  const failed = findings.filter((f) => f.level === "FAIL").length
  const warned = findings.filter((f) => f.level === "warn").length
  process.stdout.write(
    failed === 0
      ? `\nall checks passed${warned > 0 ? ` (${warned} warning(s))` : ""}\n`
      : `\n${failed} problem(s) found\n`,
  )
  return failed === 0 ? 0 : 1
}
