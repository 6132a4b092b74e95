/**
 * dashboard: what the browser downloads, and how soon a terminal shows output.
 *
 *   size   gzip (zlib level 9) of the JS and CSS a first page load fetches: (a) statically,
 *          the built index.html's <script>/<link rel=modulepreload|stylesheet> and the static
 *          imports of those chunks, transitively; (b) as Chromium fetched them for the board
 *          (`/`) and for a runner page (`/runners/ID`, which adds xterm.js). The server sends
 *          these files uncompressed (no compression plugin), so gzip is what a compressing
 *          proxy would send; the raw bytes are reported too.
 *   paint  navigation start → the first xterm render whose buffer holds the runner's output
 *          (an init script wraps `window.__geppettoTerm`, the hook the e2e tests read, and
 *          listens to `term.onRender`); cold (a fresh browser context each time: empty HTTP
 *          cache) and warm (the same context again). Baseline: first contentful paint of the
 *          same navigations.
 *
 * Chromium: Debian's `/usr/bin/chromium` (GEPPETTO_CHROMIUM overrides), launched as e2e does.
 */
import { readFileSync } from "node:fs"
import { join, posix } from "node:path"
import { gzipSync } from "node:zlib"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { median, summarize } from "../../../packages/runner/bench/stats.js"
import {
  api,
  log,
  spawnServer,
  startRunner,
  stopServerAndRunners,
  type TimedServer,
  TOKEN,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface DashboardOptions {
  readonly navigations: number
}

export const dashboardDefaults: DashboardOptions = { navigations: 5 }
export const dashboardQuick: DashboardOptions = { navigations: 2 }

const BUILD = join(import.meta.dirname, "..", "..", "dashboard", "build")
const NODE_MODULES = join(import.meta.dirname, "..", "..", "..", "node_modules", ".pnpm")
const CHROMIUM = process.env.GEPPETTO_CHROMIUM ?? "/usr/bin/chromium"
const MARKER = "BENCH-PAINT-MARKER"

const gzipKB = (bytes: Buffer) => gzipSync(bytes, { level: 9 }).length / 1024

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

/** One cold navigation: a fresh context (empty cache), the init script, the runner page. */
const coldNavigation = async (browser: Browser, storageState: StorageState, url: string) => {
  const context = await browser.newContext({ storageState, viewport: { width: 1280, height: 900 } })
  try {
    await context.addInitScript(INIT_SCRIPT)
    return await navigate(await context.newPage(), url)
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

export const dashboardScenario = async (options: DashboardOptions): Promise<ScenarioReport> => {
  const staticSet = staticFirstLoad()
  const xtermRef = [
    storeFile("@xterm+xterm@6.0.0", "@xterm/xterm/lib/xterm.mjs"),
    storeFile("@xterm+addon-webgl@0.19.0", "@xterm/addon-webgl/lib/addon-webgl.mjs"),
    storeFile("@xterm+xterm@6.0.0", "@xterm/xterm/css/xterm.css"),
  ].reduce((sum, b) => sum + (b === undefined ? Number.NaN : gzipKB(b)), 0)
  const server: TimedServer = await spawnServer({ label: "dashboard" })
  let browser: Browser | undefined
  try {
    const runner = await startRunner(
      server,
      ["sh", "-c", `printf '%s ready\\n' ${MARKER}; exec sleep 3600`],
      "paint",
    )
    if (runner === undefined) throw new Error("no runner")
    browser = await launch()
    const login = await browser.newContext()
    const response = await login.request.post(`${server.url}/api/login`, {
      data: { token: TOKEN },
    })
    if (!response.ok()) throw new Error(`login: ${response.status()}`)
    const storageState = await login.storageState()
    await login.close()
    const runnerUrl = `${server.url}/runners/${runner.id}`

    log("  dashboard: assets fetched by the board and a runner page ...")
    const board = await fetchedAssets(browser, storageState, `${server.url}/`, (page) =>
      page.getByRole("heading", { name: "Runners", level: 1 }).waitFor(),
    )
    const runnerPage = await fetchedAssets(browser, storageState, runnerUrl, async (page) => {
      await page.waitForFunction(() => "__geppettoTerm" in globalThis, undefined, {
        timeout: 30_000,
      })
    })

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
      floor.push(await trivialPaint(browser, server.url))
      cold.push(await coldNavigation(browser, storageState, runnerUrl))
      await warmPage.goto("about:blank")
      warm.push(await navigate(warmPage, runnerUrl))
    }
    await warmContext.close()
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
    await api(server, "DELETE", `/api/runners/${runner.id}`)

    const coldPaint = summarize(cold.map((p) => p.paintMs))
    const warmPaint = summarize(warm.map((p) => p.paintMs))
    const medOf = (list: ReadonlyArray<PaintTimes>, pick: (p: PaintTimes) => number) =>
      median(list.map(pick))
    const setJson = (s: AssetSet) => ({
      jsGzipKB: s.jsGzipKB,
      cssGzipKB: s.cssGzipKB,
      totalGzipKB: s.totalGzipKB,
      totalRawKB: s.totalRawKB,
      files: s.files.map((f) => ({ ...f })),
    })
    const encodings = [...new Set([...board.encodings, ...runnerPage.encodings])]
    return {
      scenario: "dashboard",
      title: "dashboard bundle size and time to the first terminal paint",
      setup: `built dashboard (apps/dashboard/build) served by the built server; headless ${CHROMIUM}; ${options.navigations} cold (fresh context) and ${options.navigations} warm navigations to a runner page whose pane shows one line`,
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
          name: "runner page as fetched, JS+CSS gzip-9",
          value: runnerPage.set.totalGzipKB,
          unit: "KB",
          target: { op: "<", limit: 200 },
          baseline: { label: "xterm.js + webgl addon + css alone", value: xtermRef },
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
        runnerPage: setJson(runnerPage.set),
        contentEncodings: encodings,
        xtermReferenceGzipKB: xtermRef,
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
      ],
    }
  } finally {
    await browser?.close()
    await stopServerAndRunners(server)
  }
}
