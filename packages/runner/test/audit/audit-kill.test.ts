import { spawn } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { inputBurst } from "../../src/audit/index.js"
import { auditDir, tempDir, trailBytes, withAudit } from "./support.js"

const writerScript = fileURLToPath(new URL("./fixtures/audit-writer.ts", import.meta.url))
const packageRoot = fileURLToPath(new URL("../..", import.meta.url))

const trailSize = (dataDir: string) => {
  const dir = auditDir(dataDir)
  if (!existsSync(dir)) return 0
  let total = 0
  for (const name of readdirSync(dir))
    total += statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0
  return total
}

/**
 * Runs the writer (the real AuditLog through tsx) and SIGKILLs it once the trail holds
 * `killAtBytes`, so the kill lands mid-loop however slowly the child starts on a loaded machine.
 */
const runWriterUntilKilled = (dataDir: string, killAtBytes: number) =>
  Effect.async<number | null>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", writerScript, dataDir], {
      cwd: packageRoot,
      stdio: ["ignore", "inherit", "inherit"],
    })
    const poll = setInterval(() => {
      if (trailSize(dataDir) >= killAtBytes) child.kill("SIGKILL")
    }, 2)
    child.on("exit", (code) => {
      clearInterval(poll)
      resume(Effect.succeed(code))
    })
    return Effect.sync(() => {
      clearInterval(poll)
      child.kill("SIGKILL")
    })
  })

describe("AuditLog after kill -9 of a writer", () => {
  it.live(
    "every complete entry reads back, at most a torn last line skipped, and a new log continues",
    () =>
      Effect.gen(function* () {
        const dataDir = tempDir()
        // The writer rolls 8 KB segments, so the kill also lands across rotations.
        const code = yield* runWriterUntilKilled(dataDir, 40_000)
        expect(code).toBeNull() // killed, not exited
        const complete = trailBytes(dataDir).filter((b) => b === 0x0a).length
        expect(complete).toBeGreaterThan(100)
        expect(complete).toBeLessThan(1000)

        const result = yield* withAudit(dataDir, (audit) => audit.query({ limit: 1000 }))
        expect(result.skipped).toBeLessThanOrEqual(1)
        expect(result.entries).toHaveLength(complete)
        // The writer's sequence, newest first, without a gap.
        expect(result.entries.map((e) => e.detail)).toEqual(
          Array.from({ length: complete }, (_, i) => `${complete - 1 - i} bytes`),
        )

        const after = yield* withAudit(dataDir, (audit) =>
          Effect.zipRight(
            audit.record(inputBurst({ user: "alice", runnerId: "r2", bytes: 1 })),
            audit.query({ limit: 2 }),
          ),
        )
        expect(after.entries.map((e) => [e.user, e.detail])).toEqual([
          ["alice", "1 bytes"],
          [`user-${(complete - 1) % 3}`, `${complete - 1} bytes`],
        ])
      }),
  )
})
