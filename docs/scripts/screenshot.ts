/**
 * Takes `docs/board.png`, the README's picture of the board: `pnpm docs:screenshot` (after
 * `pnpm build`; it runs the built server and dashboard, as a user would).
 *
 * It starts a real `geppetto serve` on its own tmux server (`--tmux-socket`, a unique name),
 * a temp data dir and a free port, with a fake `claude` on its PATH that stops at a
 * permission prompt; starts a few shell runners through the API (a dev server, a build, a
 * failing test run, a deploy that asks a yes/no question); waits for their states; logs in
 * with Debian's Chromium (headless, fresh profile) through the banner-style link; and saves
 * the board. Everything it started is removed at the end, whatever happens.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"

const root = fileURLToPath(new URL("../../", import.meta.url))
const output = join(root, "docs", "board.png")
const serverMain = join(root, "apps/server/dist/main.js")
const CHROMIUM = process.env.GEPPETTO_CHROMIUM ?? "/usr/bin/chromium"
const VIEWPORT = { width: 1280, height: 690 }

interface Runner {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly waitingForInput: boolean
}

const waitFor = async <A>(
  what: string,
  check: () => Promise<A | undefined | false> | A | undefined | false,
  ms = 30_000,
): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A stand-in for Claude Code: its permission dialog, as the `claude.permission` rule knows it. */
const FAKE_CLAUDE = String.raw`#!/usr/bin/env bash
prompt="${"$"}{@: -1}"
printf '\033[2J\033[H'
printf '╭──────────────────────────────────────────────────────────────╮\n'
printf '│ ✻ Welcome to Claude Code!                                    │\n'
printf '╰──────────────────────────────────────────────────────────────╯\n\n'
printf '> %s\n\n' "$prompt"
sleep 0.4
printf '● I will read the log reader first, then add a retry with backoff.\n\n'
printf '● Read(packages/runner/src/logs/log-store.ts)\n  ⎿  Read 412 lines\n\n'
sleep 0.4
printf '────────────────────────────────────────────────────────────────\n'
printf ' Bash command\n\n'
printf '   pnpm vitest run packages/runner/test/logs\n'
printf '   Run the log reader tests\n\n'
printf ' Do you want to proceed?\n'
printf ' ❯ 1. Yes\n'
printf '   2. Yes, and do not ask again for pnpm vitest commands\n'
printf '   3. No, and tell Claude what to do differently (esc)\n'
IFS= read -r -s -n 1 _key
printf '\n● Running the tests…\n'
sleep 3600
`

const DEV_SERVER = String.raw`printf '\n  VITE v7.3.8  ready in 412 ms\n\n  ➜  Local:   http://localhost:5173/\n\n'
paths=(/ /runners /api/runners /runners/run-1 /new /history)
i=0
while :; do
  i=$((i + 1))
  printf '%s [vite] hmr update %s (x%d)\n' "$(date +%T)" "${"$"}{paths[$((i % 6))]}" "$i"
  sleep 0.7
done`

const BUILD = String.raw`for p in protocol runner server dashboard; do
  printf 'building @geppetto/%s…\n' "$p"; sleep 0.3
done
printf '✓ 1342 modules transformed.\n✓ built in 2.41s\n'`

const E2E = String.raw`printf ' RUN  v3.2.7\n\n'
for t in login board runner-page take-control quick-reply; do
  printf ' ✓ dashboard > %s\n' "$t"; sleep 0.2
done
printf ' × dashboard > resumes after a restart\n   → timed out waiting for the terminal to load\n\n Tests  1 failed | 5 passed (6)\n'
exit 1`

const DEPLOY = String.raw`printf 'plan: 3 services changed (api, worker, dashboard)\n'
printf 'Deploy to staging now? [y/N] '
IFS= read -r answer
printf 'answer=%s\n' "$answer"
sleep 3600`

const main = async () => {
  if (!existsSync(serverMain) || !existsSync(join(root, "apps/dashboard/build/index.html"))) {
    throw new Error("build first: `pnpm build` (the server and the dashboard are used built)")
  }
  const work = mkdtempSync(join(tmpdir(), "geppetto-shot-"))
  const dataDir = join(work, "data")
  const bin = join(work, "bin")
  const profile = join(work, "chromium")
  const socket = `geppetto-shot-${process.pid}-${randomBytes(3).toString("hex")}`
  const operator = `op-${randomBytes(16).toString("hex")}`
  const viewer = `view-${randomBytes(16).toString("hex")}`
  spawnSync("mkdir", ["-p", bin, profile])
  writeFileSync(join(bin, "claude"), FAKE_CLAUDE)
  chmodSync(join(bin, "claude"), 0o755)

  let child: ChildProcess | undefined
  let url: string | undefined
  const api = async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const response = await fetch(`${url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${operator}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`)
    return (text === "" ? undefined : JSON.parse(text)) as T
  }

  try {
    child = spawn(
      process.execPath,
      [
        serverMain,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--tmux-socket",
        socket,
        "--data-dir",
        dataDir,
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          GEPPETTO_TOKEN: operator,
          GEPPETTO_VIEWER_TOKEN: viewer,
          GEPPETTO_LOG_LEVEL: "warn",
          PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
          SHELL: "/bin/bash",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    )
    let log = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      log += chunk.toString("utf8")
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString("utf8")
    })
    url = await waitFor("the server's start banner", () => {
      if (child?.exitCode !== null) throw new Error(`geppetto serve exited:\n${log}`)
      return /listening on (http:\/\/\S+)/.exec(log)?.[1]
    })

    const start = (body: Record<string, unknown>) =>
      api<Runner>("/api/runners", { method: "POST", body: { cols: 100, rows: 30, ...body } })
    const shell = (name: string, script: string) =>
      start({ provider: "shell", name, command: ["bash", "-c", script] })
    const claude = await start({
      provider: "claude",
      name: "claude-log-retries",
      prompt: "Add retries with backoff to the log reader, and cover them with tests",
    })
    const deploy = await shell("deploy-staging", DEPLOY)
    await shell("dev-server", DEV_SERVER)
    const build = await shell("build", BUILD)
    const e2e = await shell("e2e-tests", E2E)

    const state = async () => new Map((await api<Runner[]>("/api/runners")).map((r) => [r.id, r]))
    await waitFor("the runners to settle", async () => {
      const runners = await state()
      return (
        runners.get(claude.id)?.waitingForInput === true &&
        runners.get(deploy.id)?.waitingForInput === true &&
        runners.get(build.id)?.status === "completed" &&
        runners.get(e2e.id)?.status === "failed"
      )
    })
    // Byte counts and last lines are pushed once a second; let the dev server log a little.
    await new Promise((resolve) => setTimeout(resolve, 2500))

    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: VIEWPORT,
      colorScheme: "light",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    })
    try {
      const page = context.pages()[0] ?? (await context.newPage())
      await page.goto(`${url}/?token=${encodeURIComponent(operator)}`)
      await page.getByRole("heading", { name: "Runners", level: 1 }).waitFor()
      await page.locator("article[data-runner-id]").nth(4).waitFor()
      // The sparklines fill in from the live feed; give them a moment.
      await page.waitForTimeout(1500)
      await page.screenshot({ path: output })
      process.stdout.write(`wrote ${output}\n`)
    } finally {
      await context.close()
    }
  } finally {
    if (url !== undefined) {
      const runners = await api<Runner[]>("/api/runners").catch((): Runner[] => [])
      await Promise.all(
        runners.map((r) => api(`/api/runners/${r.id}`, { method: "DELETE" }).catch(() => {})),
      )
    }
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve))
      child.kill("SIGTERM")
      await exited
    }
    spawnSync("tmux", ["-L", socket, "kill-server"])
    rmSync(join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), {
      force: true,
    })
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
