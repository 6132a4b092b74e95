import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"

/** What one test contributes to the closing `hardening:` line. */
export interface Tally {
  /** Hostile requests, frames and payloads sent. */
  readonly inputs?: number
  /** Faults injected (kills, floods, full disks) that the server came through. */
  readonly faults?: number
  /** Output bytes that a log should hold and does not (must stay 0). */
  readonly bytesLost?: number
  /** 5xx replies seen (must stay 0). */
  readonly fiveXx?: number
}

/** Shared by every worker and by `.ci/test.mjs`: one JSON line per `record` call. */
export const TALLY_FILE = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "..",
  "test-results",
  "hardening.jsonl",
)

export const resetTally = (): void => {
  mkdirSync(dirname(TALLY_FILE), { recursive: true })
  writeFileSync(TALLY_FILE, "")
}

export const record = (tally: Tally): void => {
  mkdirSync(dirname(TALLY_FILE), { recursive: true })
  appendFileSync(TALLY_FILE, `${JSON.stringify(tally)}\n`)
}

export interface Totals {
  readonly inputs: number
  readonly faults: number
  readonly bytesLost: number
  readonly fiveXx: number
}

export const readTotals = (): Totals => {
  const totals = { inputs: 0, faults: 0, bytesLost: 0, fiveXx: 0 }
  let text = ""
  try {
    text = readFileSync(TALLY_FILE, "utf8")
  } catch {
    return totals
  }
  for (const line of text.split("\n")) {
    if (line === "") continue
    const t = JSON.parse(line) as Tally
    totals.inputs += t.inputs ?? 0
    totals.faults += t.faults ?? 0
    totals.bytesLost += t.bytesLost ?? 0
    totals.fiveXx += t.fiveXx ?? 0
  }
  return totals
}

export const summaryLine = (t: Totals): string =>
  `hardening: ${t.inputs} inputs tried, ${t.faults} faults survived, ${t.bytesLost} bytes lost, ${t.fiveXx} 5xx`
