import { readTotals, resetTally, summaryLine } from "./tally.js"

/** Starts the tally empty; prints the closing line when the project's run ends. */
export default function setup(): () => void {
  resetTally()
  return () => {
    process.stdout.write(`${summaryLine(readTotals())}\n`)
  }
}
