import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { RunnerDetail } from "@geppetto/protocol"
import type { Browser, Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { endTrace, loginWithLink, newContext, screenshot } from "./helpers/browser.js"
import { repoRoot, TestServer } from "./helpers/server.js"
import { removeDirs, tempDir, useOperatorSession } from "./helpers/session.js"

// Issue 15 in the browser: a runner started with its own worktree from the form, its change
// seen in Changes, committed and merged into main from the page, and main checked with git.

/** git by argv in `cwd`, with a fixed identity and no user or system config. */
const git = (cwd: string, ...args: string[]): string =>
  execFileSync(
    "git",
    ["-C", cwd, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", ...args],
    {
      encoding: "utf8",
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    },
  )

const GREET_BEFORE = `export const greet = (name: string): string => {
  return "Hello, " + name
}

export const farewell = (name: string): string => \`Goodbye, \${name}\`
`

const GREET_AFTER = `export const greet = (name: string, excited = false): string => {
  // A template literal, and an exclamation mark when asked for one.
  return \`Hello, \${name}\${excited ? "!" : "."}\`
}

export const farewell = (name: string): string => \`Goodbye, \${name}\`
`

/** Where the docs keep the review's screenshots (the README shows them). */
const docsDir = join(repoRoot, "docs")

let server: TestServer
let browser: Browser
let page: Page
let repo = ""
let scratch = ""
let runnerId = ""

const failed = useOperatorSession("workspaces", {
  prepare: () => {
    // realpath: the server reports the repository's real path (tmpdir may be a symlink).
    repo = realpathSync(tempDir("repo"))
    scratch = tempDir("agent")
    git(repo, "init", "--quiet", "--initial-branch=main")
    mkdirSync(join(repo, "src"))
    writeFileSync(join(repo, "README.md"), "# demo\n\nA repository for the workspaces e2e.\n")
    writeFileSync(join(repo, "src/greet.ts"), GREET_BEFORE)
    git(repo, "add", "--", "README.md", "src/greet.ts")
    git(repo, "commit", "--quiet", "-m", "initial")
    // The "agent": writes a new file, edits one, then waits (outside the repo, so not in the diff).
    writeFileSync(join(scratch, "after.ts"), GREET_AFTER)
    writeFileSync(
      join(scratch, "agent.sh"),
      `printf 'hello\\n' > hello.txt\ncp '${join(scratch, "after.ts")}' src/greet.ts\nexec sleep 600\n`,
    )
    return new TestServer()
  },
  ready: (session) => {
    server = session.server
    browser = session.browser
    page = session.page
  },
  cleanup: () => removeDirs(repo, scratch),
})

/** Scrolls the page so that the runner's tabs are just under the app's sticky top bar. */
const scrollToTabs = (p: Page) =>
  p.evaluate(() => {
    const tabs = document.querySelector('[role="tablist"]')
    const bar = document.querySelector("header.top")?.getBoundingClientRect().bottom ?? 0
    if (tabs !== null) window.scrollBy(0, tabs.getBoundingClientRect().top - bar - 8)
  })

/** The Changes tab of the open runner page, once its diff is drawn. */
const openChanges = async (p: Page) => {
  await p.getByRole("tab", { name: /Changes/ }).click()
  await p.getByRole("list", { name: "Changed files" }).getByText("hello.txt").waitFor()
  await p.locator(".d2h-file-wrapper", { hasText: "hello.txt" }).waitFor()
}

describe("workspaces, end to end", () => {
  it("starts a shell runner in its own worktree from the form", async () => {
    await page.goto(`${server.url}/new`)
    await page.locator('input[name="provider"][value="shell"]').check()
    await page.getByLabel("Command").fill(`sh '${join(scratch, "agent.sh")}'`)
    await page.getByLabel("Name", { exact: true }).fill("e2e-ws")
    await page.getByLabel("Working directory").fill(repo)
    // Shown once the server says the folder is a repository; off by default for a shell.
    const own = page.getByRole("checkbox", { name: "Own worktree" })
    await own.waitFor()
    expect(await own.isChecked()).toBe(false)
    await own.check()
    await page.getByText("More options").click()
    expect(await page.getByLabel("Branch").getAttribute("placeholder")).toBe("geppetto/e2e-ws")
    await page.getByRole("button", { name: "Start runner" }).click()
    await page.waitForURL(/\/runners\/[^/]+$/)
    runnerId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "")

    const runner = await server.api<RunnerDetail>(`/api/runners/${runnerId}`)
    expect(runner.workspace).toMatchObject({ repo, branch: "geppetto/e2e-ws", isolated: true })
    expect(runner.cwd.startsWith(join(server.dataDir, "worktrees"))).toBe(true)
    expect(git(repo, "status", "--porcelain")).toBe("")
  })

  it("shows the new file and the edit in Changes, side by side on a desktop", async () => {
    await openChanges(page)
    const files = page.getByRole("list", { name: "Changed files" })
    await files.getByText("src/greet.ts").waitFor()
    const hello = page.locator(".d2h-file-wrapper", { hasText: "hello.txt" })
    // The added line, as diff2html draws an insertion.
    await hello.locator(".d2h-ins", { hasText: "hello" }).first().waitFor()
    expect(await files.locator("li", { hasText: "hello.txt" }).textContent()).toMatch(/added/)
    expect(await files.locator("li", { hasText: "hello.txt" }).textContent()).toMatch(/\+1/)
    // Wide: two columns per file, syntax coloured by highlight.js.
    expect(await page.locator(".d2h-files-diff").count()).toBeGreaterThan(0)
    await page
      .locator(".d2h-file-wrapper", { hasText: "src/greet.ts" })
      .locator(".hljs-keyword")
      .first()
      .waitFor()

    await page.setViewportSize({ width: 1280, height: 800 })
    await scrollToTabs(page)
    mkdirSync(docsDir, { recursive: true })
    await page.screenshot({ path: join(docsDir, "changes-desktop.png") })
  })

  it("shows Changes unified on a phone, without sideways scrolling of the page", async () => {
    const phone = await newContext(browser, server, { phone: true })
    try {
      const p = await phone.newPage()
      await loginWithLink(p, server, server.operatorToken)
      await p.goto(`${server.url}/runners/${runnerId}`)
      await openChanges(p)
      expect(await p.locator(".d2h-files-diff").count()).toBe(0)
      expect(await p.locator(".d2h-file-diff").count()).toBeGreaterThan(0)
      const overflow = await p.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      )
      expect(overflow).toBeLessThanOrEqual(1)
      await scrollToTabs(p)
      await p.screenshot({ path: join(docsDir, "changes-phone.png") })
      await endTrace(phone, failed() ? "workspaces-phone" : undefined)
    } finally {
      await phone.close()
    }
  })

  it("lets a viewer read Changes but not commit or merge", async () => {
    const context = await newContext(browser, server)
    try {
      const viewer = await context.newPage()
      await loginWithLink(viewer, server, server.viewerToken)
      await viewer.goto(`${server.url}/runners/${runnerId}`)
      await openChanges(viewer)
      expect(await viewer.getByRole("button", { name: "Commit" }).count()).toBe(0)
      expect(await viewer.getByRole("button", { name: /^Merge into/ }).count()).toBe(0)
      await endTrace(context, failed() ? "workspaces-viewer" : undefined)
    } finally {
      await context.close()
    }
  })

  it("commits, merges into main, and main has the file", async () => {
    await page.getByLabel("Commit message").fill("Add hello.txt and an excited greeting")
    await page.getByRole("button", { name: "Commit", exact: true }).click()
    await page.getByRole("status").filter({ hasText: "Committed" }).waitFor()

    // The target defaults to the base branch the worktree started from.
    expect(await page.getByLabel("Into branch").inputValue()).toBe("main")
    await page.getByRole("button", { name: "Merge into main" }).click()
    await page.getByRole("status").filter({ hasText: "Merged into main" }).waitFor()

    expect(git(repo, "show", "main:hello.txt")).toBe("hello\n")
    expect(git(repo, "show", "main:src/greet.ts")).toBe(GREET_AFTER)
    expect(git(repo, "log", "--format=%s", "main")).toContain(
      "Add hello.txt and an excited greeting",
    )
    // main is checked out in the repository's own work tree: updated there and left clean.
    expect(readFileSync(join(repo, "hello.txt"), "utf8")).toBe("hello\n")
    expect(git(repo, "status", "--porcelain")).toBe("")
  })

  it("shows a conflicting merge's files and changes nothing", async () => {
    // main moves on in the repository while the worktree changes the same line.
    writeFileSync(join(repo, "hello.txt"), "hello from main\n")
    git(repo, "commit", "--quiet", "-am", "main says hello its own way")
    const worktree = (await server.api<RunnerDetail>(`/api/runners/${runnerId}`)).cwd
    writeFileSync(join(worktree, "hello.txt"), "hello from the worktree\n")

    await page.getByRole("button", { name: "Refresh" }).click()
    const hello = page.locator(".d2h-file-wrapper", { hasText: "hello.txt" })
    await hello.locator(".d2h-ins", { hasText: "hello from the worktree" }).first().waitFor()
    await page.getByLabel("Commit message").fill("The worktree's hello")
    await page.getByRole("button", { name: "Commit", exact: true }).click()
    await page.getByRole("status").filter({ hasText: "Committed" }).waitFor()

    const before = {
      main: git(repo, "rev-parse", "main"),
      branch: git(repo, "rev-parse", "geppetto/e2e-ws"),
      status: git(repo, "status", "--porcelain"),
    }
    await page.getByRole("button", { name: "Merge into main" }).click()
    const alert = page.getByRole("alert").filter({ hasText: "Conflict: nothing was changed" })
    await alert.waitFor()
    expect(await alert.getByRole("listitem").allTextContents()).toEqual(["hello.txt"])
    await alert.scrollIntoViewIfNeeded()
    await screenshot(page, "changes-conflict", false)
    expect({
      main: git(repo, "rev-parse", "main"),
      branch: git(repo, "rev-parse", "geppetto/e2e-ws"),
      status: git(repo, "status", "--porcelain"),
    }).toEqual(before)
    expect(readFileSync(join(repo, "hello.txt"), "utf8")).toBe("hello from main\n")
  })

  it("shows the runner on the board under its project, with its branch and +N −M", async () => {
    await page.goto(`${server.url}/`)
    const project = page.locator("section.project", {
      has: page.getByRole("heading", { name: repo.slice(repo.lastIndexOf("/") + 1) }),
    })
    const c = project.locator(`article[data-runner-id="${runnerId}"]`)
    await c.getByText("geppetto/e2e-ws").waitFor()
    await c.getByText(/^\+\d+$/).waitFor()
    const counts = await project.locator(".project-counts").textContent()
    expect(counts?.replace(/\s+/g, " ").trim()).toBe("1 runner, none waiting")
  })
})
