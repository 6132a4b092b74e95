import { spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { serve } from "../src/serve.js"
import { waitFor } from "./helpers/server.js"

describe("geppetto serve: the runners' environment", () => {
  const cleanups: Array<() => void | Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it("launched by pnpm onto a tmux server an older start left: claude listed installed starts, with the server's PATH", async () => {
    const root = mkdtempSync(join(tmpdir(), "geppetto-serve-env-"))
    const socket = `geppetto-serve-env-${process.pid}`
    cleanups.push(() => rmSync(root, { recursive: true, force: true }))
    cleanups.push(() => {
      spawnSync("tmux", ["-L", socket, "kill-server"])
      rmSync(join("/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), { force: true })
    })
    // The tmux server exists first, with the environment of a start before claude was installed.
    const older = spawnSync(
      "tmux",
      ["-L", socket, "new-session", "-d", "-s", "older", "sleep", "600"],
      {
        env: { PATH: "/usr/bin:/bin", HOME: root, npm_lifecycle_event: "geppetto" },
        encoding: "utf8",
      },
    )
    expect(older.status, older.stderr).toBe(0)
    const bin = join(root, "bin")
    mkdirSync(bin)
    writeFileSync(
      join(bin, "claude"),
      '#!/bin/sh\n[ "$1" = --version ] && { echo "1.0.0 (Fake Code)"; exit 0; }\nenv\necho END-OF-ENV\n',
    )
    chmodSync(join(bin, "claude"), 0o755)
    const token = "operator-token-from-env-0123456789"
    // What `pnpm geppetto serve` hands the server once the user put claude's folder on PATH.
    const env = {
      PATH: `${root}/checkout/node_modules/.bin:/usr/lib/node_modules/pnpm/dist/node-gyp-bin:${bin}:/usr/bin:/bin`,
      HOME: root,
      LANG: "C.UTF-8",
      npm_lifecycle_event: "geppetto",
      npm_config_user_agent: "pnpm/12.4.2 npm/? node/? linux x64",
      PNPM_SCRIPT_SRC_DIR: `${root}/checkout`,
      GEPPETTO_TOKEN: token,
    }
    const dataDir = join(root, "state")
    const server = await serve({ host: "127.0.0.1", port: 0, tmuxSocket: socket, dataDir }, env)
    cleanups.push(server.close)
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      })

    const providers = (await (await api("/api/providers")).json()) as Array<{
      id: string
      installed: boolean
    }>
    expect(providers.find((p) => p.id === "claude")).toMatchObject({ installed: true })
    const started = await api("/api/runners", {
      method: "POST",
      body: JSON.stringify({ provider: "claude", mode: "oneshot", prompt: "hi", cwd: root }),
    })
    expect(started.status).toBe(201)
    const { id } = (await started.json()) as { id: string }
    const runner = await waitFor(async () => {
      const now = (await (await api(`/api/runners/${id}`)).json()) as {
        status: string
        exitCode?: number
      }
      return (now.status === "completed" || now.status === "failed") && now
    }, "the claude runner to end")
    // The bug: `failed`, exit 127, "claude: not found" on the older start's PATH.
    expect(runner).toMatchObject({ status: "completed", exitCode: 0 })
    const log = await (await api(`/api/runners/${id}/log`)).text()
    expect(log).toContain(`PATH=${bin}:/usr/bin:/bin\r\n`)
    expect(log).toContain("END-OF-ENV")
    expect(log).not.toMatch(/npm_|PNPM_|GEPPETTO_TOKEN/)
  })
})
