import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RunnerSummary } from "@geppetto/protocol"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  endTrace,
  launchChromium,
  loginWithLink,
  newContext,
  screenshot,
} from "./helpers/browser.js"
import { repoRoot, TestServer, waitFor } from "./helpers/server.js"

/*
 * The Conversation view for the other agents: a fake `gemini` and `qwen` (the server test's
 * apps/server/test/fixtures/gemini-qwen-agent.sh, which writes each CLI's own session file
 * where the real one does) get their conversation shown; a fake `opencode`, whose sessions the
 * server does not read (a 404), gets the tab and a sentence saying so.
 */
const geminiQwen = join(repoRoot, "apps/server/test/fixtures/gemini-qwen-agent.sh")
const OPENCODE = `#!/bin/sh
[ "$1" = --version ] && { echo "1.18.0"; exit 0; }
echo "fake opencode: nothing written"
while [ ! -e stop ]; do sleep 0.1; done
`

let bin: string
let homes: string
let work: string
let server: TestServer
let browser: Browser
let operator: BrowserContext
let page: Page
let failed = false

const conversation = (p: Page) => p.getByRole("log", { name: "Messages and tool calls" })

const start = async (provider: string): Promise<RunnerSummary> => {
  const cwd = join(work, provider)
  mkdirSync(cwd)
  return server.api<RunnerSummary>("/api/runners", {
    method: "POST",
    body: { provider, cwd, name: `e2e-${provider}` },
  })
}

const openConversation = async (runner: RunnerSummary) => {
  await page.goto(`${server.url}/runners/${encodeURIComponent(runner.id)}`)
  await page.getByRole("tab", { name: "Conversation" }).click()
}

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "geppetto-e2e-agents-bin-"))
  homes = mkdtempSync(join(tmpdir(), "geppetto-e2e-agents-homes-"))
  work = mkdtempSync(join(tmpdir(), "geppetto-e2e-agents-work-"))
  for (const name of ["gemini", "qwen"]) {
    copyFileSync(geminiQwen, join(bin, name))
    chmodSync(join(bin, name), 0o755)
  }
  writeFileSync(join(bin, "opencode"), OPENCODE)
  chmodSync(join(bin, "opencode"), 0o755)
  server = new TestServer({
    env: {
      PATH: `${bin}:${process.env.PATH ?? ""}`,
      GEMINI_CLI_HOME: join(homes, "gemini"),
      QWEN_HOME: join(homes, "qwen"),
    },
  })
  await server.start()
  browser = await launchChromium()
  operator = await newContext(browser, server)
  page = await operator.newPage()
  await loginWithLink(page, server, server.operatorToken)
})

afterEach(async ({ task }) => {
  if (task.result?.state !== "fail") return
  failed = true
  await screenshot(page, `failed-${task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(
    () => {},
  )
})

afterAll(async () => {
  for (const provider of ["gemini", "qwen", "opencode"]) {
    if (work !== undefined) writeFileSync(join(work, provider, "stop"), "")
  }
  if (operator !== undefined) await endTrace(operator, failed ? "conversation-agents" : undefined)
  await browser?.close()
  await server?.stop()
  for (const dir of [bin, homes, work]) {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
})

describe("the Conversation view of other agents", () => {
  it.each(["gemini", "qwen"])(
    "shows %s's conversation, read from its own session file",
    async (provider) => {
      const runner = await start(provider)
      await waitFor(
        () =>
          server
            .api(`/api/runners/${runner.id}/transcript?limit=1`)
            .then(() => true)
            .catch(() => false),
        () => `${provider}'s transcript; screen: ${server.capture(runner.name).join("\n")}`,
      )
      await openConversation(runner)
      const log = conversation(page)
      await log.locator('li[data-kind="user"]', { hasText: "list the files" }).waitFor()
      await log.locator('li[data-kind="assistant"]', { hasText: "I'll list them." }).waitFor()
      const call = log.getByTestId("tool-call")
      expect(await call.locator("code.name").allTextContents()).toEqual(["run_shell_command"])
      expect(await page.getByTestId("no-transcript").count()).toBe(0)
    },
  )

  it("offers it for OpenCode too, and says OpenCode keeps no transcript it can read", async () => {
    const runner = await start("opencode")
    await waitFor(
      () => server.capture(runner.name).some((l) => l.includes("nothing written")),
      () => `the fake opencode; screen: ${server.capture(runner.name).join("\n")}`,
    )
    await openConversation(runner)
    const none = page.getByTestId("no-transcript")
    await none.waitFor()
    expect(await none.textContent()).toBe(
      "No conversation to show: OpenCode keeps no transcript we can read. Its terminal has all there is.",
    )
    expect(await conversation(page).count()).toBe(0)
    await screenshot(page, "conversation-opencode")
  })
})
