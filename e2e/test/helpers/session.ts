import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, afterEach, beforeAll } from "vitest"
import { endTrace, launchChromium, loginWithLink, newContext, screenshot } from "./browser.js"
import type { TestServer } from "./server.js"

/** A running server and an operator signed in on one page of a traced context. */
export interface OperatorSession {
  readonly server: TestServer
  readonly browser: Browser
  readonly context: BrowserContext
  readonly page: Page
}

interface SessionHooks {
  /** In beforeAll: what the server needs (fake CLIs, folders, config), and the server, unstarted. */
  readonly prepare: () => TestServer | Promise<TestServer>
  /** Once the operator is signed in: the file keeps what it uses. */
  readonly ready: (session: OperatorSession) => void | Promise<void>
  /** After the server stopped: temp folders, stop files. Runs also when set-up failed midway. */
  readonly cleanup?: () => void
}

/**
 * The browser set-up most e2e files share, registered as the file's hooks: the server from
 * `prepare` starts, Chromium launches, and an operator is signed in with the login link. A
 * failed test leaves a screenshot named after it; after all, the context's trace is kept as
 * `name` if any test failed, the browser closes, the server stops and `cleanup` runs.
 * Returns whether a test has failed so far (for a file's own extra traces).
 */
export const useOperatorSession = (name: string, hooks: SessionHooks): (() => boolean) => {
  let server: TestServer | undefined
  let browser: Browser | undefined
  let context: BrowserContext | undefined
  let page: Page | undefined
  let failed = false

  beforeAll(async () => {
    const started = await hooks.prepare()
    server = started
    await started.start()
    browser = await launchChromium()
    context = await newContext(browser, started)
    page = await context.newPage()
    await loginWithLink(page, started, started.operatorToken)
    await hooks.ready({ server: started, browser, context, page })
  })

  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return
    failed = true
    const shot = `failed-${name}-${task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 50)}`
    if (page !== undefined) await screenshot(page, shot).catch(() => {})
  })

  afterAll(async () => {
    try {
      if (context !== undefined) await endTrace(context, failed ? name : undefined)
      await browser?.close()
      await server?.stop()
    } finally {
      hooks.cleanup?.()
    }
  })

  return () => failed
}

/**
 * A temp folder of fake command-line tools to put first on a server's PATH: each command
 * name maps to a file copied there (a fixture script) or to a script's text, made executable.
 */
export const fakeBin = (
  label: string,
  tools: Readonly<Record<string, { readonly copy: string } | { readonly script: string }>>,
): string => {
  const bin = mkdtempSync(join(tmpdir(), `geppetto-e2e-${label}-bin-`))
  for (const [command, tool] of Object.entries(tools)) {
    const path = join(bin, command)
    if ("copy" in tool) copyFileSync(tool.copy, path)
    else writeFileSync(path, tool.script)
    chmodSync(path, 0o755)
  }
  return bin
}

/** `PATH` with `bin` first, for a server whose runners should find the fake tools. */
export const pathWith = (bin: string): string => `${bin}:${process.env.PATH ?? ""}`

/** A fresh temp folder, `geppetto-e2e-LABEL-…`. */
export const tempDir = (label: string): string =>
  mkdtempSync(join(tmpdir(), `geppetto-e2e-${label}-`))

/** Removes temp folders that were made (undefined or "" for one that was not). */
export const removeDirs = (...dirs: ReadonlyArray<string | undefined>) => {
  for (const dir of dirs)
    if (dir !== undefined && dir !== "") rmSync(dir, { recursive: true, force: true })
}
