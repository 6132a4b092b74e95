import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { RunnerDetail, RunnerSummary } from "@geppetto/protocol"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { screenshot, terminalLines } from "./helpers/browser.js"
import { repoRoot, TestServer, waitFor } from "./helpers/server.js"
import { fakeBin, pathWith, removeDirs, tempDir, useOperatorSession } from "./helpers/session.js"

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

let bin: string | undefined
let homes = ""
let work = ""
let server: TestServer
let page: Page

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

useOperatorSession("conversation-agents", {
  prepare: () => {
    bin = fakeBin("agents", {
      gemini: { copy: geminiQwen },
      qwen: { copy: geminiQwen },
      opencode: { script: OPENCODE },
    })
    homes = tempDir("agents-homes")
    work = tempDir("agents-work")
    return new TestServer({
      env: {
        PATH: pathWith(bin),
        GEMINI_CLI_HOME: join(homes, "gemini"),
        QWEN_HOME: join(homes, "qwen"),
      },
    })
  },
  ready: (session) => {
    server = session.server
    page = session.page
  },
  cleanup: () => removeDirs(bin, homes, work),
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

  it.each([
    { provider: "gemini", button: "Continue", fork: false },
    { provider: "qwen", button: "Fork", fork: true },
  ])(
    "$provider: a finished session's page offers $button, which starts a runner with --resume",
    async ({ provider, button, fork }) => {
      const cwd = join(work, `${provider}-continued`)
      mkdirSync(cwd)
      // The fake agent writes its session and, finding `stop`, ends at once.
      writeFileSync(join(cwd, "stop"), "")
      const name = `e2e-${provider}-done`
      const parent = await server.api<RunnerSummary>("/api/runners", {
        method: "POST",
        body: { provider, cwd, name },
      })
      const transcript = await waitFor(
        () =>
          server
            .api<{ sessionId: string }>(`/api/runners/${parent.id}/transcript?limit=1`)
            .catch(() => undefined),
        `the finished ${provider} runner's transcript`,
      )
      await waitFor(
        async () =>
          (await server.api<RunnerDetail>(`/api/runners/${parent.id}`)).status !== "running",
        `the ${provider} runner to end`,
      )
      await page.goto(`${server.url}/runners/${encodeURIComponent(parent.id)}`)
      const form = page.getByRole("form", { name: "Continue this conversation" })
      await form.waitFor()
      // Gemini CLI has no fork; Qwen Code has.
      expect(await form.getByRole("button", { name: "Fork" }).count()).toBe(fork ? 1 : 0)
      await form.getByLabel("Next prompt (optional)").fill("and the tests")
      await form.getByRole("button", { name: button }).click()
      await page.waitForURL((url) => !url.pathname.endsWith(encodeURIComponent(parent.id)))
      await page.getByTestId("continued-from").getByRole("link", { name }).waitFor()
      const childId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "")
      const child = await server.api<RunnerDetail>(`/api/runners/${encodeURIComponent(childId)}`)
      expect(child.parentId).toBe(parent.id)
      const argv = [
        `arg:--resume=${transcript.sessionId}`,
        ...(fork ? ["arg:--fork-session"] : []),
        "arg:--prompt-interactive=and the tests",
      ]
      // Its terminal, on the page the button opened, shows what the agent was run with.
      let lines: string[] = []
      await waitFor(
        async () => {
          lines = await terminalLines(page)
          return argv.every((a) => lines.includes(a))
        },
        () => `the new runner's argv; terminal: ${lines.join("\n")}`,
      )
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
