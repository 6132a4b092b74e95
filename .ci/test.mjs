// Runs every vitest project once (one process, shared workers) and ends with a plain
// "N passed, N failed" line that any CI can read. Exits with vitest's code. When the
// hardening project ran, its "hardening: ..." line is printed just before, and any byte lost
// or 5xx it counted fails the run even if no test did.
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const report = join(root, "test-results", "vitest.json")
const hardening = join(root, "test-results", "hardening.jsonl")
mkdirSync(dirname(report), { recursive: true })
// Written by the hardening project's tests (apps/server/test/hardening/tally.ts).
rmSync(hardening, { force: true })
const result = spawnSync(
  "pnpm",
  [
    "exec",
    "vitest",
    "run",
    "--config",
    ".config/vitest.config.ts",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: "inherit" },
)
let summary = "tests: no report"
try {
  const json = JSON.parse(readFileSync(report, "utf8"))
  summary = `tests: ${json.numPassedTests} passed, ${json.numFailedTests} failed`
  if (json.numPendingTests + json.numTodoTests > 0) summary += `, ${json.numPendingTests + json.numTodoTests} skipped`
} catch {
  // vitest died before writing its report: its own output says why.
}
let hardeningFailed = false
try {
  const totals = { inputs: 0, faults: 0, bytesLost: 0, fiveXx: 0 }
  for (const line of readFileSync(hardening, "utf8").split("\n")) {
    if (line === "") continue
    const tally = JSON.parse(line)
    for (const key of Object.keys(totals)) totals[key] += tally[key] ?? 0
  }
  console.log(
    `hardening: ${totals.inputs} inputs tried, ${totals.faults} faults survived, ${totals.bytesLost} bytes lost, ${totals.fiveXx} 5xx`,
  )
  hardeningFailed = totals.bytesLost > 0 || totals.fiveXx > 0
} catch {
  // The hardening project did not run (a filtered run).
}
console.log(summary)
process.exit(hardeningFailed ? 1 : (result.status ?? 1))
