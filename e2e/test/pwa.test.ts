import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RunnerDetail } from "@geppetto/protocol"
import {
  type BrowserContext,
  type CDPSession,
  chromium,
  type Page,
  type Worker,
} from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  endTrace,
  loginWithLink,
  screenshot,
} from "./helpers/browser.js"
import { TestServer, waitFor } from "./helpers/server.js"

/**
 * The installable PWA (issue 17): the manifest and its icons, Chromium's own installability
 * check, the service worker caching the shell only and showing the offline page when the
 * server is gone, and a push's notification whose action answers the prompt — only while that
 * same prompt still waits.
 */

const fixtures = join(import.meta.dirname, "fixtures")

let server: TestServer
let context: BrowserContext
/** A profile of its own: Chromium does not offer to install from an incognito context. */
const profile = mkdtempSync(join(tmpdir(), "geppetto-pwa-profile-"))
let page: Page
let cdp: CDPSession
let failed = false
/** What the page and the worker printed (for a failure's message). */
const consoleLines: Array<string> = []

/** Width and height of a PNG, from its IHDR chunk. */
const pngSize = (bytes: Buffer) => ({
  width: bytes.readUInt32BE(16),
  height: bytes.readUInt32BE(20),
})

const worker = (): Promise<Worker> =>
  waitFor(
    () => context.serviceWorkers().find((w) => w.url().endsWith("/sw.js")),
    "the service worker",
  )

/** The service worker's global scope, as far as these tests reach into it. */
interface WorkerScope {
  readonly registration: {
    getNotifications(filter: {
      tag: string
    }): Promise<
      Array<Notification & { readonly actions: ReadonlyArray<{ readonly title: string }> }>
    >
  }
  dispatchEvent(event: Event): boolean
}
/** The worker's `NotificationEvent` (no DOM type for it in the e2e package's libs). */
declare const NotificationEvent: new (
  type: string,
  init: { notification: Notification; action: string },
) => Event

/** The registration id CDP names the service worker by (for `deliverPushMessage`). */
const registrations = new Map<string, string>()

beforeAll(async () => {
  server = new TestServer()
  await server.start()
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  })
  await context.grantPermissions(["notifications"], { origin: server.url })
  context.on("console", (m) => void consoleLines.push(`${m.type()}: ${m.text()}`))
  await context.tracing.start({ screenshots: true, snapshots: true })
  page = context.pages()[0] ?? (await context.newPage())
  cdp = await context.newCDPSession(page)
  cdp.on("ServiceWorker.workerRegistrationUpdated", (event) => {
    for (const r of event.registrations) {
      if (r.isDeleted) registrations.delete(r.scopeURL)
      else registrations.set(r.scopeURL, r.registrationId)
    }
  })
  await cdp.send("ServiceWorker.enable")
})

afterEach(async ({ task }) => {
  if (task.result?.state !== "fail") return
  failed = true
  await screenshot(page, `pwa-failed-${task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(
    () => {},
  )
})

afterAll(async () => {
  if (context !== undefined) await endTrace(context, failed ? "pwa" : undefined)
  await context?.close()
  rmSync(profile, { recursive: true, force: true })
  await server?.stop()
})

describe("the installable app", () => {
  it("serves a valid manifest and its icons, without auth", async () => {
    const response = await fetch(`${server.url}/manifest.webmanifest`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/manifest+json")
    const manifest = (await response.json()) as {
      name: string
      display: string
      start_url: string
      theme_color: string
      icons: Array<{ src: string; sizes: string; type: string; purpose: string }>
    }
    expect(manifest).toMatchObject({
      name: "Geppetto Runners",
      display: "standalone",
      start_url: "/",
    })
    const purposes = manifest.icons.map((i) => `${i.sizes} ${i.purpose}`)
    expect(purposes).toEqual(
      expect.arrayContaining(["192x192 any", "512x512 any", "512x512 maskable"]),
    )
    for (const icon of [
      ...manifest.icons,
      { src: "/icons/apple-touch-icon.png", sizes: "180x180" },
    ]) {
      const got = await fetch(`${server.url}${icon.src}`)
      expect(got.status, icon.src).toBe(200)
      const { width, height } = pngSize(Buffer.from(await got.arrayBuffer()))
      expect(`${width}x${height}`).toBe(icon.sizes)
    }
    const sw = await fetch(`${server.url}/sw.js`)
    expect(sw.status).toBe(200)
    expect(sw.headers.get("content-type")).toContain("javascript")
    expect(sw.headers.get("cache-control")).toBe("no-cache")
  })

  it("registers the service worker and passes Chromium's installability check", async () => {
    await loginWithLink(page, server, server.operatorToken)
    const script = await page.evaluate(() =>
      navigator.serviceWorker.ready.then((r) => r.active?.scriptURL ?? ""),
    )
    expect(script).toBe(`${server.url}/sw.js`)
    let lastErrors = ""
    const manifest = await cdp.send("Page.getAppManifest")
    expect(manifest.errors).toEqual([])
    await waitFor(
      async () => {
        const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors")
        lastErrors = JSON.stringify(installabilityErrors)
        return installabilityErrors.length === 0 ? true : undefined
      },
      () => `no installability errors (last: ${lastErrors})`,
    )
    // The head says the rest for iOS and the browser's chrome.
    expect(await page.locator('link[rel="apple-touch-icon"]').getAttribute("href")).toMatch(
      /\/icons\/apple-touch-icon\.png$/,
    )
    expect(await page.locator('meta[name="theme-color"]').getAttribute("content")).toBe("#2f6fdb")
  })

  it("caches the app shell only, never API answers", async () => {
    await page.evaluate(() => fetch("/api/runners").then((r) => r.text()))
    const cached = await page.evaluate(async () => {
      const urls: Array<string> = []
      for (const key of await caches.keys()) {
        for (const request of await (await caches.open(key)).keys())
          urls.push(new URL(request.url).pathname)
      }
      return urls
    })
    expect(cached).toContain("/offline.html")
    expect(cached.some((u) => u.startsWith("/_app/immutable/"))).toBe(true)
    expect(cached.filter((u) => u.startsWith("/api/") || u === "/metrics")).toEqual([])
  })

  it("says the server cannot be reached when it is gone, and comes back with it", async () => {
    await server.stopProcess()
    try {
      await page.goto(`${server.url}/history`)
      await page.getByRole("heading", { name: "The Geppetto server cannot be reached" }).waitFor()
      await screenshot(page, "pwa-offline")
    } finally {
      await server.start()
    }
    await page.getByRole("link", { name: "Try again" }).click()
    await page.getByRole("heading", { name: "Runners", level: 1 }).waitFor()
  })
})

describe("answering from a notification", () => {
  it("a push shows the runner, the reason and two answers; its action types one while that prompt waits, and a stale one types nothing", async () => {
    const runner = await server.api<RunnerDetail>("/api/runners", {
      method: "POST",
      body: {
        provider: "shell",
        name: "e2e-push-ask",
        command: ["bash", join(fixtures, "ask.sh")],
      },
    })
    const waiting = await waitFor(
      async () => {
        const d = await server.api<RunnerDetail>(`/api/runners/${runner.id}`)
        return d.waitingForInput && d.attentionId !== undefined ? d : undefined
      },
      "the runner waiting on its question",
      30_000,
    )
    const pane = waiting.session.panes[0]?.id ?? ""
    // A page of the app makes sure the worker is registered and active (a registration whose
    // script once answered 404, as while a build is replaced, is gone).
    await page.goto(`${server.url}/`)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    const registrationId = await waitFor(
      () => registrations.get(`${server.url}/`),
      "the registration id",
    )
    // What the server pushes (its own tests decrypt the real thing); CDP delivers it as a push.
    const payload = {
      runnerId: runner.id,
      name: runner.name,
      event: "waiting",
      status: waiting.status,
      reason: waiting.attentionReason,
      attentionId: waiting.attentionId,
      title: `${runner.name} has a question`,
      body: "Waiting (question): answer Yes or No, or open it.",
      answers: [{ label: "Yes" }, { label: "No" }],
      url: `/runners/${runner.id}`,
      at: Date.now(),
    }
    const tag = `geppetto-${runner.id}`
    let seen = ""
    /** The worker's replies as the browser saw them (Chromium reports a worker's requests). */
    const replies: Array<number> = []
    context.on("response", (r) => {
      if (r.url().endsWith(`/api/runners/${runner.id}/reply`)) replies.push(r.status())
    })
    /** The notifications of this runner now, read in the worker running now. */
    const notifications = async () =>
      (await worker()).evaluate(async (t) => {
        const list = await (self as unknown as WorkerScope).registration.getNotifications({
          tag: t,
        })
        return list.map((n) => ({
          title: n.title,
          body: n.body,
          actions: n.actions.map((a) => a.title),
        }))
      }, tag)
    const shown = (title: string, ms = 20_000) =>
      waitFor(
        async () => {
          const all = await notifications()
          seen = JSON.stringify(all)
          return all.find((n) => n.title === title)
        },
        () =>
          `the notification "${title}" (shown: ${seen}; replies: ${JSON.stringify(replies)}; workers: ${JSON.stringify(context.serviceWorkers().map((w) => w.url()))}; registrations: ${JSON.stringify([...registrations])}; console: ${JSON.stringify(consoleLines.slice(-10))})`,
        ms,
      )
    /**
     * Delivers a push through CDP until its notification shows: on a loaded machine a push to
     * a worker still starting was seen to be lost (the notification is replaced by its tag, so
     * a second delivery shows one notification all the same).
     */
    const push = async (data: object, title: string) => {
      for (let attempt = 1; ; attempt++) {
        await cdp.send("ServiceWorker.deliverPushMessage", {
          origin: server.url,
          registrationId,
          data: JSON.stringify(data),
        })
        const found = await shown(title, attempt < 4 ? 6_000 : 20_000).catch((e: unknown) => {
          if (attempt >= 4) throw e
          return undefined
        })
        if (found !== undefined) return found
      }
    }
    /** Dispatches `notificationclick` with `action`, again if the click never ran (the notification is still there). */
    const click = async (action: string, title: string) => {
      for (let attempt = 1; attempt <= 3; attempt++) {
        const dispatched = await (await worker()).evaluate(
          async ([t, w, a]) => {
            const scope = self as unknown as WorkerScope
            const n = (await scope.registration.getNotifications({ tag: t })).find(
              (x) => x.title === w,
            )
            if (n === undefined) return false
            scope.dispatchEvent(
              new NotificationEvent("notificationclick", { notification: n, action: a }),
            )
            return true
          },
          [tag, title, action] as const,
        )
        if (!dispatched) {
          // Gone: a click of an earlier attempt closed it after all.
          if (attempt > 1) return
          throw new Error(`no notification "${title}" to click`)
        }
        // The handler closes the notification first thing.
        const ran = await waitFor(
          async () => !(await notifications()).some((n) => n.title === title),
          "the click handled",
          5_000,
        ).catch(() => false)
        if (ran) return
      }
      throw new Error(`the notification "${title}" was never clicked`)
    }

    expect(await push(payload, payload.title)).toEqual({
      title: payload.title,
      body: payload.body,
      actions: ["Yes", "No"],
    })
    await click("answer:0", payload.title)
    await waitFor(
      () => server.capture(pane).some((l) => l.includes("answer=y")),
      "the answer in the pane",
    )

    // The same notification again, once stale: the prompt it names is gone.
    await waitFor(async () => {
      const d = await server.api<RunnerDetail>(`/api/runners/${runner.id}`)
      return d.attentionId !== waiting.attentionId
    }, "the answered prompt to be gone")
    // The refusal is a 409 the worker saw, then its own notification. On a loaded machine a
    // worker was seen to be stopped between the two (replies [204, 409], nothing shown): the
    // stale push is delivered and clicked again, each time a 409 that types nothing.
    let refused: Awaited<ReturnType<typeof shown>> | undefined
    for (let attempt = 1; refused === undefined; attempt++) {
      const before = replies.length
      await push({ ...payload, at: Date.now() }, payload.title)
      await click("answer:1", payload.title)
      await waitFor(() => replies.length > before, "the stale reply's answer")
      expect(replies.slice(before)).toEqual([409])
      refused = await shown(`${runner.name}: not answered`, attempt < 3 ? 8_000 : 20_000).catch(
        (e: unknown) => {
          if (attempt >= 3) throw e
          return undefined
        },
      )
    }
    expect(refused.body).toContain("nothing was typed")
    expect(refused.actions).toEqual([])
    expect(server.capture(pane).join("\n")).not.toContain("answer=n")
    // Once, by the owner, with the label: in the audit trail.
    const audit = await server.api<{ entries: Array<{ action: string; detail?: string }> }>(
      `/api/audit?runner=${runner.id}&action=runner.reply`,
    )
    expect(audit.entries.map((e) => e.detail)).toEqual(["Yes"])
  })

  it("the bell menu offers push to this browser, waiting on by default", async () => {
    await page.goto(`${server.url}/`)
    await page.getByRole("button", { name: /^Notifications/ }).click()
    const menu = page.getByRole("dialog", { name: "Notifications" })
    await menu.waitFor()
    await expect(menu.getByRole("checkbox", { name: "Waits for me" }).isChecked()).resolves.toBe(
      true,
    )
    await expect(menu.getByRole("checkbox", { name: "Completed" }).isChecked()).resolves.toBe(false)
    await expect(menu.getByRole("checkbox", { name: "Failed" }).isChecked()).resolves.toBe(false)
    await menu.getByRole("button", { name: "Push to this browser" }).waitFor()
    await screenshot(page, "pwa-bell-menu", false)
    await page.keyboard.press("Escape")
  })
})
