import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { normalize, repoRoot, type TestServer, waitFor } from "./server.js"

/** Screenshots and traces land here (CI keeps `test-results/` as artifacts). */
export const artifactsDir = join(repoRoot, "test-results", "e2e")

export const CHROMIUM_PATH = process.env.GEPPETTO_CHROMIUM ?? "/usr/bin/chromium"
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
]

/**
 * Debian's Chromium, headless. Playwright gives every launch a fresh temporary user-data dir
 * (deleted on close) and every context its own cookies and permissions.
 */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  })

/** A context for one person, traced so a failure leaves a trace to open. */
export const newContext = async (
  browser: Browser,
  server: TestServer,
  options: { readonly phone?: boolean } = {},
): Promise<BrowserContext> => {
  const context = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    ...(options.phone ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
  })
  await context.grantPermissions(["notifications", "clipboard-read", "clipboard-write"], {
    origin: server.url,
  })
  await context.tracing.start({ screenshots: true, snapshots: true })
  return context
}

/** Saves the context's trace (on failure) or drops it. */
export const endTrace = async (context: BrowserContext, name: string | undefined) => {
  if (name === undefined) {
    await context.tracing.stop()
    return
  }
  mkdirSync(artifactsDir, { recursive: true })
  await context.tracing.stop({ path: join(artifactsDir, `${name}.trace.zip`) })
}

export const screenshot = async (page: Page, name: string, fullPage = true) => {
  mkdirSync(artifactsDir, { recursive: true })
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage })
}

/** Logs in the way the server's start banner says: `/?token=…`, which redirects to `/`. */
export const loginWithLink = async (page: Page, server: TestServer, token: string) => {
  await page.goto(`${server.url}/?token=${encodeURIComponent(token)}`)
  await page.getByRole("heading", { name: "Runners", level: 1 }).waitFor()
}

/** The text rows of the browser terminal's screen, read through xterm's buffer API. */
export const terminalLines = async (page: Page): Promise<string[]> =>
  normalize(
    await page.evaluate(() => {
      const term = (window as unknown as { __geppettoTerm?: XtermLike }).__geppettoTerm
      if (term === undefined) return []
      const buffer = term.buffer.active
      const lines: string[] = []
      for (let y = buffer.baseY; y < buffer.baseY + term.rows; y++) {
        lines.push(buffer.getLine(y)?.translateToString(true) ?? "")
      }
      return lines
    }),
  )

interface XtermLike {
  rows: number
  buffer: {
    active: {
      baseY: number
      getLine(y: number): { translateToString(trim: boolean): string } | undefined
    }
  }
}

/**
 * The fidelity check: the browser terminal's rows equal `tmux capture-pane -p`, line by line,
 * once output has settled (polled: both sides change while a program draws).
 */
export const expectTerminalMatchesPane = async (
  page: Page,
  server: TestServer,
  paneId: string,
  what: string,
) => {
  let last: { browser: string[]; tmux: string[] } = { browser: [], tmux: [] }
  await waitFor(
    async () => {
      const browser = await terminalLines(page)
      const tmux = server.capture(paneId)
      last = { browser, tmux }
      return browser.length > 0 && JSON.stringify(browser) === JSON.stringify(tmux)
    },
    () =>
      `${what}: the browser terminal to equal tmux capture-pane\n--- browser\n${last.browser.join("\n")}\n--- tmux\n${last.tmux.join("\n")}`,
    20_000,
  )
}
