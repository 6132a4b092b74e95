import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { RunnerSummary, TranscriptResponse } from "@geppetto/protocol"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { screenshot } from "./helpers/browser.js"
import { repoRoot, TestServer, waitFor } from "./helpers/server.js"
import { fakeBin, pathWith, removeDirs, tempDir, useOperatorSession } from "./helpers/session.js"

/*
 * Issue 18 in the browser: a fake `claude` first on the server's PATH writes a Claude Code
 * session file under the CLAUDE_CONFIG_DIR the server (and so its runners) has, named by the
 * --session-id the server passes (test/fixtures/conversation-agent.cjs). The runner page's
 * Conversation tab shows it: messages as markdown with the agent's HTML inert, a tool call
 * with its input and its error output collapsed and marked, paging back, a live update, and
 * "Jump to terminal" (found, and not found); cards and the Usage page show tokens and cost.
 */
const agent = join(repoRoot, "e2e/test/fixtures/conversation-agent.cjs")
const docsDir = join(repoRoot, "docs")
/** Exchanges written before the turn under test: more than one page (100 entries) back. */
const FILLER = 60

let bin: string | undefined
let claudeHome: string | undefined
let work = ""
let server: TestServer
let page: Page
let priced: RunnerSummary
let unpriced: RunnerSummary

const card = (p: Page, id: string) => p.locator(`article[data-runner-id="${id}"]`)
const conversation = (p: Page) => p.getByRole("log", { name: "Messages and tool calls" })
/** A tool call of the Conversation view, by its tool's name. */
const tool = (p: Page, name: string) =>
  conversation(p)
    .getByTestId("tool-call")
    .filter({ has: p.locator("code.name", { hasText: new RegExp(`^${name}$`) }) })

const startAgent = async (name: string, env: Record<string, string>): Promise<RunnerSummary> => {
  const cwd = join(work, name)
  mkdirSync(cwd)
  return server.api<RunnerSummary>("/api/runners", {
    method: "POST",
    body: { provider: "claude", cwd, name, env },
  })
}

const transcriptTotal = async (id: string): Promise<number> =>
  (
    await server
      .api<TranscriptResponse>(`/api/runners/${id}/transcript?limit=1`)
      .catch(() => ({ total: 0 }))
  ).total

useOperatorSession("conversation", {
  prepare: () => {
    bin = fakeBin("conversation", { claude: { copy: agent } })
    claudeHome = tempDir("conversation-claude")
    work = tempDir("conversation-work")
    return new TestServer({ env: { PATH: pathWith(bin), CLAUDE_CONFIG_DIR: claudeHome } })
  },
  ready: async (session) => {
    server = session.server
    page = session.page

    priced = await startAgent("e2e-conversation", { CONVERSATION_FILLER: String(FILLER) })
    unpriced = await startAgent("e2e-unpriced", { CONVERSATION_MODEL: "mystery-model-1" })
    // 2 entries per filler exchange; then 9 in the turn under test.
    await waitFor(
      async () => (await transcriptTotal(priced.id)) === FILLER * 2 + 9,
      () =>
        `the agent's first turn in its transcript; screen: ${server.capture(priced.name).join("\n")}`,
    )
    await waitFor(
      async () => (await transcriptTotal(unpriced.id)) === 9,
      "the unpriced agent's turn",
    )
  },
  cleanup: () => removeDirs(bin, claudeHome, work),
})

describe("the Conversation view", () => {
  it("shows the messages as markdown, the agent's HTML as inert text", async () => {
    await page.goto(`${server.url}/runners/${encodeURIComponent(priced.id)}`)
    await page.getByRole("tab", { name: "Conversation" }).click()
    const log = conversation(page)
    await log.waitFor()

    const userMessage = log.locator('li[data-kind="user"]', { hasText: "Please fix the" })
    await userMessage.waitFor()
    expect(await userMessage.locator(".markdown strong").textContent()).toBe("flaky")

    const reply = log.locator('li[data-kind="assistant"]', { hasText: "I'll run the" })
    expect(await reply.locator(".markdown li").allTextContents()).toEqual([
      "find the flaky one",
      "fix test/flaky.test.ts",
    ])
    // Injected HTML is shown as the text it is: no element, no script run.
    const text = (await reply.textContent()) ?? ""
    expect(text).toContain("<img src=x onerror=window.__pwned=1>")
    expect(text).toContain("<script>window.__pwned=2</script>")
    expect(await reply.locator("img, script").count()).toBe(0)
    // The javascript: link stays its source text; the https one opens apart from this page.
    expect(text).toContain("[a bad link](javascript:window.__pwned=3)")
    expect(await reply.locator("a").count()).toBe(1)
    const docs = reply.getByRole("link", { name: "the docs" })
    expect(await docs.getAttribute("href")).toBe("https://example.com/docs")
    expect(await docs.getAttribute("target")).toBe("_blank")
    expect(await docs.getAttribute("rel")).toContain("noopener")
    expect(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined()

    await log
      .locator('li[data-kind="assistant"]', { hasText: "Fixed: the test now expects 3." })
      .waitFor()
  })

  it("shows a tool call's input, its output collapsed and its error marked", async () => {
    const bash = tool(page, "Bash")
    expect(await bash.locator("pre.input").textContent()).toBe("npm run e2e-conversation-check")
    // Marked by a word and an icon, not by colour alone.
    expect(await bash.locator(".error-badge").textContent()).toBe("Error")
    const output = bash.getByTestId("tool-output")
    expect(await output.getAttribute("open")).toBeNull()
    expect(await output.locator("summary").textContent()).toMatch(/Error output · 4 lines/)
    const outputText = output.locator("pre")
    expect(await outputText.isVisible()).toBe(false)
    await output.locator("summary").click()
    await outputText.waitFor({ state: "visible" })
    expect(await outputText.textContent()).toBe(
      "FAIL test/flaky.test.ts\n  expected 2 to be 3\n\n1 failed, 4 passed",
    )

    // The whole input (with its description) is a click away.
    const fullInput = bash.locator("details.full-input")
    await fullInput.locator("summary").click()
    expect(await fullInput.locator("pre").textContent()).toContain(
      '"description": "Run the flaky test"',
    )

    const read = tool(page, "Read")
    expect(await read.locator("pre.input").textContent()).toBe(
      join(work, "e2e-conversation/src/never-printed.ts"),
    )
    expect(await read.locator(".error-badge").count()).toBe(0)
    expect(await read.getByTestId("tool-output").getAttribute("open")).toBeNull()

    // The page as the docs show it: the turn with its tool calls, the error output open.
    await bash.scrollIntoViewIfNeeded()
    mkdirSync(docsDir, { recursive: true })
    await page.screenshot({ path: join(docsDir, "conversation.png") })
    await screenshot(page, "conversation")
  })

  it("pages back to older entries", async () => {
    const log = conversation(page)
    const question = (n: number) =>
      log.locator('li[data-kind="user"]', { hasText: new RegExp(`filler question ${n}\\s*$`) })
    // The newest 100 of 129 entries (seq 29 on): the filler's first 15 questions are further back.
    expect(await question(16).count()).toBe(1)
    expect(await question(15).count()).toBe(0)
    const earlier = page.getByRole("button", { name: /^Show earlier \(\d+ more\)$/ })
    expect(await earlier.textContent()).toBe("Show earlier (29 more)")
    await earlier.click()
    await question(1).waitFor()
    await earlier.waitFor({ state: "detached" })
    expect(await log.locator('li[data-kind="user"]').count()).toBe(FILLER + 1)
  })

  it("follows the agent live", async () => {
    const log = conversation(page)
    expect(await log.getByText("Live reply arrived").count()).toBe(0)
    writeFileSync(join(work, "e2e-conversation", "go"), "")
    await log.locator('li[data-kind="assistant"]', { hasText: "Live reply arrived" }).waitFor()
    await log.locator('li[data-kind="user"]', { hasText: "Thanks! Anything else?" }).waitFor()
  })

  it("says when a tool call is not found in the terminal, and jumps to it when it is", async () => {
    const read = tool(page, "Read")
    await read.getByRole("button", { name: "Jump to terminal" }).click()
    const status = read.getByRole("status")
    await status.filter({ hasText: "Not found in the terminal's log" }).waitFor()
    expect(await status.textContent()).toContain("src/never-printed.ts")
    expect(page.url()).toContain(`/runners/${encodeURIComponent(priced.id)}`)

    // The terminal shows the Grep's pattern twice (the Bash's output, the Grep's own line):
    // both places are offered, none is picked for the reader.
    const grep = tool(page, "Grep")
    await grep.getByRole("button", { name: "Jump to terminal" }).click()
    const found = grep.getByRole("status")
    await found.filter({ hasText: "2 places in the terminal's log match" }).waitFor()
    const places = found.getByRole("link")
    expect((await places.allTextContents()).map((t) => t.replace(/^@\d+\s*/, "").trim())).toEqual([
      "⎿  FAIL test/flaky.test.ts",
      "⏺ Grep(test/flaky.test.ts)",
    ])
    for (const href of await places.evaluateAll((links) =>
      links.map((a) => a.getAttribute("href")),
    )) {
      expect(href).toMatch(/\/log\?at=\d+&q=test%2Fflaky\.test\.ts$/)
    }
    expect(page.url()).toContain(`/runners/${encodeURIComponent(priced.id)}`)

    const bash = tool(page, "Bash")
    await bash.getByRole("button", { name: "Jump to terminal" }).click()
    await page.waitForURL(/\/log\?at=\d+&q=npm%20run%20e2e-conversation-check$/)
    const hit = page.getByTestId("log-hit")
    await hit.waitFor()
    expect(await hit.textContent()).toContain("Bash(npm run e2e-conversation-check)")
    expect(await hit.locator("mark").textContent()).toBe("npm run e2e-conversation-check")
  })
})

describe("usage in the UI", () => {
  it("shows tokens and cost on the cards, and 'no price' for a model without one", async () => {
    await page.goto(`${server.url}/`)
    const usage = card(page, priced.id).getByTestId("usage")
    // msg_1..msg_4: input 1200+10+30+5, output 340+20+40+5, cache read 15000, cache write 2000;
    // sonnet ($3 / $15 / $0.30 / $3.75 per million): $0.02181.
    const expected = ["1.2k", "405", "15k", "2k", "$0.022"]
    let shown: string[] = []
    await waitFor(
      async () => {
        shown = await usage.locator("dd").allTextContents()
        return JSON.stringify(shown) === JSON.stringify(expected)
      },
      () => `the priced card's usage ${expected.join(" ")}; it shows ${shown.join(" ")}`,
    )
    const other = card(page, unpriced.id).getByTestId("usage")
    await other.waitFor()
    expect((await other.locator("dd").allTextContents()).at(-1)).toBe("no price")
    await screenshot(page, "conversation-board")

    // And on the runner page.
    await card(page, unpriced.id).getByRole("link", { name: unpriced.name }).click()
    const onPage = page.getByRole("region", { name: "Tokens and cost" }).getByTestId("usage")
    await onPage.waitFor()
    expect(await onPage.locator("dd").allTextContents()).toEqual([
      "1.2k",
      "400",
      "15k",
      "2k",
      "no price",
    ])
  })

  it("totals usage by day, provider and account on the Usage page, with a chart", async () => {
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Usage" })
      .click()
    await page.getByRole("heading", { name: "Usage", level: 1 }).waitFor()
    const table = page.getByTestId("usage-table")
    await table.waitFor()
    // Today: both runners, one without a price: the priced one's cost stays, and the other's
    // tokens (1240 + 400 + 15000 + 2000) are counted apart.
    const today = table.locator("tbody tr")
    expect(await today.count()).toBe(1)
    expect(await today.locator("td").allTextContents()).toEqual([
      "2",
      "2.5k",
      "805",
      "30k",
      "4k",
      "$0.022 + 18.6k tokens with no price",
    ])
    // One bar per day of the period, today's drawn with its tokens without a price marked.
    const chart = page.locator("figure.chart svg")
    expect(await chart.locator("g.bar").count()).toBe(30)
    expect(await chart.locator("g.bar text.unpriced").count()).toBe(1)
    await screenshot(page, "usage-by-day")

    await page.getByRole("button", { name: "Tokens" }).click()
    expect(await chart.locator("g.bar").last().locator("rect:not(.hit)").count()).toBe(4)

    await page.getByRole("button", { name: "By provider" }).click()
    await page.waitForURL(/by=provider/)
    await table.locator("tbody th", { hasText: "claude" }).waitFor()
    expect(await table.locator("tbody tr").count()).toBe(1)

    await page.getByRole("button", { name: "By account" }).click()
    await table.locator("tbody th", { hasText: "(no account)" }).waitFor()
    const total = page.getByRole("region", { name: /^Last 30 days/ }).getByTestId("usage")
    expect(await total.locator("dd").allTextContents()).toEqual([
      "2.5k",
      "805",
      "30k",
      "4k",
      "$0.022 + 18.6k tokens with no price",
    ])
    await screenshot(page, "usage")
  })
})
