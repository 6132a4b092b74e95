import type { AuditResponse, RunnerDetail } from "@geppetto/protocol"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  endTrace,
  launchChromium,
  loginWithLink,
  newContext,
  screenshot,
  terminalLines,
} from "./helpers/browser.js"
import { TestServer, waitFor } from "./helpers/server.js"

// Issue 16 in the browser: an admin adds an operator on the People page, a viewer watching a
// runner sees the operator arrive and type, the admin reads it in Activity, then removes the
// operator, whose page drops to the login screen at once.

// A bash with a fixed prompt and no rc files: what the tests type and read is predictable.
const plainBash = ["env", "PS1=e2e$ ", "bash", "--norc", "--noprofile"]

let server: TestServer
let browser: Browser
/** Three people, one context each (their own cookies): the owner (admin), alice, the viewer. */
const people: Record<"admin" | "alice" | "viewer", { context?: BrowserContext; page?: Page }> = {
  admin: {},
  alice: {},
  viewer: {},
}
let failed = false
let runnerId = ""
let aliceLink = ""

const pageOf = (who: keyof typeof people): Page => {
  const page = people[who].page
  if (page === undefined) throw new Error(`${who} has no page yet`)
  return page
}

const open = async (who: keyof typeof people): Promise<Page> => {
  const context = await newContext(browser, server)
  const page = await context.newPage()
  people[who] = { context, page }
  return page
}

const openRunner = async (p: Page, id: string) => {
  await p.goto(`${server.url}/runners/${id}`)
  await waitFor(() => p.evaluate(() => "__geppettoTerm" in window), "the terminal to load")
}

/** The words of a runner page's presence line ("" when nobody else is there). */
const presenceText = async (p: Page): Promise<string> => {
  const line = p.locator("[data-presence-text]")
  if ((await line.count()) === 0) return ""
  return ((await line.first().textContent()) ?? "").replace(/\s+/g, " ").trim()
}

const auditOf = (query: string) => server.api<AuditResponse>(`/api/audit?${query}`)

beforeAll(async () => {
  server = new TestServer()
  await server.start()
  browser = await launchChromium()
  const admin = await open("admin")
  await loginWithLink(admin, server, server.operatorToken)
  const runner = await server.api<RunnerDetail>("/api/runners", {
    method: "POST",
    body: { provider: "shell", name: "e2e-team", command: plainBash },
  })
  runnerId = runner.id
})

afterEach(async ({ task }) => {
  if (task.result?.state !== "fail") return
  failed = true
  const name = task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 50)
  for (const [who, { page }] of Object.entries(people)) {
    if (page !== undefined) await screenshot(page, `failed-team-${who}-${name}`).catch(() => {})
  }
})

afterAll(async () => {
  for (const [who, { context }] of Object.entries(people)) {
    if (context !== undefined) await endTrace(context, failed ? `team-${who}` : undefined)
  }
  await browser?.close()
  await server?.stop()
})

describe("a team on the LAN, end to end", () => {
  it("an admin adds alice as an operator on the People page and sees her login link once", async () => {
    const admin = pageOf("admin")
    await admin.getByRole("link", { name: "People", exact: true }).click()
    await admin.getByRole("heading", { name: "People", level: 1 }).waitFor()
    // The built-ins are listed and fixed.
    await admin.locator('tr[data-user="owner"]').getByText("built-in").waitFor()
    expect(await admin.getByRole("button", { name: "Remove owner" }).count()).toBe(0)

    // A name the server refuses, said next to the field.
    await admin.getByLabel("Name", { exact: true }).fill("Alice!")
    await admin.getByRole("button", { name: "Add user" }).click()
    await admin.getByText("Names start with a lowercase letter").waitFor()

    await admin.getByLabel("Name", { exact: true }).fill("alice")
    await admin.getByLabel("Role", { exact: true }).selectOption("operator")
    await admin.getByRole("button", { name: "Add user" }).click()
    await admin.getByText("This link is shown only once.").waitFor()
    aliceLink = await admin.getByLabel("Login link for alice").inputValue()
    expect(aliceLink).toMatch(new RegExp(`^${server.url}/\\?token=[A-Za-z0-9_-]{20,}$`))
    await admin.locator('tr[data-user="alice"]').getByText("never").waitFor()
    await screenshot(admin, "team-people-added")

    // Once: gone when dismissed, and a second alice is refused inline (409).
    await admin.getByRole("button", { name: "Done, hide the link" }).click()
    expect(await admin.getByLabel("Login link for alice").count()).toBe(0)
    await admin.getByLabel("Name", { exact: true }).fill("alice")
    await admin.getByRole("button", { name: "Add user" }).click()
    await admin.getByText("There is already a user named alice.").waitFor()
    await admin.getByLabel("Name", { exact: true }).fill("")
  })

  it("keeps People and Activity from the viewer: no links, an admins-only page, no Activity tab", async () => {
    const viewer = await open("viewer")
    await loginWithLink(viewer, server, server.viewerToken)
    expect(await viewer.getByRole("link", { name: "People", exact: true }).count()).toBe(0)
    expect(await viewer.getByRole("link", { name: "Activity", exact: true }).count()).toBe(0)
    await viewer.goto(`${server.url}/people`)
    await viewer.getByRole("heading", { name: "Admins only" }).waitFor()
    await viewer.goto(`${server.url}/activity`)
    await viewer.getByRole("heading", { name: "Admins only" }).waitFor()

    await openRunner(viewer, runnerId)
    await viewer.getByText("Only you are watching").waitFor()
    expect(await viewer.getByRole("tab", { name: "Activity" }).count()).toBe(0)
  })

  it("the viewer sees alice arrive on the runner and her typing indicator while she types", async () => {
    const viewer = pageOf("viewer")
    const alice = await open("alice")
    await alice.goto(aliceLink)
    await alice.getByRole("heading", { name: "Runners", level: 1 }).waitFor()
    await alice.getByText("alice · operator", { exact: true }).waitFor()
    await openRunner(alice, runnerId)
    // alice sees the viewer, the viewer sees alice: each leaves themselves out.
    await alice.locator('[data-presence] [data-user="viewer"]').waitFor()

    await viewer.locator('[data-presence] [data-user="alice"]').waitFor()
    await waitFor(
      async () => (await presenceText(viewer)) === "alice watching",
      `the viewer's presence line to read "alice watching"`,
    )

    // The admin's board: the card shows both, compactly.
    const admin = pageOf("admin")
    await admin.getByRole("link", { name: "Board", exact: true }).click()
    const card = admin.locator(`article[data-runner-id="${runnerId}"]`)
    await card.locator('[data-presence] [data-user="alice"]').waitFor()
    await card.locator('[data-presence] [data-user="viewer"]').waitFor()

    await alice.getByRole("button", { name: "Take control" }).click()
    await alice.getByText("You are typing into").waitFor()
    await alice.keyboard.type("echo typed-by-alice")
    // The indicator lasts 3 s after a key, and a loaded machine has taken longer than that
    // between two of these checks: each round types a key and takes it back, so she is still
    // typing while all three are read.
    await waitFor(async () => {
      await alice.keyboard.press("Space")
      await alice.keyboard.press("Backspace")
      return (
        (await presenceText(viewer)) === "alice watching · alice typing" &&
        (await viewer.locator('[data-presence] [data-user="alice"].typing').count()) > 0 &&
        (await card.getByText("typing", { exact: true }).count()) > 0
      )
    }, "the viewer and the board to see alice typing")
    await screenshot(viewer, "team-viewer-sees-alice-typing")
    await alice.keyboard.press("Enter")
    await waitFor(
      async () => (await terminalLines(viewer)).includes("typed-by-alice"),
      "alice's command output in the viewer's terminal",
    )
    // A few seconds after her last key the indicator goes; she is still watching.
    await waitFor(
      async () => (await presenceText(viewer)) === "alice watching",
      "alice's typing indicator to end",
      15_000,
    )
  })

  it("the admin reads alice's typing in the runner's Activity tab and her login on the Activity page", async () => {
    // The burst of typing is recorded once it ends (its byte count, never its keys).
    await waitFor(
      async () =>
        (await auditOf(`user=alice&runner=${runnerId}&action=runner.input`)).entries.length > 0,
      "alice's burst of typing in the audit trail",
    )
    const admin = pageOf("admin")
    await openRunner(admin, runnerId)
    await admin.getByRole("tab", { name: "Activity" }).click()
    const row = admin.locator('#view-activity tr[data-action="runner.input"]').first()
    await row.waitFor()
    expect(await row.textContent()).toMatch(/alice\s*typed\s*\d+ bytes/)
    expect(await row.textContent()).not.toContain("typed-by-alice")
    await admin.locator("#view-activity time").first().waitFor()
    expect(await admin.locator("#view-activity time").first().getAttribute("title")).toMatch(
      /\d{4}/,
    )

    // Live: the open tab follows the trail, so a new entry shows without Refresh.
    const rows = admin.locator("#view-activity tbody tr")
    await admin.locator("#view-activity").getByText("live", { exact: true }).waitFor()
    const before = await rows.count()
    await server.api(`/api/runners/${runnerId}/input`, {
      method: "POST",
      body: { data: "echo live-entry\r" },
    })
    await waitFor(
      async () => (await rows.count()) === before + 1,
      "the owner's input to appear in the open Activity tab",
    )
    expect(await rows.first().textContent()).toMatch(/owner\s*typed\s*\d+ bytes/)

    await admin.getByRole("link", { name: "Activity", exact: true }).click()
    await admin.getByRole("heading", { name: "Activity", level: 1 }).waitFor()
    await admin.getByLabel("User", { exact: true }).fill("alice")
    await admin.getByLabel("User", { exact: true }).press("Enter")
    await admin.waitForURL(/[?&]user=alice/)
    await admin.getByLabel("Action", { exact: true }).selectOption("login")
    await admin.waitForURL(/[?&]user=alice&action=login$/)
    const logins = (await auditOf("user=alice&action=login")).entries.length
    expect(logins).toBeGreaterThan(0)
    await waitFor(
      async () =>
        (await admin.locator("tbody tr").count()) === logins &&
        (await admin.locator('tbody tr[data-action="login"]').count()) === logins,
      `the table to list alice's ${logins} logins only`,
    )
    expect(await admin.locator("tbody tr").first().textContent()).toMatch(
      /alice\s*logged in.*from \S*127\.0\.0\.1/,
    )
    await screenshot(admin, "team-activity")
  })

  it("the admin makes alice a viewer; her next key is refused and her page turns read-only", async () => {
    const admin = pageOf("admin")
    const alice = pageOf("alice")
    await admin.getByRole("link", { name: "People", exact: true }).click()
    await admin.getByLabel("Role of alice").selectOption("viewer")
    await admin.getByRole("button", { name: "Save" }).click()
    await admin.getByText("alice is now viewer (read-only).").waitFor()
    expect(await admin.locator('tr[data-user="alice"] select').inputValue()).toBe("viewer")

    // Still in control on her page: the server refuses the key, and the page asks who she is.
    await alice.getByRole("button", { name: "Release control" }).waitFor()
    await alice.keyboard.type("x")
    await alice.getByText("alice · read-only", { exact: true }).waitFor()
    await alice.getByText("Read-only", { exact: true }).waitFor()
    expect(await alice.getByRole("button", { name: "Take control" }).count()).toBe(0)
    const pane = (await server.api<RunnerDetail>(`/api/runners/${runnerId}`)).session.panes[0]
    expect(server.capture(pane?.id ?? "").at(-1)).toBe("e2e$")
  })

  it("the admin removes alice with a confirm step; her page drops to the login screen", async () => {
    const admin = pageOf("admin")
    const alice = pageOf("alice")
    const viewer = pageOf("viewer")
    await admin.getByRole("link", { name: "People", exact: true }).click()
    // By keyboard: Enter asks, the focus is on the confirm button, Escape takes it back.
    await admin.getByRole("button", { name: "Remove alice" }).focus()
    await admin.keyboard.press("Enter")
    await waitFor(
      async () =>
        (await admin.evaluate(() => document.activeElement?.textContent?.trim())) ===
        "Yes, remove alice",
      "the focus on the confirm button",
    )
    await admin.keyboard.press("Escape")
    await admin.getByRole("button", { name: "Remove alice" }).waitFor()
    expect(await admin.evaluate(() => document.activeElement?.id)).toBe("remove-alice")
    expect(await admin.locator('tr[data-user="alice"]').count()).toBe(1)
    // Not yet: Cancel keeps her too.
    await admin.getByRole("button", { name: "Remove alice" }).click()
    await admin.getByRole("button", { name: "Cancel" }).click()
    expect(await admin.locator('tr[data-user="alice"]').count()).toBe(1)
    await admin.getByRole("button", { name: "Remove alice" }).click()
    await admin.getByRole("button", { name: "Yes, remove alice" }).click()
    await admin.getByText("alice was removed").waitFor()
    await admin.locator('tr[data-user="alice"]').waitFor({ state: "detached" })

    await alice.waitForURL(/\/login\?/, { timeout: 10_000 })
    await alice.getByLabel("Access token").waitFor()
    await alice.getByText("Your session has expired or was signed out").waitFor()
    // Her link no longer works either.
    await alice.goto(aliceLink)
    await alice.waitForURL(/\/login\?/)
    await alice.getByLabel("Access token").waitFor()

    // The viewer sees her go.
    await viewer.getByText("Only you are watching").waitFor()
  })
})
