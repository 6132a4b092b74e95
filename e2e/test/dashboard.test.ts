import { spawnSync } from "node:child_process"
import { createECDH, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { RunnerDetail, RunnerSummary } from "@geppetto/protocol"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  endTrace,
  expectTerminalMatchesPane,
  launchChromium,
  loginWithLink,
  newContext,
  screenshot,
  terminalLines,
} from "./helpers/browser.js"
import { TestServer, waitFor } from "./helpers/server.js"

const fixtures = join(import.meta.dirname, "fixtures")

/** Whether a program is on PATH (less, top and vi are Debian's but not on every image). */
const installed = (program: string) =>
  spawnSync("sh", ["-c", 'command -v "$1"', "sh", program]).status === 0

// A bash with a fixed prompt and no rc files: what the tests type and read is predictable.
const plainBash = ["env", "PS1=e2e$ ", "bash", "--norc", "--noprofile"]

let server: TestServer
let browser: Browser
let operator: BrowserContext
let page: Page
let failed = false

const card = (p: Page, id: string) => p.locator(`article[data-runner-id="${id}"]`)

const startViaApi = (body: Record<string, unknown>) =>
  server.api<RunnerDetail>("/api/runners", { method: "POST", body })

const detailOf = (id: string) => server.api<RunnerDetail>(`/api/runners/${id}`)

const paneOf = async (id: string) => {
  const pane = (await detailOf(id)).session.panes[0]
  if (pane === undefined) throw new Error(`runner ${id} has no pane`)
  return pane.id
}

const openRunner = async (p: Page, id: string) => {
  await p.goto(`${server.url}/runners/${id}`)
  await waitFor(
    () => p.evaluate(() => "__geppettoTerm" in window && "__geppettoStream" in window),
    "the terminal to load",
  )
}

/** A page's own code: every route node's file but the root layout's (0) and the error page's (1). */
const PAGE_NODE = /\/_app\/immutable\/nodes\/(?![01]\.)\d+\.[^/]+\.js$/

/** A fresh context (nothing cached) logged in through the API, so it has loaded no page yet. */
const coldOperator = async () => {
  const cold = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const login = await cold.request.post(`${server.url}/api/login`, {
    data: { token: server.operatorToken },
  })
  expect(login.ok()).toBe(true)
  return cold
}

beforeAll(async () => {
  server = new TestServer()
  await server.start()
  browser = await launchChromium()
  operator = await newContext(browser, server)
  page = await operator.newPage()
})

afterEach(async ({ task }) => {
  if (task.result?.state !== "fail") return
  failed = true
  await screenshot(page, `failed-${task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(
    () => {},
  )
})

afterAll(async () => {
  if (operator !== undefined) await endTrace(operator, failed ? "operator" : undefined)
  await browser?.close()
  await server?.stop()
})

describe("dashboard, end to end", () => {
  it("logs in with the banner link and drops the token from the address bar", async () => {
    await loginWithLink(page, server, server.operatorToken)
    const url = new URL(page.url())
    expect(url.pathname).toBe("/")
    expect(url.search).not.toContain("token")
    await page.getByText("No runners yet").waitFor()
    await page.getByText("owner · admin", { exact: true }).waitFor()
  })

  it("says so when the pasted token is wrong", async () => {
    const context = await browser.newContext()
    try {
      const p = await context.newPage()
      await p.goto(`${server.url}/runners/nope`)
      await p.waitForURL(/\/login\?/)
      await p.getByLabel("Access token").fill("not-the-token")
      await p.getByRole("button", { name: "Log in" }).click()
      await p.getByText("That token is not valid").waitFor()
      await p.getByLabel("Access token").fill(server.viewerToken)
      await p.getByRole("button", { name: "Log in" }).click()
      // Back where it was going, as a viewer.
      await p.getByText("No such runner").waitFor()
      await p.getByText("viewer · read-only").waitFor()
    } finally {
      await context.close()
    }
  })

  let shellId = ""

  it("starts a shell runner from the form; it shows live on the board and in the terminal", async () => {
    await page.getByRole("link", { name: "Start a runner" }).first().click()
    await page.locator('input[name="provider"][value="shell"]').check()
    await page.getByLabel("Command").fill("PS1='e2e$ ' exec bash --norc --noprofile")
    await page.getByLabel("Name", { exact: true }).fill("e2e-shell")
    await page.getByRole("button", { name: "Start runner" }).click()
    await page.waitForURL(/\/runners\/[^/]+$/)
    shellId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "")
    await waitFor(
      async () => (await terminalLines(page)).some((l) => l.startsWith("e2e$")),
      "the prompt in the browser terminal",
    )

    // The board, live: output arriving now shows up without a reload.
    await page.getByRole("link", { name: "Board", exact: true }).click()
    await card(page, shellId).locator('[data-status="running"]').waitFor()
    const before = await card(page, shellId).locator("dd").nth(1).textContent()
    await server.api(`/api/runners/${shellId}/input`, {
      method: "POST",
      body: { data: "seq 1 300\r" },
    })
    await waitFor(
      async () => (await card(page, shellId).locator("dd").nth(1).textContent()) !== before,
      "the card's byte count to move",
    )

    await card(page, shellId).getByRole("link", { name: "e2e-shell" }).click()
    await waitFor(() => page.evaluate(() => "__geppettoTerm" in window), "the terminal")
    const pane = await paneOf(shellId)
    await expectTerminalMatchesPane(page, server, pane, "after seq")
  })

  it("lets an operator take control, type a command and see its output", async () => {
    const pane = await paneOf(shellId)
    await page.getByRole("button", { name: "Take control" }).click()
    await page.getByText("You are typing into").waitFor()
    expect(
      await page.getByRole("status").filter({ hasText: "You are typing into" }).textContent(),
    ).toContain("e2e-shell")
    await page.keyboard.type("echo hi")
    await page.keyboard.press("Enter")
    await waitFor(async () => {
      const lines = await terminalLines(page)
      const at = lines.lastIndexOf("e2e$ echo hi")
      return at >= 0 && lines[at + 1] === "hi"
    }, "`echo hi` and its output in the terminal")
    await expectTerminalMatchesPane(page, server, pane, "after echo hi")
    await page.getByRole("button", { name: "Release control" }).click()
    await page.getByRole("button", { name: "Take control" }).waitFor()
  })

  it("fetches the WebGL renderer only after the terminal's first screen, then draws with it", async () => {
    const p = await operator.newPage()
    try {
      // In the page: when xterm first renders text (the hook the tests read, wrapped as it is set).
      await p.addInitScript(() => {
        let term: { onRender(f: () => void): void } | undefined
        const w = window as unknown as { __firstRenderAt?: number }
        Object.defineProperty(window, "__geppettoTerm", {
          configurable: true,
          get: () => term,
          set(value: { onRender(f: () => void): void }) {
            term = value
            value.onRender(() => {
              w.__firstRenderAt ??= performance.now()
            })
          },
        })
      })
      const webglUrls: string[] = []
      p.on("response", (response) => {
        if (!response.url().endsWith(".js")) return
        void response
          .text()
          .then((text) => {
            // The addon's chunk: the only one that compiles shaders.
            if (text.includes("createShader")) webglUrls.push(response.url())
          })
          .catch(() => {})
      })
      await openRunner(p, shellId)
      // Headless Chromium has WebGL2 (SwiftShader): the renderer moves to it after that screen.
      await p.getByText(/ · WebGL · /).waitFor()
      expect(webglUrls).toHaveLength(1)
      const order = await p.evaluate((url) => {
        const entry = performance.getEntriesByName(url)[0]
        const w = window as unknown as { __firstRenderAt?: number }
        return { requested: entry?.startTime, firstRender: w.__firstRenderAt }
      }, webglUrls[0] ?? "")
      expect(order.firstRender).toBeGreaterThan(0)
      expect(order.requested).toBeGreaterThan(order.firstRender ?? Number.POSITIVE_INFINITY)
    } finally {
      await p.close()
    }
  })

  it("on a cold load of a runner page, fetches its terminal code and the runner's detail without waiting on other answers", async () => {
    const cold = await coldOperator()
    try {
      const p = await cold.newPage()
      const seen = { xterm: false, detail: false }
      const heldUntil: { node?: typeof seen; me?: typeof seen } = {}
      // Holds a response until `ready` (or a bounded wait), noting what had been asked by then.
      const hold = async (ready: () => boolean, key: "node" | "me") => {
        await waitFor(() => ready(), `the ${key} response's hold`, 10_000).catch(() => {})
        heldUntil[key] ??= { ...seen }
      }
      p.on("request", (request) => {
        if (new URL(request.url()).pathname === `/api/runners/${shellId}`) seen.detail = true
      })
      await p.route(/\/_app\/immutable\/chunks\/.*\.js$/, async (route) => {
        const response = await route.fetch()
        const body = await response.text()
        if (body.includes("xterm-helper-textarea")) seen.xterm = true
        await route.fulfill({ response, body })
      })
      await p.route(PAGE_NODE, async (route) => {
        await hold(() => seen.xterm, "node")
        await route.continue()
      })
      await p.route(`${server.url}/api/me`, async (route) => {
        await hold(() => seen.detail, "me")
        await route.continue()
      })
      await openRunner(p, shellId)
      // xterm.js is one of the page's own chunks, asked for with it, not once the page has run;
      // the runner's detail is asked for by the page's load, not after the session check's answer.
      expect(heldUntil.node?.xterm).toBe(true)
      expect(heldUntil.me?.detail).toBe(true)
    } finally {
      await cold.close()
    }
  })

  it("asks for a runner's detail once on a cold open, and again when its status changes", async () => {
    const runner = await server.api<RunnerSummary>("/api/runners", {
      method: "POST",
      body: { provider: "shell", command: ["sh"], name: "e2e-detail-once" },
    })
    const cold = await coldOperator()
    try {
      const p = await cold.newPage()
      let asked = 0
      p.on("request", (request) => {
        const path = new URL(request.url()).pathname
        if (request.method() === "GET" && path === `/api/runners/${runner.id}`) asked++
      })
      await openRunner(p, runner.id)
      // The events stream has said what it knows of the runner (the second ask came then, or
      // with the detail's own arrival), and the terminal is up.
      await waitFor(
        () =>
          p.evaluate((id) => {
            const hooks = window as unknown as {
              __geppetto?: { live: { loaded: boolean; runners: Map<string, unknown> } }
            }
            return hooks.__geppetto?.live.loaded === true && hooks.__geppetto.live.runners.has(id)
          }, runner.id),
        "the events stream's word on the runner",
      )
      await p.locator('header [data-status="running"]').waitFor()
      expect(asked).toBe(1)
      // Its end is a new status: the page asks again (its metrics are only in the detail).
      await server.api(`/api/runners/${runner.id}/input`, {
        method: "POST",
        body: { data: "exit 3\r" },
      })
      await p.locator('header [data-status="failed"]').waitFor()
      await waitFor(() => asked >= 2, "the detail asked for again")
      expect(await p.locator('dt:text-is("Exit code") + dd').textContent()).toBe("3")
    } finally {
      await cold.close()
      await server.api(`/api/runners/${runner.id}`, { method: "DELETE" }).catch(() => {})
    }
  })

  it("on log-out, drops this browser's push subscription on the server and in the browser", async () => {
    const cold = await coldOperator()
    try {
      const endpoint = "https://push.example.test/send/e2e-log-out"
      // The browser's side of a subscription, stubbed: subscribing for real needs a push
      // service, which this machine has no network to reach. The server's side is real.
      await cold.addInitScript((url) => {
        const w = window as unknown as { __unsubscribed?: boolean }
        const subscription = {
          endpoint: url,
          unsubscribe: async () => {
            w.__unsubscribed = true
            return true
          },
        }
        Object.defineProperty(navigator.serviceWorker, "getRegistration", {
          value: async () => ({ pushManager: { getSubscription: async () => subscription } }),
        })
      }, endpoint)
      const p = await cold.newPage()
      await p.goto(`${server.url}/`)
      await card(p, shellId).waitFor()
      // Filed under this operator, as the bell menu's "Push to this browser" does.
      const keys = {
        p256dh: createECDH("prime256v1").generateKeys().toString("base64url"),
        auth: randomBytes(16).toString("base64url"),
      }
      const filed = await p.evaluate(
        async (body) =>
          (
            await fetch("/api/push/subscriptions", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(body),
            })
          ).status,
        { endpoint, keys },
      )
      expect(filed).toBe(201)
      const stored = () => readFileSync(join(server.dataDir, "push-subscriptions.json"), "utf8")
      expect(stored()).toContain(endpoint)
      await p.getByRole("button", { name: "Log out" }).click()
      await p.waitForURL(/\/login/)
      expect(stored()).not.toContain(endpoint)
      expect(await p.evaluate(() => (window as { __unsubscribed?: boolean }).__unsubscribed)).toBe(
        true,
      )
    } finally {
      await cold.close()
    }
  })

  it("on a cold load of the board, opens the event stream while the board's own code is still on its way", async () => {
    const cold = await coldOperator()
    try {
      const p = await cold.newPage()
      let events = false
      let eventsBeforeNode: boolean | undefined
      p.on("websocket", (ws) => {
        if (new URL(ws.url()).pathname === "/api/events") events = true
      })
      // The board's code is held until the stream is open, or a bounded wait.
      await p.route(PAGE_NODE, async (route) => {
        await waitFor(() => events, "the event stream", 10_000).catch(() => {})
        eventsBeforeNode ??= events
        await route.continue()
      })
      await p.goto(`${server.url}/`)
      await card(p, shellId).waitFor()
      expect(eventsBeforeNode).toBe(true)
    } finally {
      await cold.close()
    }
  })

  it("keeps a viewer read-only: a badge, no control, keys go nowhere", async () => {
    const context = await newContext(browser, server)
    try {
      const viewer = await context.newPage()
      await loginWithLink(viewer, server, server.viewerToken)
      await openRunner(viewer, shellId)
      await viewer.getByText("Read-only", { exact: true }).waitFor()
      expect(await viewer.getByRole("button", { name: "Take control" }).count()).toBe(0)
      expect(await viewer.getByRole("button", { name: "Pause" }).count()).toBe(0)
      await viewer.locator(".xterm-screen").click()
      await viewer.keyboard.type("echo viewer-was-here")
      await viewer.keyboard.press("Enter")
      // The operator's page is the witness: give the keys time to arrive, if they were sent.
      await server.api(`/api/runners/${shellId}/input`, {
        method: "POST",
        body: { data: "echo marker-after-viewer\r" },
      })
      const pane = await paneOf(shellId)
      await waitFor(
        () => server.capture(pane).includes("marker-after-viewer"),
        "the operator's marker in the pane",
      )
      expect(server.capture(pane).join("\n")).not.toContain("viewer-was-here")
      await endTrace(context, failed ? "viewer" : undefined)
    } finally {
      await context.close()
    }
  })

  it("shows a waiting runner's reason and quick replies, notifies once, and answers with one click", async () => {
    await page.goto(`${server.url}/`)
    // Opt in to notifications in this tab (the context granted the permission), from the bell.
    await page.getByRole("button", { name: /^Notifications/ }).click()
    await page.getByRole("checkbox", { name: "Notify me while this tab is open" }).check()
    await page.getByRole("button", { name: /^Notifications/ }).click()
    await waitFor(
      () => page.evaluate(() => (window as unknown as Hooks).__geppetto.attention.notify),
      "notifications to be on",
    )
    const runner = await startViaApi({
      provider: "shell",
      name: "e2e-ask",
      command: ["bash", join(fixtures, "ask.sh")],
    })
    const c = card(page, runner.id)
    await c.locator('[data-status="waiting"]').waitFor({ timeout: 30_000 })
    await c.getByText("question").waitFor()
    await waitFor(
      async () => (await page.title()).startsWith("(1)"),
      "the title badge with the count waiting",
    )
    const yes = c.getByRole("button", { name: "Yes" })
    await yes.waitFor()
    await screenshot(page, "board-waiting")
    await yes.click()
    await c.locator('[data-status="running"]').waitFor({ timeout: 30_000 })
    const pane = await paneOf(runner.id)
    await waitFor(() => server.capture(pane).includes("answer=y"), "the answer in the pane")
    const announced = await page.evaluate(
      (id) =>
        (window as unknown as Hooks).__geppetto.attention.announced.filter((a) => a.runnerId === id)
          .length,
      runner.id,
    )
    expect(announced).toBe(1)
    expect((await page.title()).startsWith("(")).toBe(false)
  })

  it("pauses, resumes and terminates from the UI, and the board agrees", async () => {
    const board = await operator.newPage()
    await board.goto(`${server.url}/`)
    await openRunner(page, shellId)
    const status = page.locator("header [data-status]")

    await page.getByRole("button", { name: "Pause" }).click()
    await page.locator('header [data-status="paused"]').waitFor()
    await card(board, shellId).locator('[data-status="paused"]').waitFor()

    await page.getByRole("button", { name: "Resume" }).click()
    await page.locator('header [data-status="running"]').waitFor()
    await card(board, shellId).locator('[data-status="running"]').waitFor()

    await page.getByRole("button", { name: "Terminate" }).click()
    await page.getByRole("button", { name: "Yes, terminate" }).click()
    await waitFor(
      async () =>
        ["completed", "failed"].includes((await status.getAttribute("data-status")) ?? ""),
      "the runner to end",
      30_000,
    )
    await waitFor(
      async () =>
        ["completed", "failed"].includes(
          (await card(board, shellId).locator("[data-status]").getAttribute("data-status")) ?? "",
        ),
      "the board to show it ended",
    )
    await board.close()
  })

  it("reconnects after a server restart and continues without a gap", async () => {
    const runner = await startViaApi({ provider: "shell", name: "e2e-restart", command: plainBash })
    const pane = await paneOf(runner.id)
    await openRunner(page, runner.id)
    await server.api(`/api/runners/${runner.id}/input`, {
      method: "POST",
      body: { data: "echo before-restart\r" },
    })
    await waitFor(
      async () => (await terminalLines(page)).includes("before-restart"),
      "output before the restart",
    )

    await server.stopProcess()
    await page.locator('[data-connection="reconnecting"]').waitFor()
    // Written while the server is down: the pane's log writer runs under tmux, not the server.
    server.tmux(["send-keys", "-t", pane, "-l", "echo during-$((6*7)); seq 1 40"])
    server.tmux(["send-keys", "-t", pane, "Enter"])
    await waitFor(() => server.capture(pane).includes("40"), "output while the server is down")
    await server.start()

    await page.locator('[data-connection="reconnecting"]').waitFor({ state: "detached" })
    await expectTerminalMatchesPane(page, server, pane, "after the restart")
    const logEnd = await page.evaluate(async (id) => {
      const r = await fetch(`/api/runners/${id}/log`)
      return { end: Number(r.headers.get("x-log-end")), text: await r.text() }
    }, runner.id)
    expect(logEnd.text).toContain("during-42")
    const stream = await page.evaluate(() => {
      const s = (window as unknown as Hooks).__geppettoStream
      return { received: s.received, gaps: s.gaps }
    })
    expect(stream.gaps).toBe(0)
    expect(stream.received).toBe(logEnd.end)
  })

  it("draws full-screen programs exactly as tmux does (less, top, vi, a fake agent TUI)", async () => {
    const runner = await startViaApi({ provider: "shell", name: "e2e-tui", command: plainBash })
    const pane = await paneOf(runner.id)
    await openRunner(page, runner.id)
    const type = (data: string) =>
      server.api(`/api/runners/${runner.id}/input`, { method: "POST", body: { data } })

    const atPrompt = (after: string) =>
      waitFor(() => server.capture(pane).at(-1)?.startsWith("e2e$"), `the prompt after ${after}`)
    // `.ci/setup --tests` installs them; a machine without one fails here, it does not skip.
    const missing = ["less", "top", "vi"].filter((p) => !installed(p))
    expect(missing, "install them with .ci/setup --tests").toEqual([])
    await type("seq 1 500 | less\r")
    await waitFor(() => server.capture(pane).includes("1"), "less to draw")
    await expectTerminalMatchesPane(page, server, pane, "less")
    await type(" ")
    await expectTerminalMatchesPane(page, server, pane, "less, next page")
    await type("q")
    await atPrompt("less")
    await type("top -d 3\r")
    await waitFor(() => server.capture(pane).some((l) => l.startsWith("top -")), "top to draw")
    await expectTerminalMatchesPane(page, server, pane, "top")
    await type("q")
    await atPrompt("top")
    await type("vi -u NONE -N /tmp/geppetto-e2e-vi.txt\r")
    await waitFor(() => server.capture(pane).some((l) => l.startsWith("~")), "vi to draw")
    await type("iHello from the browser test\u001b")
    await waitFor(
      () => server.capture(pane).some((l) => l.includes("Hello from the browser test")),
      "vi to show the text",
    )
    await expectTerminalMatchesPane(page, server, pane, "vi")
    await type(":q!\r")
    await atPrompt("vi")

    await type(`bash ${join(fixtures, "tui-agent.sh")}\r`)
    await waitFor(
      () => server.capture(pane).some((l) => l.includes("Do you want to proceed?")),
      "the fake agent's menu",
    )
    await waitFor(
      () => server.capture(pane).some((l) => l.startsWith("✻ Thinking… (4s")),
      "the fake agent's last redraw",
    )
    await expectTerminalMatchesPane(page, server, pane, "fake agent TUI")
    await screenshot(page, "runner-page")
    await type("1")
    await waitFor(() => server.capture(pane).includes("● done"), "the fake agent to finish")
    await expectTerminalMatchesPane(page, server, pane, "fake agent, done")
  })

  it("saves screenshots of the board, a runner page and the phone layout", async () => {
    await page.goto(`${server.url}/`)
    await page.getByRole("heading", { name: "Runners" }).waitFor()
    await screenshot(page, "board")
    const phone = await newContext(browser, server, { phone: true })
    try {
      const p = await phone.newPage()
      await loginWithLink(p, server, server.operatorToken)
      await screenshot(p, "phone-board")
      const runners = await server.api<RunnerSummary[]>("/api/runners")
      const live = runners.find((r) => r.name === "e2e-ask")
      if (live !== undefined) {
        await openRunner(p, live.id)
        await screenshot(p, "phone-runner")
      }
      // Nothing wider than the phone: no sideways scrolling of the page itself.
      const overflow = await p.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      )
      expect(overflow).toBeLessThanOrEqual(1)
      await endTrace(phone, failed ? "phone" : undefined)
    } finally {
      await phone.close()
    }
  })
})

interface Hooks {
  __geppetto: {
    attention: { notify: boolean; announced: Array<{ runnerId: string }> }
  }
  __geppettoStream: { received: number | undefined; gaps: number }
}
