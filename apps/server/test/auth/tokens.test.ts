import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  createSecretFileOnce,
  readSecretFile,
  SecretFileError,
} from "../../src/auth/secret-files.js"
import { loadSessionSecret, loadTokens } from "../../src/auth/tokens.js"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-tokens-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe("loadTokens", () => {
  it("generates both tokens once, 0600, and reads the same ones on the next start", async () => {
    const dir = tempDir()
    const first = await loadTokens(dir, {})
    expect(first.created).toBe(true)
    expect(first.source).toEqual({ operator: "file", viewer: "file" })
    // 32 random bytes in base64url: 43 characters, URL-safe.
    expect(first.tokens.operator).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(first.tokens.viewer).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(first.tokens.viewer).not.toBe(first.tokens.operator)
    expect(statSync(first.file).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(first.file, "utf8"))).toEqual(first.tokens)

    const second = await loadTokens(dir, {})
    expect(second.created).toBe(false)
    expect(second.tokens).toEqual(first.tokens)
  })

  it("lets environment tokens win, each on its own", async () => {
    const dir = tempDir()
    const both = await loadTokens(dir, {
      GEPPETTO_TOKEN: "operator-from-env-123456",
      GEPPETTO_VIEWER_TOKEN: "viewer-from-env-123456",
    })
    expect(both.tokens).toEqual({
      operator: "operator-from-env-123456",
      viewer: "viewer-from-env-123456",
    })
    expect(both.source).toEqual({ operator: "env", viewer: "env" })
    expect(() => statSync(both.file)).toThrow() // nothing generated when nothing is needed

    const one = await loadTokens(dir, { GEPPETTO_TOKEN: "operator-from-env-123456" })
    expect(one.tokens.operator).toBe("operator-from-env-123456")
    expect(one.source).toEqual({ operator: "env", viewer: "file" })
    expect(one.tokens.viewer).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it("refuses equal operator and viewer tokens, and tokens with spaces", async () => {
    const dir = tempDir()
    await expect(
      loadTokens(dir, {
        GEPPETTO_TOKEN: "same-token-123",
        GEPPETTO_VIEWER_TOKEN: "same-token-123",
      }),
    ).rejects.toThrow(/same/)
    await expect(loadTokens(dir, { GEPPETTO_TOKEN: "has space" })).rejects.toThrow(SecretFileError)
  })

  it("refuses a tokens file that group or others can read, saying how to fix it", async () => {
    const dir = tempDir()
    const { file } = await loadTokens(dir, {})
    chmodSync(file, 0o644)
    const error = await loadTokens(dir, {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SecretFileError)
    expect((error as Error).message).toContain("refusing to read")
    expect((error as Error).message).toContain("0644")
    expect((error as Error).message).toContain(`chmod 600 ${file}`)
    chmodSync(file, 0o600)
    await expect(loadTokens(dir, {})).resolves.toBeDefined()
  })

  it("refuses a symlink or a folder in place of the tokens file", async () => {
    const dir = tempDir()
    const target = join(dir, "elsewhere.json")
    writeFileSync(target, JSON.stringify({ operator: "a".repeat(20), viewer: "b".repeat(20) }), {
      mode: 0o600,
    })
    symlinkSync(target, join(dir, "tokens.json"))
    await expect(loadTokens(dir, {})).rejects.toThrow(/not a regular file|symbolic link/)

    const other = tempDir()
    mkdirSync(join(other, "tokens.json"), { mode: 0o700 })
    await expect(loadTokens(other, {})).rejects.toThrow(/not a regular file/)
  })

  it("refuses a malformed tokens file with a clear message", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "tokens.json"), "{not json", { mode: 0o600 })
    await expect(loadTokens(dir, {})).rejects.toThrow(/not valid JSON/)
    writeFileSync(join(dir, "tokens.json"), JSON.stringify({ operator: "x" }), { mode: 0o600 })
    await expect(loadTokens(dir, {})).rejects.toThrow(/does not hold/)
  })
})

describe("secret files", () => {
  it("creates a file only once even when two starts race", async () => {
    const dir = tempDir()
    const path = join(dir, "secret")
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createSecretFileOnce(path, `content-${i}`)),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
    const winner = results.indexOf(true)
    expect(await readSecretFile(path)).toBe(`content-${winner}`)
    // No temporary files are left behind.
    expect(readdirSync(dir)).toEqual(["secret"])
  })

  it("keeps the session secret across starts, 0600", async () => {
    const dir = tempDir()
    const first = await loadSessionSecret(dir)
    expect(first.length).toBe(32)
    expect(statSync(join(dir, "session-secret")).mode & 0o777).toBe(0o600)
    expect(Buffer.from(await loadSessionSecret(dir)).equals(Buffer.from(first))).toBe(true)
  })
})
