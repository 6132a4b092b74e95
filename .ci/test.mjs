// Runs every vitest project once (one process, shared workers) and ends with a plain
// "N passed, N failed" line that any CI can read. Exits with vitest's code.
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const report = join(root, "test-results", "vitest.json")
mkdirSync(dirname(report), { recursive: true })
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
console.log(summary)
process.exit(result.status ?? 1)
