import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { RunnerDetail, RunnerSummary } from "@geppetto/protocol"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { screenshot } from "./helpers/browser.js"
import { repoRoot, TestServer, waitFor } from "./helpers/server.js"
import { fakeBin, pathWith, removeDirs, tempDir, useOperatorSession } from "./helpers/session.js"

/*
 * A budget crossed while a runner runs, in the browser: the server test's fake `claude`
 * (apps/server/test/fixtures/budget-agent.sh) first on the server's PATH writes one message of
 * $0.00135 per turn (sonnet) into its session file; config.json holds a claude budget of
 * $0.002 a day, so the second turn crosses it. The board and the runner page show the notice
 * as "Over budget" with the budget's text, as text, with no quick replies and not as a
 * waiting prompt; the tab announces it once.
 */
const agent = join(repoRoot, "apps/server/test/fixtures/budget-agent.sh")
const NAME = "e2e-spender"

let bin: string | undefined
let claudeHome: string | undefined
let cwd = ""
let server: TestServer
let page: Page
let runner: RunnerSummary

const card = (p: Page, id: string) => p.locator(`article[data-runner-id="${id}"]`)

interface Hooks {
  __geppetto: {
    attention: { announced: Array<{ runnerId: string; title: string; body: string }> }
  }
}
const announced = (p: Page, id: string) =>
  p.evaluate(
    (runnerId) =>
      (window as unknown as Hooks).__geppetto.attention.announced.filter(
        (a) => a.runnerId === runnerId,
      ),
    id,
  )

useOperatorSession("budget", {
  prepare: () => {
    bin = fakeBin("budget", { claude: { copy: agent } })
    claudeHome = tempDir("budget-claude")
    cwd = tempDir("budget-work")
    const made = new TestServer({ env: { PATH: pathWith(bin), CLAUDE_CONFIG_DIR: claudeHome } })
    mkdirSync(made.dataDir, { recursive: true })
    writeFileSync(
      join(made.dataDir, "config.json"),
      JSON.stringify({ budgets: [{ provider: "claude", period: "day", maxUsd: 0.002 }] }),
    )
    return made
  },
  ready: (session) => {
    server = session.server
    page = session.page
  },
  cleanup: () => removeDirs(bin, claudeHome, cwd),
})

describe("a budget notice", () => {
  it("shows on the card as 'Over budget' with the budget's text, no replies, and is announced once", async () => {
    // The board is open (and has its list) before the crossing: the tab announces transitions.
    await page.waitForFunction(() => document.querySelector("main") !== null)
    runner = await server.api<RunnerSummary>("/api/runners", {
      method: "POST",
      body: { provider: "claude", cwd, name: NAME },
    })
    const c = card(page, runner.id)
    // Turn 1 ($0.00135) is under the budget: the card shows the cost, no notice.
    await waitFor(
      async () =>
        (await c
          .getByTestId("usage")
          .locator("dd")
          .last()
          .textContent()
          .catch(() => "")) === "$0.0014",
      () => `turn 1's cost on the card; screen: ${server.capture(NAME).join("\n")}`,
    )
    expect(await c.getByTestId("budget-notice").count()).toBe(0)

    writeFileSync(join(cwd, "turn2"), "")
    const badge = c.locator('[data-status="budget"]')
    await badge.waitFor({ timeout: 30_000 })
    expect(await badge.textContent()).toContain("Over budget")

    const detail = (await server.api<RunnerDetail>(`/api/runners/${runner.id}`)).attentionDetail
    expect(detail).toContain("provider claude, per day, max $0.002")
    const notice = c.getByTestId("budget-notice")
    expect((await notice.textContent())?.replace(/\s+/g, " ").trim()).toBe(
      `Over budget: ${detail}. It keeps running.`,
    )
    // The budget's text is text: the only element inside is the label.
    expect(await notice.locator("*").count()).toBe(1)

    // A notice, not a prompt: no quick replies, no "Asks for", not drawn as waiting.
    expect(await c.getByRole("group", { name: /^Quick replies/ }).count()).toBe(0)
    expect(await c.getByRole("button", { name: "Yes" }).count()).toBe(0)
    expect(await c.locator(".asks").count()).toBe(0)
    const classes = (await c.getAttribute("class")) ?? ""
    expect(classes).toContain("tone-budget")
    expect(classes.split(/\s+/)).not.toContain("waiting")

    const seen = await waitFor(async () => {
      const list = await announced(page, runner.id)
      return list.length > 0 ? list : undefined
    }, "the notice announced")
    expect(seen).toEqual([
      {
        runnerId: runner.id,
        title: `${NAME} is over budget`,
        body: `${detail}. It keeps running · claude`,
      },
    ])
    await screenshot(page, "budget-board")
  })

  it("shows on the runner page as its own notice, the budget as text, nothing to answer", async () => {
    await card(page, runner.id).getByRole("link", { name: NAME }).click()
    const region = page.getByRole("region", { name: `${NAME} is over budget` })
    await region.waitFor()
    expect(await page.getByRole("region", { name: `${NAME} is waiting for you` }).count()).toBe(0)
    const detail = (await server.api<RunnerDetail>(`/api/runners/${runner.id}`)).attentionDetail
    const shown = region.getByTestId("budget-detail")
    expect(await shown.textContent()).toBe(detail)
    expect(await shown.locator("*").count()).toBe(0)
    expect(await region.getByRole("button").count()).toBe(0)
    expect(await region.textContent()).toContain("It keeps running")
    expect(await page.locator('header [data-status="budget"]').textContent()).toContain(
      "Over budget",
    )
    await screenshot(page, "budget-runner")

    // The bell menu says a push for "waits for me" covers a budget notice too.
    await page.getByRole("button", { name: /^Notifications/ }).click()
    await page
      .getByRole("dialog", { name: "Notifications" })
      .getByText("Waits for me or goes over a budget")
      .waitFor()
    // Announced once, however often the runner's summary changed since.
    expect(await announced(page, runner.id)).toHaveLength(1)
  })

  it("announces a permission prompt that comes up while the notice stands", async () => {
    // Waiting all along (the notice), then on a prompt: a new prompt, so news again.
    writeFileSync(join(cwd, "ask"), "")
    await page.locator('header [data-status="waiting"]').waitFor({ timeout: 30_000 })
    const seen = await waitFor(async () => {
      const list = await announced(page, runner.id)
      return list.length > 1 ? list : undefined
    }, "the prompt announced")
    expect(seen.map((a) => a.title)).toEqual([
      `${NAME} is over budget`,
      `${NAME} is waiting for you`,
    ])
  })
})
