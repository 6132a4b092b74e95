import type { Schedule } from "@geppetto/protocol"
import type { Browser, Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { endTrace, loginWithLink, newContext, screenshot } from "./helpers/browser.js"
import { TestServer, waitFor } from "./helpers/server.js"
import { useOperatorSession } from "./helpers/session.js"

// Issue 19's Schedules page in the browser: an operator adds an every-two-seconds schedule
// (the next runs shown as the cron is typed, a bad one refused inline), sees its runs with
// their runners' status and follows one, pauses, resumes; after a server restart the run it
// missed says so; a viewer reads but cannot change; delete asks first.

let server: TestServer
let browser: Browser
let page: Page

const schedules = () => server.api<Schedule[]>("/api/schedules")

useOperatorSession("schedules", {
  prepare: () => new TestServer(),
  ready: (session) => {
    server = session.server
    browser = session.browser
    page = session.page
  },
})

describe("the Schedules page", () => {
  it("adds a schedule: the next runs shown as the cron is typed, a bad one refused inline", async () => {
    await page.getByRole("link", { name: "Schedules", exact: true }).click()
    await page.getByRole("heading", { name: "Schedules", level: 1 }).waitFor()
    await page.getByText("No schedules yet.").waitFor()
    await page.getByRole("note").getByText("not made up").waitFor()

    await page.getByLabel("Name", { exact: true }).fill("e2e-tick")
    await page.getByLabel("When (cron)").fill("61 * * * *")
    await page.locator("#schedule-cron-hint").getByText("Invalid value for minute").waitFor()
    await page.getByLabel("When (cron)").fill("*/2 * * * * *")
    await page.getByLabel("Time zone").fill("UTC")
    // Three runs two seconds apart, in the schedule's zone.
    await waitFor(
      async () => (await page.locator("#schedule-cron-hint li").count()) === 3,
      "three next runs",
    )
    await page.getByLabel("Provider").selectOption("shell")
    await page.getByLabel("Command").fill("sleep 3")
    await page.getByRole("button", { name: "Add schedule" }).click()
    await page.getByText("e2e-tick was added; its first run is").waitFor()
    const card = page.locator('[data-schedule="e2e-tick"]')
    await card.getByText("*/2 * * * * *").waitFor()
    await card.getByText("sh -c sleep 3").waitFor()

    // A second one by the same name: refused next to the Name field.
    await page.getByLabel("Name", { exact: true }).fill("e2e-tick")
    await page.getByRole("button", { name: "Add schedule" }).click()
    await page.locator("#schedule-name-error").getByText("already exists").waitFor()
  })

  it("shows its runs with their runners' status, a link to each started one, and skips while one runs", async () => {
    const card = page.locator('[data-schedule="e2e-tick"]')
    const started = card.locator('[data-outcome="started"] a').first()
    await started.waitFor({ timeout: 30_000 })
    await card.locator('[data-outcome="skipped"]').first().waitFor({ timeout: 30_000 })
    await screenshot(page, "schedules-page")
    const name = (await started.textContent()) ?? ""
    expect(name).toMatch(/^e2e-tick-[0-9]{8}-[0-9]{6}$/)
    // By its name: runs keep coming every two seconds, and `.first()` at click time may be a
    // newer one than the run whose name was read.
    await card.getByRole("link", { name, exact: true }).click()
    await page.waitForURL(/\/runners\/run-/)
    // Its page's heading: the name's first match may be a hidden one (a closed menu's entry
    // for the run that ended), which never becomes visible.
    await page.getByRole("heading", { name, level: 1 }).waitFor()
    await page.goBack()
    await page.getByRole("heading", { name: "Schedules", level: 1 }).waitFor()
  })

  it("pauses and resumes: no next run while paused", async () => {
    const card = page.locator('[data-schedule="e2e-tick"]')
    await card.getByRole("button", { name: "Pause e2e-tick" }).click()
    await card.getByText("paused", { exact: true }).first().waitFor()
    await card.getByRole("button", { name: "Resume e2e-tick" }).waitFor()
    expect((await schedules())[0]?.paused).toBe(true)
    await card.getByRole("button", { name: "Resume e2e-tick" }).click()
    await card.getByRole("button", { name: "Pause e2e-tick" }).waitFor()
    expect((await schedules())[0]?.paused).toBe(false)
  })

  it("after a restart the run missed while the server was down shows as missed", async () => {
    await server.stopProcess()
    // Down past at least one run (every 2 s).
    const downSince = Date.now()
    await waitFor(() => Date.now() - downSince > 2500, "a run to fall due while down")
    await server.start()
    await page.reload()
    const missed = page.locator('[data-schedule="e2e-tick"] [data-outcome="missed"]')
    await missed.first().waitFor()
    expect(await missed.first().getAttribute("title")).toContain("not made up")
  })

  it("a viewer reads the schedules but has no form and no buttons", async () => {
    const viewerContext = await newContext(browser, server)
    try {
      const viewer = await viewerContext.newPage()
      await loginWithLink(viewer, server, server.viewerToken)
      await viewer.goto(`${server.url}/schedules`)
      await viewer.locator('[data-schedule="e2e-tick"]').waitFor()
      expect(await viewer.getByRole("heading", { name: "Add a schedule" }).count()).toBe(0)
      expect(await viewer.getByRole("button", { name: "Pause e2e-tick" }).count()).toBe(0)
      expect(await viewer.getByRole("button", { name: "Delete e2e-tick" }).count()).toBe(0)
    } finally {
      await endTrace(viewerContext, undefined)
      await viewerContext.close()
    }
  })

  it("deletes with a confirm step (Cancel keeps it); its runners stay", async () => {
    const card = page.locator('[data-schedule="e2e-tick"]')
    await card.getByRole("button", { name: "Delete e2e-tick" }).click()
    await card.getByRole("button", { name: "Cancel" }).click()
    expect((await schedules()).length).toBe(1)
    await card.getByRole("button", { name: "Delete e2e-tick" }).click()
    await card.getByRole("button", { name: "Yes, delete e2e-tick" }).click()
    await page.getByText("e2e-tick was removed.").waitFor()
    await page.getByText("No schedules yet.").waitFor()
    expect(await schedules()).toEqual([])
    const runners = await server.api<Array<{ scheduleId?: string }>>("/api/runners")
    expect(runners.some((r) => r.scheduleId !== undefined)).toBe(true)
  })
})
