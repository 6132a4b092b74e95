/**
 * dashboard: what the browser downloads, and how soon a terminal shows output.
 *
 *   size   gzip (zlib level 9) of the JS and CSS a first page load fetches: (a) statically,
 *          the built index.html's <script>/<link rel=modulepreload|stylesheet> and the static
 *          imports of those chunks, transitively; (b) as Chromium fetched them for the board
 *          (`/`) and for a runner page (`/runners/ID`, which adds xterm.js). The server sends
 *          these files uncompressed (no compression plugin), so gzip is what a compressing
 *          proxy would send; the raw bytes are reported too.
 *   board  the same for the board with 50 runners in 10 git repositories (shell runners that
 *          sleep, `cwd` in each repo, 3 of each repo's 5 with a worktree of their own): what
 *          Chromium fetched, and navigation start → all 50 cards in the DOM (a MutationObserver
 *          in an init script), cold. Baseline: the board with one runner; first contentful
 *          paint of the same navigations.
 *   paint  navigation start → the first xterm render whose buffer holds the runner's output
 *          (an init script wraps `window.__geppettoTerm`, the hook the e2e tests read, and
 *          listens to `term.onRender`); cold (a fresh browser context each time: empty HTTP
 *          cache) and warm (the same context again). Baseline: first contentful paint of the
 *          same navigations.
 *
 * Sizes and the board are measured on the production build (`apps/dashboard/build`, what
 * `geppetto serve` serves); the paint on the test build (`apps/dashboard/build-test`, served
 * through `GEPPETTO_DASHBOARD_DIR`), the only one with the `window.__geppetto*` hooks. The test
 * build is made first when it is missing or older than the sources (the e2e suite's check).
 *
 * Chromium: Debian's `/usr/bin/chromium` (GEPPETTO_CHROMIUM overrides), launched as e2e does.
 */
import { spawn } from "node:child_process"
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join, posix } from "node:path"
import { gzipSync } from "node:zlib"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { median, summarize } from "../../../packages/runner/bench/stats.js"
import { newestChange } from "../test/helpers/files.js"
import {
  api,
  log,
  removeServerLeftovers,
  spawnServer,
  startRunner,
  stopServerAndRunners,
  type TimedServer,
  TOKEN,
  within,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface DashboardOptions {
  readonly navigations: number
}

export const dashboardDefaults: DashboardOptions = { navigations: 5 }
export const dashboardQuick: DashboardOptions = { navigations: 2 }

const REPO = join(import.meta.dirname, "..", "..", "..")
const BUILD = join(REPO, "apps", "dashboard", "build")
const BUILD_TEST = join(REPO, "apps", "dashboard", "build-test")
const NODE_MODULES = join(REPO, "node_modules", ".pnpm")
/** What the dashboard is built from (as e2e/test/helpers/server.ts checks). */
const DASHBOARD_SOURCES = ["apps/dashboard/src", "packages/protocol/src"]
/** The board figure: this many runners over this many repositories. */
const BOARD_RUNNERS = 50
const BOARD_PROJECTS = 10
const CHROMIUM = process.env.GEPPETTO_CHROMIUM ?? "/usr/bin/chromium"
const MARKER = "BENCH-PAINT-MARKER"

const gzipKB = (bytes: Buffer) => gzipSync(bytes, { level: 9 }).length / 1024

/** The sources changed since `build` was made (all of them when it is missing). */
const staleSources = (build: string): ReadonlyArray<string> => {
  const index = join(build, "index.html")
  if (!existsSync(index)) return DASHBOARD_SOURCES
  const built = statSync(index).mtimeMs
  return DASHBOARD_SOURCES.filter((dir) => newestChange(join(REPO, dir)) > built)
}

/**
 * The test build, made by `pnpm --filter @geppetto/dashboard build:test` when it is missing or
 * older than the sources (the check e2e makes; e2e refuses where this builds). The e2e helper
 * is not imported: it lives in another package and does not export its check.
 */
const ensureTestBuild = async (): Promise<{ readonly built: boolean; readonly ms: number }> => {
  const stale = staleSources(BUILD_TEST)
  if (stale.length === 0) return { built: false, ms: 0 }
  log(`  dashboard: building the test build (${stale.join(", ")} newer) ...`)
  const args = ["--filter", "@geppetto/dashboard", "run", "build:test"]
  const t0 = performance.now()
  const { code, output } = await within(
    600_000,
    `pnpm ${args.join(" ")}`,
    new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn("pnpm", args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      const keep = (d: Buffer) => {
        output = (output + d.toString()).slice(-4000)
      }
      child.stdout.on("data", keep)
      child.stderr.on("data", keep)
      child.once("error", reject)
      child.once("close", (c) => resolve({ code: c, output }))
    }),
  )
  if (code !== 0) throw new Error(`pnpm ${args.join(" ")} exited with ${code}:\n${output}`)
  return { built: true, ms: performance.now() - t0 }
}

interface AssetSet {
  readonly files: ReadonlyArray<{
    readonly path: string
    readonly rawKB: number
    readonly gzipKB: number
  }>
  readonly jsGzipKB: number
  readonly cssGzipKB: number
  readonly totalGzipKB: number
  readonly totalRawKB: number
}

/** Sizes of build files given by their URL paths (`/_app/immutable/...`). */
const sizesOf = (urlPaths: Iterable<string>): AssetSet => {
  const files = [...new Set(urlPaths)].sort().map((path) => {
    const bytes = readFileSync(join(BUILD, path))
    return { path, rawKB: bytes.length / 1024, gzipKB: gzipKB(bytes) }
  })
  const sum = (pick: (f: (typeof files)[number]) => number, ext?: string) =>
    files.filter((f) => ext === undefined || f.path.endsWith(ext)).reduce((a, f) => a + pick(f), 0)
  return {
    files,
    jsGzipKB: sum((f) => f.gzipKB, ".js"),
    cssGzipKB: sum((f) => f.gzipKB, ".css"),
    totalGzipKB: sum((f) => f.gzipKB),
    totalRawKB: sum((f) => f.rawKB),
  }
}

/**
 * The part of a set fetched only once a terminal's first screen is drawn: the WebGL addon's
 * chunk (the only one that compiles shaders), which xterm.ts imports in `useWebgl`.
 */
const afterFirstScreenKB = (set: AssetSet) =>
  set.files
    .filter((f) => f.path.endsWith(".js"))
    .filter((f) => readFileSync(join(BUILD, f.path), "utf8").includes("createShader"))
    .reduce((sum, f) => sum + f.gzipKB, 0)

/** index.html's scripts, module preloads and stylesheets, plus static imports, transitively. */
export const staticFirstLoad = (): AssetSet => {
  const html = readFileSync(join(BUILD, "index.html"), "utf8")
  const queue: string[] = []
  for (const m of html.matchAll(/<link\b[^>]*>/g)) {
    const tag = m[0]
    const href = /\bhref="([^"]+)"/.exec(tag)?.[1]
    if (href !== undefined && /\brel="(?:modulepreload|stylesheet)"/.test(tag)) queue.push(href)
  }
  for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) if (m[1]) queue.push(m[1])
  // The inline boot script imports the two entries.
  for (const m of html.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) if (m[1]) queue.push(m[1])
  const seen = new Set<string>()
  while (queue.length > 0) {
    const path = queue.pop()
    if (path === undefined || seen.has(path) || !path.startsWith("/")) continue
    seen.add(path)
    if (!path.endsWith(".js")) continue
    const code = readFileSync(join(BUILD, path), "utf8")
    // Static imports only (`import … from "x"`, `import "x"`, `export … from "x"`), not import().
    for (const m of code.matchAll(/\b(?:from|import)\s*["']([^"']+\.js)["']/g)) {
      const spec = m[1]
      if (spec === undefined) continue
      queue.push(spec.startsWith("/") ? spec : posix.join(posix.dirname(path), spec))
    }
  }
  return sizesOf(seen)
}

/** A file of a package in the pnpm store (for the xterm.js reference size). */
const storeFile = (pkg: string, file: string): Buffer | undefined => {
  try {
    return readFileSync(join(NODE_MODULES, pkg, "node_modules", file))
  } catch {
    return undefined
  }
}

interface PaintTimes {
  readonly paintMs: number
  readonly nextFrameMs: number
  readonly termCreatedMs: number
  readonly fcpMs: number
  /** The terminal socket: created, and its first message (the snapshot) in. */
  readonly socketMs: number
  readonly snapshotMs: number
  /** The document's DOMContentLoaded end, and the last JS/CSS response's end. */
  readonly domContentLoadedMs: number
  readonly assetsLoadedMs: number
  readonly renderer: string
}

// Runs in the page before any of its scripts (a string: the server's tsconfig has no DOM lib).
const INIT_SCRIPT = `(() => {
  const bench = { termAt: null, paintAt: null, nextFrameAt: null, renderer: null, socketAt: null, snapshotAt: null };
  window.__bench = bench;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/terminal")) return;
      if (bench.socketAt === null) bench.socketAt = performance.now();
      this.addEventListener("message", () => {
        if (bench.snapshotAt === null) bench.snapshotAt = performance.now();
      }, { once: true });
    }
  };
  const holds = (t) => {
    const b = t.buffer.active;
    for (let y = 0; y < b.length; y++) {
      const line = b.getLine(y);
      if (line && line.translateToString(true).includes(${JSON.stringify(MARKER)})) return true;
    }
    return false;
  };
  let term;
  Object.defineProperty(window, "__geppettoTerm", {
    configurable: true,
    enumerable: true,
    get() { return term; },
    set(value) {
      term = value;
      if (bench.termAt === null) bench.termAt = performance.now();
      value.onRender(() => {
        if (bench.paintAt !== null || !holds(value)) return;
        bench.paintAt = performance.now();
        bench.renderer = document.querySelector(".xterm canvas") ? "webgl/canvas" : "dom";
        requestAnimationFrame(() => { bench.nextFrameAt = performance.now(); });
      });
    },
  });
})();`

interface BenchWindow {
  __bench: {
    termAt: number | null
    paintAt: number | null
    nextFrameAt: number | null
    renderer: string | null
    socketAt: number | null
    snapshotAt: number | null
  }
}

interface TimingEntry {
  readonly name: string
  readonly startTime: number
  readonly responseEnd?: number
  readonly domContentLoadedEventEnd?: number
}

// Functions, not strings: the dashboard's CSP forbids eval, and Playwright evaluates a string
// with it (a function goes through the DevTools protocol instead).
const readPaint = () => {
  const b = (globalThis as unknown as BenchWindow).__bench
  const perf = performance as unknown as {
    getEntriesByName(name: string): ReadonlyArray<TimingEntry>
    getEntriesByType(type: string): ReadonlyArray<TimingEntry>
  }
  const fcp = perf.getEntriesByName("first-contentful-paint")[0]
  const nav = perf.getEntriesByType("navigation")[0]
  const assets = perf
    .getEntriesByType("resource")
    .filter((e) => /\.(?:js|css)$/.test(new URL(e.name).pathname))
  return {
    ...b,
    fcp: fcp === undefined ? null : fcp.startTime,
    domContentLoaded: nav?.domContentLoadedEventEnd ?? null,
    assetsLoaded: assets.length === 0 ? null : Math.max(...assets.map((e) => e.responseEnd ?? 0)),
  }
}

const painted = () => {
  const b = (globalThis as unknown as Partial<BenchWindow>).__bench
  return b !== undefined && b.paintAt !== null && b.nextFrameAt !== null
}

type PaintRead = BenchWindow["__bench"] & {
  fcp: number | null
  domContentLoaded: number | null
  assetsLoaded: number | null
}

const num = (n: number | null) => (n === null ? Number.NaN : n)

const navigate = async (page: Page, url: string): Promise<PaintTimes> => {
  await page.goto(url, { waitUntil: "commit" })
  await page.waitForFunction(painted, undefined, { timeout: 30_000, polling: 50 })
  const r: PaintRead = await page.evaluate(readPaint)
  return {
    paintMs: num(r.paintAt),
    nextFrameMs: num(r.nextFrameAt),
    termCreatedMs: num(r.termAt),
    fcpMs: num(r.fcp),
    socketMs: num(r.socketAt),
    snapshotMs: num(r.snapshotAt),
    domContentLoadedMs: num(r.domContentLoaded),
    assetsLoadedMs: num(r.assetsLoaded),
    renderer: r.renderer ?? "?",
  }
}

/** As e2e launches it; `extra` flags e.g. `--disable-3d-apis` (no WebGL: xterm's DOM renderer). */
const launch = (extra: ReadonlyArray<string> = []): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      ...extra,
    ],
  })

type StorageState = Awaited<ReturnType<BrowserContext["storageState"]>>

const firstContentfulPaint = () => {
  const perf = performance as unknown as {
    getEntriesByName(name: string): ReadonlyArray<TimingEntry>
  }
  return perf.getEntriesByName("first-contentful-paint")[0]?.startTime ?? false
}

/**
 * The browser's floor at this moment: first contentful paint of a trivial page (the JSON of
 * `/api/health`) in a fresh context, on the same server.
 */
const trivialPaint = async (browser: Browser, url: string): Promise<number> => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  try {
    const page = await context.newPage()
    await page.goto(`${url}/api/health`, { waitUntil: "commit" })
    const fcp = await page.waitForFunction(firstContentfulPaint, undefined, {
      timeout: 30_000,
      polling: 50,
    })
    const value: unknown = await fcp.jsonValue()
    return typeof value === "number" ? value : Number.NaN
  } finally {
    await context.close()
  }
}

/** Round-trip time added to each request in the "over a network" navigations (CDP emulation). */
const ADDED_LATENCY_MS = 100

/**
 * One cold navigation: a fresh context (empty cache), the init script, the runner page;
 * with `latencyMs`, Chromium adds that much to every request's round trip (a LAN or VPN's).
 */
const coldNavigation = async (
  browser: Browser,
  storageState: StorageState,
  url: string,
  latencyMs = 0,
) => {
  const context = await browser.newContext({ storageState, viewport: { width: 1280, height: 900 } })
  try {
    await context.addInitScript(INIT_SCRIPT)
    const page = await context.newPage()
    if (latencyMs > 0) {
      const cdp = await context.newCDPSession(page)
      await cdp.send("Network.enable")
      await cdp.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: latencyMs,
        downloadThroughput: -1,
        uploadThroughput: -1,
      })
    }
    return await navigate(page, url)
  } finally {
    await context.close()
  }
}

/** JS/CSS paths Chromium fetched while loading `url` (cold context) until it settles. */
const fetchedAssets = async (
  browser: Browser,
  storageState: StorageState,
  url: string,
  ready: (page: Page) => Promise<void>,
) => {
  const context = await browser.newContext({ storageState, viewport: { width: 1280, height: 900 } })
  try {
    const page = await context.newPage()
    const paths: string[] = []
    const encodings = new Set<string>()
    page.on("response", (response) => {
      const path = new URL(response.url()).pathname
      if (!/\.(?:js|css)$/.test(path)) return
      paths.push(path)
      encodings.add(response.headers()["content-encoding"] ?? "identity")
    })
    await page.goto(url, { waitUntil: "load" })
    await ready(page)
    await page.waitForLoadState("networkidle")
    return { set: sizesOf(paths), encodings: [...encodings] }
  } finally {
    await context.close()
  }
}

/** `git -C cwd ...args` through argv; fails with its stderr on a non-zero exit. */
const git = (cwd: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn("git", ["-C", cwd, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000)
    })
    child.once("error", reject)
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`git -C ${cwd} ${args.join(" ")}: ${stderr}`)),
    )
  })

/** `count` small repositories (a README and a source file, one commit) under `root`. */
const makeRepositories = async (root: string, count: number): Promise<ReadonlyArray<string>> => {
  const repos: string[] = []
  for (let i = 0; i < count; i++) {
    const repo = join(root, `project-${String(i).padStart(2, "0")}`)
    mkdirSync(join(repo, "src"), { recursive: true })
    writeFileSync(join(repo, "README.md"), `# project ${i}\n`)
    writeFileSync(join(repo, "src", "main.ts"), `export const project = ${i}\n`)
    await git(repo, ["init", "--quiet", "--initial-branch=main"])
    await git(repo, ["add", "-A", "--", "."])
    await git(repo, [
      "-c",
      "user.name=geppetto bench",
      "-c",
      "user.email=bench@geppetto.invalid",
      "-c",
      "commit.gpgsign=false",
      "commit",
      "--quiet",
      "--no-verify",
      "-m",
      "bench project",
    ])
    repos.push(repo)
  }
  return repos
}

/**
 * `BOARD_RUNNERS` sleeping shell runners, runner i in repository i mod `repos.length`; the
 * first, third and fifth tens with a worktree of their own (the cards with a branch), 4 POSTs
 * at a time.
 */
const startBoardRunners = async (server: TimedServer, repos: ReadonlyArray<string>) => {
  let next = 0
  let isolated = 0
  const worker = async () => {
    for (let i = next++; i < BOARD_RUNNERS; i = next++) {
      const own = Math.floor(i / repos.length) % 2 === 0
      if (own) isolated++
      await within(
        60_000,
        `POST /api/runners (board runner ${i + 1})`,
        api(server, "POST", "/api/runners", {
          provider: "shell",
          command: ["sleep", "3600"],
          cwd: repos[i % repos.length],
          name: `board-${String(i).padStart(2, "0")}`,
          cols: 120,
          rows: 32,
          ...(own ? { worktree: true } : {}),
        }),
      )
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return { isolated }
}

// The moment the board holds every card, and the next frame (a string, as INIT_SCRIPT).
const BOARD_SCRIPT = `(() => {
  const bench = { cardsAt: null, frameAt: null, projects: 0 };
  window.__benchBoard = bench;
  const observer = new MutationObserver(() => {
    if (bench.cardsAt !== null) return;
    if (document.querySelectorAll("article[data-runner-id]").length < ${BOARD_RUNNERS}) return;
    bench.cardsAt = performance.now();
    bench.projects = document.querySelectorAll("section.project").length;
    observer.disconnect();
    requestAnimationFrame(() => { bench.frameAt = performance.now(); });
  });
  observer.observe(document, { childList: true, subtree: true });
})();`

interface BoardWindow {
  __benchBoard: { cardsAt: number | null; frameAt: number | null; projects: number }
}

const boardRendered = () => {
  const b = (globalThis as unknown as Partial<BoardWindow>).__benchBoard
  return b !== undefined && b.frameAt !== null
}

const readBoard = () => {
  const b = (globalThis as unknown as BoardWindow).__benchBoard
  const perf = performance as unknown as {
    getEntriesByName(name: string): ReadonlyArray<TimingEntry>
  }
  return { ...b, fcp: perf.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null }
}

interface BoardTimes {
  readonly cardsMs: number
  readonly frameMs: number
  readonly fcpMs: number
  readonly projects: number
}

/** One cold navigation to the board: navigation start → every card in the DOM. */
const coldBoard = async (
  browser: Browser,
  storageState: StorageState,
  url: string,
): Promise<BoardTimes> => {
  const context = await browser.newContext({ storageState, viewport: { width: 1280, height: 900 } })
  try {
    await context.addInitScript(BOARD_SCRIPT)
    const page = await context.newPage()
    await page.goto(url, { waitUntil: "commit" })
    await page.waitForFunction(boardRendered, undefined, { timeout: 30_000, polling: 50 })
    const r = await page.evaluate(readBoard)
    return {
      cardsMs: num(r.cardsAt),
      frameMs: num(r.frameAt),
      fcpMs: num(r.fcp),
      projects: r.projects,
    }
  } finally {
    await context.close()
  }
}

/** A logged-in browser state for `server` (the session cookie). */
const loginState = async (browser: Browser, server: TimedServer): Promise<StorageState> => {
  const login = await browser.newContext()
  try {
    const response = await login.request.post(`${server.url}/api/login`, {
      data: { token: TOKEN },
    })
    if (!response.ok()) throw new Error(`login: ${response.status()}`)
    return await login.storageState()
  } finally {
    await login.close()
  }
}

const stopBenchServer = async (server: TimedServer) => {
  await stopServerAndRunners(server)
  removeServerLeftovers(server)
}

export const dashboardScenario = async (options: DashboardOptions): Promise<ScenarioReport> => {
  const testBuild = await ensureTestBuild()
  const productionStale = staleSources(BUILD)
  const staticSet = staticFirstLoad()
  const xtermRef = [
    storeFile("@xterm+xterm@6.0.0", "@xterm/xterm/lib/xterm.mjs"),
    storeFile("@xterm+addon-webgl@0.19.0", "@xterm/addon-webgl/lib/addon-webgl.mjs"),
    storeFile("@xterm+xterm@6.0.0", "@xterm/xterm/css/xterm.css"),
  ].reduce((sum, b) => sum + (b === undefined ? Number.NaN : gzipKB(b)), 0)
  const reposDir = mkdtempSync(join(tmpdir(), "geppetto-bench-dashboard-repos-"))
  let sizeServer: TimedServer | undefined
  let paintServer: TimedServer | undefined
  let browser: Browser | undefined
  try {
    // ---- the production build: what the browser downloads, the board with 50 runners ----
    sizeServer = await spawnServer({ label: "dashboard" })
    const sizeRunner = await startRunner(
      sizeServer,
      ["sh", "-c", `printf '%s ready\\n' ${MARKER}; exec sleep 3600`],
      "sizes",
    )
    if (sizeRunner === undefined) throw new Error("no runner")
    browser = await launch()
    const sizeState = await loginState(browser, sizeServer)

    log("  dashboard: assets fetched by the board and a runner page (production build) ...")
    const board = await fetchedAssets(browser, sizeState, `${sizeServer.url}/`, (page) =>
      page.getByRole("heading", { name: "Runners", level: 1 }).waitFor(),
    )
    const runnerPage = await fetchedAssets(
      browser,
      sizeState,
      `${sizeServer.url}/runners/${sizeRunner.id}`,
      async (page) => {
        await page.locator(".xterm-screen").first().waitFor({ timeout: 30_000 })
        // The WebGL addon comes after the first screen, and the network can go idle before it
        // is asked for: wait for the renderer to switch (where the browser has WebGL2; headless
        // Chromium does, in software), so "as fetched" counts it every run.
        await page
          .getByText(/ · WebGL · /)
          .waitFor({ timeout: 10_000 })
          .catch(() => {})
      },
    )
    await api(sizeServer, "DELETE", `/api/runners/${sizeRunner.id}`)

    log(`  dashboard: ${BOARD_RUNNERS} runners in ${BOARD_PROJECTS} git repositories ...`)
    const repos = await makeRepositories(reposDir, BOARD_PROJECTS)
    const s0 = performance.now()
    const { isolated } = await startBoardRunners(sizeServer, repos)
    const startS = (performance.now() - s0) / 1000
    const lastCard = (page: Page) =>
      page
        .locator("article[data-runner-id]")
        .nth(BOARD_RUNNERS - 1)
        .waitFor({ timeout: 30_000 })
    const board50 = await fetchedAssets(browser, sizeState, `${sizeServer.url}/`, lastCard)
    log(`  dashboard: ${options.navigations} cold navigations to the board of ${BOARD_RUNNERS} ...`)
    const boardRuns: BoardTimes[] = []
    for (let i = 0; i < options.navigations; i++) {
      boardRuns.push(await coldBoard(browser, sizeState, `${sizeServer.url}/`))
    }
    await stopBenchServer(sizeServer)
    sizeServer = undefined

    // ---- the test build: time to the first terminal paint ----
    paintServer = await spawnServer({
      label: "dashboard-paint",
      env: { GEPPETTO_DASHBOARD_DIR: BUILD_TEST },
    })
    const runner = await startRunner(
      paintServer,
      ["sh", "-c", `printf '%s ready\\n' ${MARKER}; exec sleep 3600`],
      "paint",
    )
    if (runner === undefined) throw new Error("no runner")
    const storageState = await loginState(browser, paintServer)
    const runnerUrl = `${paintServer.url}/runners/${runner.id}`

    log(`  dashboard: ${options.navigations} cold and warm navigations to a runner page ...`)
    const cold: PaintTimes[] = []
    const warm: PaintTimes[] = []
    const warmContext = await browser.newContext({
      storageState,
      viewport: { width: 1280, height: 900 },
    })
    await warmContext.addInitScript(INIT_SCRIPT)
    const warmPage = await warmContext.newPage()
    await navigate(warmPage, runnerUrl) // fills the cache; not counted
    const floor: number[] = []
    for (let i = 0; i < options.navigations; i++) {
      floor.push(await trivialPaint(browser, paintServer.url))
      cold.push(await coldNavigation(browser, storageState, runnerUrl))
      await warmPage.goto("about:blank")
      warm.push(await navigate(warmPage, runnerUrl))
    }
    await warmContext.close()
    // Cold again, with a network's round trip added: what requests wait on one another shows.
    const slowRuns = options.navigations
    log(
      `  dashboard: ${slowRuns} cold navigations with ${ADDED_LATENCY_MS} ms of added latency ...`,
    )
    const slow: PaintTimes[] = []
    for (let i = 0; i < slowRuns; i++) {
      slow.push(await coldNavigation(browser, storageState, runnerUrl, ADDED_LATENCY_MS))
    }
    // The same cold navigations with WebGL off: headless Chromium here renders WebGL in
    // software (SwiftShader), so this tells the renderer's share from the rest.
    const noGlRuns = Math.min(3, options.navigations)
    log(`  dashboard: ${noGlRuns} cold navigations with WebGL off ...`)
    await browser.close()
    browser = await launch(["--disable-3d-apis"])
    const noGl: PaintTimes[] = []
    for (let i = 0; i < noGlRuns; i++) {
      noGl.push(await coldNavigation(browser, storageState, runnerUrl))
    }
    await api(paintServer, "DELETE", `/api/runners/${runner.id}`)

    const coldPaint = summarize(cold.map((p) => p.paintMs))
    const warmPaint = summarize(warm.map((p) => p.paintMs))
    const medOf = (list: ReadonlyArray<PaintTimes>, pick: (p: PaintTimes) => number) =>
      median(list.map(pick))
    const boardMed = (pick: (b: BoardTimes) => number) => median(boardRuns.map(pick))
    const setJson = (s: AssetSet) => ({
      jsGzipKB: s.jsGzipKB,
      cssGzipKB: s.cssGzipKB,
      totalGzipKB: s.totalGzipKB,
      totalRawKB: s.totalRawKB,
      files: s.files.map((f) => ({ ...f })),
    })
    const encodings = [
      ...new Set([...board.encodings, ...board50.encodings, ...runnerPage.encodings]),
    ]
    const extraBoardFiles = board50.set.files
      .map((f) => f.path)
      .filter((path) => !board.set.files.some((f) => f.path === path))
    const projectsShown = [...new Set(boardRuns.map((b) => b.projects))]
    return {
      scenario: "dashboard",
      title: "dashboard bundle size and time to the first terminal paint",
      setup: `sizes and the board on the production build (apps/dashboard/build), the paint on the test build (apps/dashboard/build-test, with the hooks${testBuild.built ? `; built for this run in ${(testBuild.ms / 1000).toFixed(0)} s` : ""}), each served by the built server; headless ${CHROMIUM}; the board with ${BOARD_RUNNERS} sleeping shell runners in ${BOARD_PROJECTS} git repositories (${isolated} with their own worktree; started in ${startS.toFixed(1)} s), ${options.navigations} cold navigations to it; ${options.navigations} cold (fresh context) and ${options.navigations} warm navigations to a runner page whose pane shows one line, and ${options.navigations} more cold ones with ${ADDED_LATENCY_MS} ms added to each round trip (Chromium's network emulation)`,
      figures: [
        {
          name: "index.html first load, JS+CSS gzip-9",
          value: staticSet.totalGzipKB,
          unit: "KB",
          target: { op: "<", limit: 200 },
          baseline: { label: "raw bytes", value: staticSet.totalRawKB },
        },
        {
          name: "board `/` as fetched, JS+CSS gzip-9",
          value: board.set.totalGzipKB,
          unit: "KB",
          target: { op: "<", limit: 200 },
          baseline: { label: "index.html closure", value: staticSet.totalGzipKB },
        },
        {
          name: `board, ${BOARD_RUNNERS} runners in ${BOARD_PROJECTS} projects, as fetched, JS+CSS gzip-9`,
          value: board50.set.totalGzipKB,
          unit: "KB",
          target: { op: "<", limit: 200 },
          baseline: { label: "board with 1 runner", value: board.set.totalGzipKB },
        },
        {
          name: `navigation -> ${BOARD_RUNNERS} cards on the board, median (cold)`,
          value: boardMed((b) => b.cardsMs),
          unit: "ms",
          target: { op: "<", limit: 500 },
          baseline: { label: "first contentful paint", value: boardMed((b) => b.fcpMs) },
          digits: 0,
        },
        {
          name: "runner page as fetched, JS+CSS gzip-9",
          value: runnerPage.set.totalGzipKB,
          unit: "KB",
          target: { op: "<", limit: 200 },
          baseline: { label: "xterm.js + webgl addon + css alone", value: xtermRef },
        },
        {
          name: "runner page before its first screen (all but the WebGL addon), JS+CSS gzip-9",
          value: runnerPage.set.totalGzipKB - afterFirstScreenKB(runnerPage.set),
          unit: "KB",
          baseline: { label: "as fetched", value: runnerPage.set.totalGzipKB },
        },
        {
          name: "navigation -> terminal painted, median (cold)",
          value: medOf(cold, (p) => p.paintMs),
          unit: "ms",
          target: { op: "<", limit: 500 },
          baseline: { label: "first contentful paint", value: medOf(cold, (p) => p.fcpMs) },
          digits: 0,
        },
        {
          name: "a trivial page (/api/health JSON): first paint, median (cold)",
          value: median(floor),
          unit: "ms",
          digits: 0,
        },
        {
          name: "navigation -> terminal painted, median (warm)",
          value: medOf(warm, (p) => p.paintMs),
          unit: "ms",
          target: { op: "<", limit: 500 },
          baseline: { label: "first contentful paint", value: medOf(warm, (p) => p.fcpMs) },
          digits: 0,
        },
        {
          name: "navigation -> terminal painted, median (cold, WebGL off)",
          value: medOf(noGl, (p) => p.paintMs),
          unit: "ms",
          target: { op: "<", limit: 500 },
          baseline: { label: "first contentful paint", value: medOf(noGl, (p) => p.fcpMs) },
          digits: 0,
        },
        {
          name: `navigation -> terminal painted, median (cold, ${ADDED_LATENCY_MS} ms added to each round trip)`,
          value: medOf(slow, (p) => p.paintMs),
          unit: "ms",
          baseline: { label: "cold, no latency added", value: medOf(cold, (p) => p.paintMs) },
          digits: 0,
        },
        {
          name: "navigation -> xterm created, median (cold)",
          value: medOf(cold, (p) => p.termCreatedMs),
          unit: "ms",
          baseline: {
            label: "last JS/CSS response in",
            value: medOf(cold, (p) => p.assetsLoadedMs),
          },
          digits: 0,
        },
        {
          name: "navigation -> snapshot on the terminal socket, median (cold)",
          value: medOf(cold, (p) => p.snapshotMs),
          unit: "ms",
          baseline: { label: "socket opened", value: medOf(cold, (p) => p.socketMs) },
          digits: 0,
        },
      ],
      details: {
        static: setJson(staticSet),
        board: setJson(board.set),
        board50: setJson(board50.set),
        board50Runs: boardRuns.map((b) => ({ ...b })),
        runnerPage: setJson(runnerPage.set),
        contentEncodings: encodings,
        xtermReferenceGzipKB: xtermRef,
        testBuild: { ...testBuild },
        productionBuildOlderThan: [...productionStale],
        cold: cold.map((p) => ({ ...p })),
        coldWebglOff: noGl.map((p) => ({ ...p })),
        trivialPageFcpMs: floor,
        warm: warm.map((p) => ({ ...p })),
        coldPaint: { ...coldPaint },
        warmPaint: { ...warmPaint },
      },
      notes: [
        `the server sent content-encoding: ${encodings.join(", ")} (gzip figures are what compression would send)`,
        `renderer: ${[...new Set([...cold, ...warm].map((p) => p.renderer))].join(", ")}, with WebGL off ${[...new Set(noGl.map((p) => p.renderer))].join(", ")}; paint = the xterm render holding the text, the next frame starts ${Math.round(medOf(cold, (p) => p.nextFrameMs - p.paintMs))} ms later (median, cold)`,
        `board of ${BOARD_RUNNERS}: ${projectsShown.join(", ")} project group(s) in the DOM when the last card came; ${extraBoardFiles.length === 0 ? "the same JS/CSS files as the board with 1 runner" : `files beyond the 1-runner board: ${extraBoardFiles.join(", ")}`}; the next frame ${Math.round(boardMed((b) => b.frameMs - b.cardsMs))} ms after the cards (median)`,
        ...(productionStale.length === 0
          ? []
          : [
              `the production build is older than ${productionStale.join(" and ")}: its sizes are those of the last \`pnpm build\` (\`pnpm bench\` builds first)`,
            ]),
      ],
    }
  } finally {
    await browser?.close()
    if (sizeServer !== undefined) await stopBenchServer(sizeServer)
    if (paintServer !== undefined) await stopBenchServer(paintServer)
    rmSync(reposDir, { recursive: true, force: true })
  }
}
