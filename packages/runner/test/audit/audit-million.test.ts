import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type AuditAction, encodeAuditLine, segmentFileName } from "../../src/audit/index.js"
import { auditDir, tempDir, withAudit } from "./support.js"

const ENTRIES = 1_000_000
const SEGMENT_BYTES = 16 * 1024 * 1024
const ACTIONS: ReadonlyArray<AuditAction> = [
  "runner.input",
  "runner.input",
  "runner.reply",
  "runner.start",
]
const BASE_AT = 1_700_000_000_000

/** Writes `count` entries straight into 16 MB segments with the store's own framing. */
const writeTrail = (dataDir: string, count: number, rareEvery: number) => {
  const dir = auditDir(dataDir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  let segment = 1
  let parts: Array<Buffer> = []
  let size = 0
  for (let i = 0; i < count; i++) {
    const line = encodeAuditLine({
      at: BASE_AT + i,
      user: i % rareEvery === 0 ? "rare" : `user-${i % 50}`,
      action: ACTIONS[i % ACTIONS.length] ?? "runner.input",
      runnerId: `r${i % 100}`,
      detail: `${i} bytes`,
    })
    if (size + line.length > SEGMENT_BYTES) {
      writeFileSync(join(dir, segmentFileName(segment++)), Buffer.concat(parts), { mode: 0o600 })
      parts = []
      size = 0
    }
    parts.push(line)
    size += line.length
  }
  writeFileSync(join(dir, segmentFileName(segment)), Buffer.concat(parts), { mode: 0o600 })
  return segment
}

const heapMb = () => process.memoryUsage().heapUsed / 1024 / 1024

describe("AuditLog query of 1M entries", () => {
  it.live("returns the newest 100, and a rare user's entries, in bounded memory", () =>
    Effect.gen(function* () {
      const dataDir = tempDir()
      const started = performance.now()
      const segments = writeTrail(dataDir, ENTRIES, 100_000)
      const generatedMs = performance.now() - started

      const measure = <A, E>(run: Effect.Effect<A, E>) =>
        Effect.gen(function* () {
          const heapBefore = heapMb()
          let peak = heapBefore
          const sampler = setInterval(() => {
            peak = Math.max(peak, heapMb())
          }, 5)
          const t0 = performance.now()
          const value = yield* run.pipe(Effect.ensuring(Effect.sync(() => clearInterval(sampler))))
          peak = Math.max(peak, heapMb())
          return { value, ms: performance.now() - t0, growthMb: peak - heapBefore }
        })

      const { newest, rare } = yield* withAudit(dataDir, (audit) =>
        Effect.gen(function* () {
          const newest = yield* measure(audit.query({}))
          const rare = yield* measure(audit.query({ user: "rare", limit: 100 }))
          return { newest, rare }
        }),
      )
      console.log(
        `audit 1M: ${segments} segments written in ${generatedMs.toFixed(0)} ms; ` +
          `newest 100 in ${newest.ms.toFixed(1)} ms (heap +${newest.growthMb.toFixed(1)} MB); ` +
          `user=rare (10 of 1M, full scan) in ${rare.ms.toFixed(0)} ms (heap +${rare.growthMb.toFixed(1)} MB)`,
      )

      expect(newest.value.skipped).toBe(0)
      expect(newest.value.entries.map((e) => e.at)).toEqual(
        Array.from({ length: 100 }, (_, i) => BASE_AT + ENTRIES - 1 - i),
      )
      expect(rare.value.entries.map((e) => e.at)).toEqual(
        Array.from({ length: 10 }, (_, i) => BASE_AT + (9 - i) * 100_000),
      )
      // Loose: the trail is ~110 MB; neither query holds more than a chunk and its matches.
      expect(newest.growthMb).toBeLessThan(64)
      expect(rare.growthMb).toBeLessThan(64)
    }),
  )
})
