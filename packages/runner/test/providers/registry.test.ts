import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { NotFoundError } from "../../src/domain/errors.js"
import {
  detectFromCommand,
  detectInstalled,
  getProvider,
  providerIds,
  providers,
} from "../../src/providers/registry.js"

describe("provider registry", () => {
  it("lists every provider under its own id", () => {
    expect([...providerIds].sort()).toEqual(Object.keys(providers).sort())
    for (const id of providerIds) expect(providers[id].id).toBe(id)
  })

  it.effect("getProvider finds a known id", () =>
    Effect.map(getProvider("codex"), (p) => expect(p.binary).toBe("codex")),
  )

  it.effect("getProvider of an unknown id → NotFoundError", () =>
    Effect.map(Effect.either(getProvider("nope")), (r) => {
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left).toBeInstanceOf(NotFoundError)
        expect(r.left).toMatchObject({ resource: "provider", id: "nope" })
      }
    }),
  )

  it("detectFromCommand: exact binary name, else shell", () => {
    expect(detectFromCommand("claude")).toBe("claude")
    expect(detectFromCommand("codex")).toBe("codex")
    expect(detectFromCommand("gemini")).toBe("gemini")
    expect(detectFromCommand("cursor-agent")).toBe("cursor-agent")
    expect(detectFromCommand("/usr/local/bin/aider")).toBe("aider")
    expect(detectFromCommand("node")).toBe("shell")
    expect(detectFromCommand("bash")).toBe("shell")
    expect(detectFromCommand("claude-code")).toBe("shell")
    expect(detectFromCommand("")).toBe("shell")
  })
})

describe("detectInstalled", () => {
  let dir = ""
  let other = ""
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "geppetto-providers-"))
    other = await mkdtemp(join(tmpdir(), "geppetto-providers-"))
    const fake = join(dir, "claude")
    await writeFile(fake, '#!/bin/sh\necho "1.2.3 (Claude Code)"\necho second line\n')
    await chmod(fake, 0o755)
    // Not executable: must be skipped, not reported.
    await writeFile(join(other, "codex"), "#!/bin/sh\necho 9\n")
    await chmod(join(other, "codex"), 0o644)
    const failing = join(dir, "gemini")
    await writeFile(failing, "#!/bin/sh\nexit 3\n")
    await chmod(failing, 0o755)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
    await rm(other, { recursive: true, force: true })
  })

  it.effect("finds a fake claude first on PATH and reads its version", () =>
    Effect.gen(function* () {
      const PATH = [dir, process.env.PATH ?? ""].join(delimiter)
      const found = yield* detectInstalled(providers.claude, { PATH })
      expect(found).toEqual({
        installed: true,
        path: join(dir, "claude"),
        version: "1.2.3 (Claude Code)",
      })
    }),
  )

  it.effect("an empty or missing PATH → not installed", () =>
    Effect.gen(function* () {
      expect(yield* detectInstalled(providers.claude, { PATH: "" })).toEqual({ installed: false })
      expect(yield* detectInstalled(providers.claude, {})).toEqual({ installed: false })
    }),
  )

  it.effect("a non-executable file is not installed", () =>
    Effect.map(detectInstalled(providers.codex, { PATH: other }), (r) =>
      expect(r).toEqual({ installed: false }),
    ),
  )

  it.effect("a failing version probe → installed, version undefined", () =>
    Effect.map(detectInstalled(providers.gemini, { PATH: dir }), (r) =>
      expect(r).toEqual({ installed: true, path: join(dir, "gemini") }),
    ),
  )
})
