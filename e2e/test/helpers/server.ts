import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const serverMain = join(repoRoot, "apps/server/dist/main.js")
/**
 * The dashboard's test build: the production code plus the `window.__geppetto*` hooks these
 * tests read (the production build has none). `.ci/setup --tests` makes it.
 */
export const testDashboardDir = join(repoRoot, "apps/dashboard/build-test")
const dashboardIndex = join(testDashboardDir, "index.html")
const BUILD_TEST = "`pnpm --filter @geppetto/dashboard build:test`"

/** The newest modification time of any file under `dir`. */
const newestChange = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce(
      (newest, entry) => Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs),
      0,
    )

/**
 * Refuses a test build older than the dashboard's sources: the tests would pass or fail on
 * code that is no longer there. (Only the test build is checked: `pnpm build` does not make it.)
 */
const checkTestBuild = (): void => {
  if (!existsSync(dashboardIndex)) {
    throw new Error(`e2e: build the dashboard's test build first (${BUILD_TEST})`)
  }
  const built = statSync(dashboardIndex).mtimeMs
  for (const sources of ["apps/dashboard/src", "packages/protocol/src"]) {
    if (newestChange(join(repoRoot, sources)) > built) {
      throw new Error(`e2e: ${sources} changed after the dashboard's test build; run ${BUILD_TEST}`)
    }
  }
}

/**
 * Polls `check` every 50 ms until it returns something other than `undefined`/`false`;
 * throws after `ms` with `what` (conditions, never fixed sleeps: the machine may be loaded).
 */
export const waitFor = async <A>(
  check: () => A | undefined | false | Promise<A | undefined | false>,
  what: string | (() => string),
  ms = 20_000,
): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

/**
 * The built `geppetto serve` as a child process on a free port, with its own tmux server
 * (`-L` unique name) and a temp data dir. `restart()` stops only the server process: tmux, the
 * runners and their logs live on, as they do in production.
 */
export class TestServer {
  readonly operatorToken = `op-${randomBytes(16).toString("hex")}`
  readonly viewerToken = `view-${randomBytes(16).toString("hex")}`
  readonly socket = `geppetto-e2e-${process.pid}-${randomBytes(3).toString("hex")}`
  readonly dataDir = mkdtempSync(join(tmpdir(), "geppetto-e2e-"))
  port = 0
  #child: ChildProcess | undefined
  #log = ""

  /**
   * `env`: more environment for the server, which its runners inherit (a `PATH` with a fake
   * agent first, say).
   */
  constructor(readonly options: { readonly env?: Readonly<Record<string, string>> } = {}) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** What the server printed (for failure messages). */
  get log(): string {
    return this.#log
  }

  async start(): Promise<void> {
    if (!existsSync(serverMain)) {
      throw new Error("e2e: build first (`pnpm build`): the server is run built")
    }
    checkTestBuild()
    if (this.port === 0) this.port = await freePort()
    const child = spawn(
      process.execPath,
      [
        serverMain,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--tmux-socket",
        this.socket,
        "--data-dir",
        this.dataDir,
      ],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...this.options.env,
          GEPPETTO_TOKEN: this.operatorToken,
          GEPPETTO_VIEWER_TOKEN: this.viewerToken,
          GEPPETTO_DASHBOARD_DIR: testDashboardDir,
          SHELL: "/bin/bash",
          // Request lines would fill the kept log tail; a failure should show start-up and errors.
          GEPPETTO_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    )
    this.#child = child
    const keep = (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString("utf8")).slice(-20_000)
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited early:\n${this.#log}`)
        const ok = await fetch(`${this.url}/api/health`)
          .then((r) => r.ok)
          .catch(() => false)
        return ok
      },
      () => `the server to answer /api/health:\n${this.#log}`,
      // The bundle listens in about 0.4 s on a quiet machine; a loaded CI machine, shared with
      // other tests' tmux servers and Chromium, has taken many seconds.
      90_000,
    )
  }

  /** Stops the server process (SIGTERM, then SIGKILL); tmux and the data dir stay. */
  async stopProcess(): Promise<void> {
    const child = this.#child
    this.#child = undefined
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    await exited
    clearTimeout(timer)
  }

  async restart(): Promise<void> {
    await this.stopProcess()
    await this.start()
  }

  /** Stops everything: the runners (as the product does), the server, its tmux and data dir. */
  async stop(): Promise<void> {
    // `tmux kill-server` alone can leave a pane's program running (one that shrugs off SIGHUP
    // and the closed pty): remove each runner through the API, which kills its process group.
    if (this.#child !== undefined) {
      const runners = await this.api<Array<{ id: string }>>("/api/runners").catch(() => [])
      await Promise.all(
        runners.map((r) =>
          this.api(`/api/runners/${r.id}`, { method: "DELETE" }).catch(() => undefined),
        ),
      )
    }
    await this.stopProcess()
    this.tmux(["kill-server"])
    rmSync(
      join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, this.socket),
      {
        force: true,
      },
    )
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  /** A tmux command on this server's tmux (what a user attached from a shell would see). */
  tmux(args: ReadonlyArray<string>): { stdout: string; code: number | null } {
    const result = spawnSync("tmux", ["-L", this.socket, ...args], { encoding: "utf8" })
    return { stdout: result.stdout ?? "", code: result.status }
  }

  /** The pane's visible text as `tmux capture-pane -p` prints it. */
  capture(paneId: string): string[] {
    return normalize(this.tmux(["capture-pane", "-p", "-t", paneId]).stdout.split("\n"))
  }

  /** An operator API call with the bearer token. */
  async api<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${this.operatorToken}`,
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`)
    return (text === "" ? undefined : JSON.parse(text)) as T
  }
}

/** Lines as a terminal shows them to a reader: no trailing blanks, no empty tail. */
export const normalize = (lines: ReadonlyArray<string>): string[] => {
  const out = lines.map((l) => l.trimEnd())
  while (out.length > 0 && out[out.length - 1] === "") out.pop()
  return out
}
