import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TmuxSessionError } from "../src/domain/errors.js"
import { isSupportedTmux, parseTmuxVersion } from "../src/tmux/version.js"
import { testRunner } from "./harness.js"

describe("tmux version", () => {
  it("parses what tmux -V prints", () => {
    expect(parseTmuxVersion("tmux 3.3a\n")).toMatchObject({ major: 3, minor: 3 })
    expect(parseTmuxVersion("tmux next-3.5")).toMatchObject({ major: 3, minor: 5 })
    expect(parseTmuxVersion("tmux 3.2-rc2")).toMatchObject({ major: 3, minor: 2 })
    expect(parseTmuxVersion("tmux master")).toMatchObject({ major: 99 })
    expect(parseTmuxVersion("")).toBeUndefined()
    expect(parseTmuxVersion("tmux")).toBeUndefined()
  })

  it("supports 3.2 and later only", () => {
    const supported = (s: string) =>
      isSupportedTmux(parseTmuxVersion(s) ?? { raw: s, major: 0, minor: 0 })
    expect(supported("tmux 3.1c")).toBe(false)
    expect(supported("tmux 2.9")).toBe(false)
    expect(supported("tmux 3.2")).toBe(true)
    expect(supported("tmux 3.3a")).toBe(true)
    expect(supported("tmux 4.0")).toBe(true)
  })

  it.scopedLive("refuses an old tmux with a typed error that names the version", () =>
    Effect.gen(function* () {
      // A `tmux` earlier on PATH that claims to be 3.1c.
      const bin = mkdtempSync(join(tmpdir(), "geppetto-oldtmux-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(bin, { recursive: true, force: true })),
      )
      writeFileSync(join(bin, "tmux"), "#!/bin/sh\necho 'tmux 3.1c'\n")
      chmodSync(join(bin, "tmux"), 0o755)
      const path = process.env.PATH
      process.env.PATH = `${bin}:${path}`
      yield* Effect.addFinalizer(() => Effect.sync(() => (process.env.PATH = path)))
      const { client } = yield* testRunner()
      const error = yield* Effect.flip(client.version)
      expect(error).toBeInstanceOf(TmuxSessionError)
      expect(error.message).toContain("tmux 3.1c is too old")
      expect(error.message).toContain(">= 3.2")
    }),
  )
})
