import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { hashToken, LAST_SEEN_RESOLUTION_MS, UserStore } from "../../src/auth/users.js"
import { testTokens } from "../helpers/auth.js"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-users-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe("UserStore", () => {
  it("resolves the built-in tokens to owner (admin) and viewer, and nothing else", async () => {
    const store = await UserStore.open({ tokens: testTokens })
    expect(store.resolveToken(testTokens.operator)).toMatchObject({ name: "owner", role: "admin" })
    expect(store.resolveToken(testTokens.viewer)).toMatchObject({ name: "viewer", role: "viewer" })
    expect(store.resolveToken(`${testTokens.operator}x`)).toBeUndefined()
    expect(store.resolveToken("")).toBeUndefined()
    expect(await store.add("owner", "viewer")).toEqual({ ok: false, reason: "reserved" })
    expect(await store.remove("owner")).toBe(false)
    expect(await store.setRole("viewer", "admin")).toBeUndefined()
  })

  it("moves lastSeenAt at most once a minute, and writes only then", async () => {
    const dir = tempDir()
    let clock = 1_000_000
    const store = await UserStore.open({ tokens: testTokens, dataDir: dir, now: () => clock })
    const added = await store.add("alice", "operator")
    if (!added.ok) throw new Error("not added")
    const file = join(dir, "users.json")
    const entry = store.resolveToken(added.token)
    if (entry === undefined) throw new Error("the new token does not resolve")
    expect(entry.tokenHash).toBe(hashToken(added.token))

    store.seen(entry)
    await store.flush()
    const first = readFileSync(file, "utf8")
    expect(JSON.parse(first).users[0].lastSeenAt).toBe(new Date(clock).toISOString())
    const written = statSync(file).mtimeMs

    // Within the minute: nothing changes, nothing is written.
    clock += LAST_SEEN_RESOLUTION_MS - 1
    for (let i = 0; i < 100; i++) store.seen(entry)
    await store.flush()
    expect(readFileSync(file, "utf8")).toBe(first)
    expect(statSync(file).mtimeMs).toBe(written)

    clock += 1
    store.seen(entry)
    await store.flush()
    expect(JSON.parse(readFileSync(file, "utf8")).users[0].lastSeenAt).toBe(
      new Date(clock).toISOString(),
    )
    expect(statSync(file).mode & 0o777).toBe(0o600)

    // Another start reads the same users back.
    const again = await UserStore.open({ tokens: testTokens, dataDir: dir })
    expect(again.resolveToken(added.token)).toMatchObject({ name: "alice", role: "operator" })
  })

  it("refuses a users.json others may read, or one that is not its shape", async () => {
    const dir = tempDir()
    const file = join(dir, "users.json")
    writeFileSync(file, JSON.stringify({ version: 1, users: [] }), { mode: 0o644 })
    chmodSync(file, 0o644)
    await expect(UserStore.open({ tokens: testTokens, dataDir: dir })).rejects.toThrow(/chmod 600/)
    chmodSync(file, 0o600)
    await expect(UserStore.open({ tokens: testTokens, dataDir: dir })).resolves.toBeDefined()
    for (const bad of [
      "{",
      JSON.stringify({ users: [] }),
      JSON.stringify({
        version: 1,
        users: [{ name: "../x", role: "admin", tokenHash: "0".repeat(64), createdAt: "" }],
      }),
      JSON.stringify({
        version: 1,
        users: [{ name: "owner", role: "admin", tokenHash: "0".repeat(64), createdAt: "" }],
      }),
    ]) {
      writeFileSync(file, bad)
      await expect(UserStore.open({ tokens: testTokens, dataDir: dir }), bad).rejects.toThrow(
        /users\.json/,
      )
    }
  })
})
