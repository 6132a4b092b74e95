#!/usr/bin/env node
import { main } from "./cli/index.js"

main(process.argv.slice(2), { env: process.env, cwd: process.cwd() }).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`geppetto: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
