import { join } from "node:path"
import type { RunnerDetail, RunnerSummary } from "@geppetto/protocol"
import type { Page, Route } from "playwright-core"
import { describe, expect, it } from "vitest"
import { screenshot } from "./helpers/browser.js"
import { repoRoot, TestServer, waitFor } from "./helpers/server.js"
import { fakeBin, pathWith, removeDirs, tempDir, useOperatorSession } from "./helpers/session.js"

/*
 * Auto-approve in the dashboard, against a real server and tmux: a fake `claude` first on the
 * server's PATH (so on its runners') draws Claude Code's recorded permission dialog for each
 * command in APPROVE_AGENT_COMMANDS, one after the other. The server's own test uses the same
 * agent (apps/server/test/fixtures/approve-agent.sh): one recording of the dialog, not two.
 */
const agent = join(repoRoot, "apps/server/test/fixtures/approve-agent.sh")

let bin: string | undefined
let work = ""
let server: TestServer
let page: Page

const card = (p: Page, id: string) => p.locator(`article[data-runner-id="${id}"]`)
const summaryOf = (id: string) => server.api<RunnerSummary>(`/api/runners/${id}`)
const runnerCount = async () => (await server.api<RunnerSummary[]>("/api/runners")).length

useOperatorSession("auto-approve", {
  prepare: () => {
    bin = fakeBin("approve", { claude: { copy: agent } })
    // Not a git work tree: the form offers no worktree, and nothing touches this repository.
    work = tempDir("approve-work")
    return new TestServer({ env: { PATH: pathWith(bin) } })
  },
  ready: (session) => {
    server = session.server
    page = session.page
  },
  cleanup: () => removeDirs(bin, work),
})

// Plain text wherever the dashboard shows it: were it HTML, this would set `window.pwned`.
const UNSAFE = "echo <img src=x onerror=window.pwned=1>"

describe("auto-approve in the dashboard", () => {
  let formRunner = ""

  it("refuses a bad pattern inline (the form's check and the server's 400), then starts with the patterns", async () => {
    await page.getByRole("link", { name: "Start a runner" }).first().click()
    await page.locator('input[name="provider"][value="claude"]').check()
    await page.getByLabel("Working directory").fill(work)
    await page.getByLabel("Name", { exact: true }).fill("e2e-auto")
    await page.getByText("More options").click()
    await page.getByLabel("Environment").fill(`APPROVE_AGENT_COMMANDS=npm test;${UNSAFE}`)
    const field = page.getByLabel("Auto-approve")
    await field.fill("npm (test|run lint)\n\nnpm (test")
    const start = page.getByRole("button", { name: "Start runner" })
    const error = page.locator("#auto-approve-error")

    // The form's own check: the line, and the browser's reason.
    await start.click()
    await error.waitFor()
    expect(await error.textContent()).toMatch(/^line 3: Invalid regular expression: .*npm \(test/)
    expect(await field.getAttribute("aria-invalid")).toBe("true")
    await waitFor(
      () => page.evaluate(() => document.activeElement?.id === "auto-approve"),
      "the focus on the auto-approve field",
    )
    expect(await runnerCount()).toBe(0)

    // The server's check, reached by adding a pattern to the request on its way (the form
    // would not send one that does not compile): its 400 shows at the field.
    await field.fill("npm (test|run lint)\ngit status")
    const tamper = async (route: Route) => {
      const request = route.request()
      if (request.method() !== "POST") return route.continue()
      const body = request.postDataJSON() as { autoApprove: { allow: string[] } }
      const allow = [...body.autoApprove.allow, "x("]
      await route.continue({ postData: JSON.stringify({ ...body, autoApprove: { allow } }) })
    }
    await page.route(`${server.url}/api/runners`, tamper)
    await start.click()
    let said: string | null = null
    await waitFor(
      async () => {
        said = (await error.isVisible()) ? await error.textContent() : null
        return said === "must be a valid regular expression (JavaScript, u flag)"
      },
      () => `the server's refusal at the field; it says ${said}`,
    )
    await page.unroute(`${server.url}/api/runners`, tamper)
    expect(await runnerCount()).toBe(0)

    await start.click()
    await page.waitForURL(/\/runners\/[^/]+$/)
    formRunner = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "")
    const summary = await summaryOf(formRunner)
    expect(summary.autoApprove).toEqual({ allow: ["npm (test|run lint)", "git status"] })
    expect(summary.provider).toBe("claude")
  })

  it("shows the patterns, the prompt it answered, and what the next one asks for (as text)", async () => {
    await page.getByRole("link", { name: "Auto-approve: 2 patterns" }).waitFor()
    const panel = page.locator("section#auto-approve")
    expect(await panel.locator(".patterns code").allTextContents()).toEqual([
      "npm (test|run lint)",
      "git status",
    ])

    // `npm test` is allowed: the server answers it, and the page lists it.
    const answered = panel.locator(".auto-replies li", { hasText: "npm test" })
    await answered.waitFor({ timeout: 30_000 })
    expect(await answered.textContent()).toContain("allowed by npm (test|run lint)")

    // The next is not: it waits for a person, saying what it asks for, as plain text.
    const waiting = page.getByRole("region", { name: "e2e-auto is waiting for you" })
    await waiting.waitFor({ timeout: 30_000 })
    await waiting.locator(".asks code", { hasText: UNSAFE }).waitFor()
    expect(await waiting.locator(".asks code").textContent()).toBe(UNSAFE)
    expect(await waiting.locator("img").count()).toBe(0)
    expect(await page.evaluate(() => "pwned" in window)).toBe(false)
    const summary = await summaryOf(formRunner)
    expect(summary.attentionReason).toBe("permission")
    expect(summary.attentionDetail).toBe(UNSAFE)
    await screenshot(page, "auto-approve-runner")

    // The audit trail, in the runner's Activity tab (the owner is an admin): the server, not
    // a person, with what it answered and why.
    await page.getByRole("tab", { name: "Activity" }).click()
    const row = page.locator('tr[data-action="runner.auto-approve"]')
    await row.waitFor()
    expect(await row.locator(".who").textContent()).toContain("auto-approve")
    expect(await row.locator(".asked").textContent()).toBe("npm test")
    expect(await row.locator(".detail").textContent()).toContain("allowed by npm (test|run lint)")
    await page.getByRole("tab", { name: "Terminal" }).click()
  })

  it("shows an auto-reply on the board's card, its patterns, and a waiting prompt's detail", async () => {
    await page.goto(`${server.url}/`)
    await waitFor(
      () =>
        page.evaluate(
          () =>
            (window as unknown as { __geppetto?: { live: { loaded: boolean } } }).__geppetto?.live
              .loaded === true,
        ),
      "the board's live list",
    )
    const runner = await server.api<RunnerDetail>("/api/runners", {
      method: "POST",
      body: {
        provider: "claude",
        name: "e2e-auto-card",
        cwd: work,
        env: { APPROVE_AGENT_COMMANDS: "git status;rm -rf build" },
        autoApprove: { allow: ["git status"] },
      },
    })
    const c = card(page, runner.id)
    // Shown for a while after it happened (15 s), long enough to read here.
    await c.getByRole("status").filter({ hasText: "auto-approved: git status" }).waitFor({
      timeout: 30_000,
    })
    await c.locator('[data-status="waiting"]').waitFor({ timeout: 30_000 })
    await c.locator(".asks code", { hasText: "rm -rf build" }).waitFor()

    const marker = c.getByRole("button", { name: "auto-approve: 1 pattern" })
    expect(await marker.getAttribute("aria-expanded")).toBe("false")
    await marker.focus()
    await page.keyboard.press("Enter")
    await c.getByRole("list", { name: "Auto-approve patterns of e2e-auto-card" }).waitFor()
    expect(await marker.getAttribute("aria-expanded")).toBe("true")
    expect(await c.locator(".patterns code").allTextContents()).toEqual(["git status"])
    await screenshot(page, "auto-approve-board")
    await page.emulateMedia({ colorScheme: "dark" })
    await screenshot(page, "auto-approve-board-dark")
    await page.emulateMedia({ colorScheme: "light" })
  })
})
