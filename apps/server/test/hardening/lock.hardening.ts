import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE } from "../../src/lock.js"
import { isStarted, processWorld } from "./process-server.js"
import { record } from "./tally.js"

/** A pid that certainly names no process now: a child that has already exited. */
const deadPid = (): number => {
  const result = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" })
  return Number(result.stdout.trim())
}

describe("one server per data dir", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })

  it("takes the lock with our pid, refuses a second taker, and frees it on release", async () => {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-lock-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const lock = await acquireDataDirLock(dir)
    expect(readFileSync(join(dir, LOCK_FILE), "utf8")).toBe(`${process.pid}\n`)
    expect(statSync(join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600)
    await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError)
    await lock.release()
    await lock.release()
    const again = await acquireDataDirLock(dir)
    await again.release()
  })

  it("takes over a stale lock: a dead pid, an empty file, our own pid not held here", async () => {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-lock-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    for (const stale of [`${deadPid()}\n`, "", "garbage", `${process.pid}\n`]) {
      writeFileSync(join(dir, LOCK_FILE), stale)
      const lock = await acquireDataDirLock(dir)
      expect(readFileSync(join(dir, LOCK_FILE), "utf8")).toBe(`${process.pid}\n`)
      await lock.release()
    }
    record({ faults: 4 })
  })

  it("a second `geppetto serve` on the same data dir exits with a clear message; after kill -9 of the first, a new one starts", async () => {
    const world = processWorld()
    cleanups.push(world.close)
    const first = await world.start()
    if (!isStarted(first)) throw new Error(`first server failed: ${first.failed}`)
    const second = await world.start()
    expect(isStarted(second)).toBe(false)
    if (isStarted(second)) return
    expect(second.code).toBe(1)
    expect(second.failed).toContain(
      `data dir ${world.dataDir} is in use by another geppetto server (pid ${first.pid}`,
    )
    // The first is untouched by the refused start.
    expect((await world.fetchJson(first, "/api/health")).status).toBe(200)
    first.child.kill("SIGKILL")
    await first.exited
    expect(readFileSync(join(world.dataDir, LOCK_FILE), "utf8")).toBe(`${first.pid}\n`)
    const third = await world.start()
    if (!isStarted(third)) throw new Error(`restart after kill -9 failed: ${third.failed}`)
    expect(readFileSync(join(world.dataDir, LOCK_FILE), "utf8")).toBe(`${third.pid}\n`)
    // A clean stop removes the lock.
    third.child.kill("SIGTERM")
    await third.exited
    expect(() => statSync(join(world.dataDir, LOCK_FILE))).toThrow()
    record({ faults: 2 })
  })
})
