import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type BackwardPiece, readLinesBackward } from "../../src/audit/index.js"
import { tempDir } from "./support.js"

const collect = (path: string, chunkBytes: number, maxLineBytes = 1024) =>
  Effect.promise(async () => {
    const pieces: Array<string> = []
    await readLinesBackward(path, { chunkBytes, maxLineBytes }, (piece: BackwardPiece) => {
      pieces.push(piece.kind === "line" ? piece.bytes.toString("utf8") : `<${piece.kind}>`)
      return true
    })
    return pieces
  })

describe("readLinesBackward", () => {
  it.live("gives the lines last to first at every chunk size", () =>
    Effect.gen(function* () {
      const path = join(tempDir(), "lines")
      const lines = Array.from({ length: 60 }, (_, i) => `${"é".repeat(i % 7)}line ${i}`)
      writeFileSync(path, `${lines.join("\n")}\n`)
      for (const chunk of [1, 2, 3, 7, 64, 4096]) {
        expect(yield* collect(path, chunk)).toEqual([...lines].reverse())
      }
    }),
  )

  it.live("reports a torn tail, passes over empty lines, drops an oversized line", () =>
    Effect.gen(function* () {
      const path = join(tempDir(), "lines")
      writeFileSync(path, `first\n${"x".repeat(5000)}\n\nlast\ntorn`)
      for (const chunk of [3, 100, 8192]) {
        expect(yield* collect(path, chunk, 1000)).toEqual([
          "<torn>",
          "last",
          "<oversized>",
          "first",
        ])
      }
      writeFileSync(path, "x".repeat(5000))
      expect(yield* collect(path, 100, 1000)).toEqual(["<torn>"])
      writeFileSync(path, `${"x".repeat(5000)}\nok\n`)
      expect(yield* collect(path, 100, 1000)).toEqual(["ok", "<oversized>"])
    }),
  )

  it.live("stops when the visitor says so, and a missing file has no lines", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "lines")
      writeFileSync(path, "a\nb\nc\n")
      const seen = yield* Effect.promise(async () => {
        const out: Array<string> = []
        await readLinesBackward(path, { chunkBytes: 1, maxLineBytes: 10 }, (piece) => {
          if (piece.kind === "line") out.push(piece.bytes.toString())
          return out.length < 2
        })
        return out
      })
      expect(seen).toEqual(["c", "b"])
      expect(yield* collect(join(dir, "missing"), 16)).toEqual([])
    }),
  )
})
