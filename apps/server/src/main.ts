#!/usr/bin/env node
import { SecretFileError } from "./auth/secret-files.js"
import { ConfigError, parseServeArgs } from "./config.js"
import { serve } from "./serve.js"

const USAGE = `usage: geppetto serve [--host HOST] [--port PORT] [--tmux-socket NAME] [--data-dir DIR] [--tls-cert FILE --tls-key FILE]`

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = argv
  if (command !== "serve") {
    process.stderr.write(`${USAGE}\n`)
    return command === undefined || command === "--help" || command === "help" ? 0 : 2
  }
  const config = parseServeArgs(rest, process.env)
  const server = await serve(config)
  process.stdout.write(server.banner)
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop)
      process.off("SIGTERM", stop)
      void server.close().then(resolve)
    }
    process.on("SIGINT", stop)
    process.on("SIGTERM", stop)
  })
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`geppetto: ${message}\n`)
    process.exit(error instanceof ConfigError || error instanceof SecretFileError ? 2 : 1)
  },
)
