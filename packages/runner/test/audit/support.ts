import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "@effect/vitest"
import { Effect } from "effect"
import { AuditLog, AuditLogOptions, type AuditLogOptionsShape } from "../../src/audit/index.js"
import { defaultRunnerConfig, RunnerConfig } from "../../src/config.js"

const tempDirs: Array<string> = []
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

export const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-audit-"))
  tempDirs.push(dir)
  return dir
}

export const auditDir = (dataDir: string): string => join(dataDir, "audit")

/** Segment file names of a data dir, oldest first. */
export const segmentNames = (dataDir: string): Array<string> =>
  readdirSync(auditDir(dataDir))
    .filter((name) => /^audit-[0-9]+\.log$/.test(name))
    .sort()

/** All segments' bytes, oldest first. */
export const trailBytes = (dataDir: string): Buffer =>
  Buffer.concat(segmentNames(dataDir).map((name) => readFileSync(join(auditDir(dataDir), name))))

export const defaultOptions: AuditLogOptionsShape = {
  segmentBytes: 16 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
  syncIntervalMs: 100,
  followCapacity: 1024,
}

/** Runs `f` against a fresh AuditLog: each call is a server (re)start, closed at the end. */
export const withAudit = <A, E>(
  dataDir: string,
  f: (audit: AuditLog) => Effect.Effect<A, E>,
  options: Partial<AuditLogOptionsShape> = {},
) =>
  Effect.flatMap(AuditLog, f).pipe(
    Effect.provide(AuditLog.Default),
    Effect.provideService(RunnerConfig, defaultRunnerConfig(dataDir)),
    Effect.provideService(AuditLogOptions, { ...defaultOptions, ...options }),
  )
