import { parseServeArgs } from "../config.js"
import type { CliContext } from "./command.js"

export const usage = `usage: geppetto serve [--host HOST] [--port PORT] [--tmux-socket NAME] [--data-dir DIR]
                      [--tls-cert FILE --tls-key FILE]

Starts the server and the dashboard. Flags win over GEPPETTO_HOST (default 127.0.0.1),
GEPPETTO_PORT (7420), GEPPETTO_TMUX_SOCKET (tmux's default server), GEPPETTO_DATA_DIR
($XDG_STATE_HOME/geppetto, else ~/.local/state/geppetto), GEPPETTO_TLS_CERT/_KEY.
Tokens: GEPPETTO_TOKEN (user owner, admin) and GEPPETTO_VIEWER_TOKEN; unset, they are generated
once into DATA_DIR/tokens.json and the banner prints the login links.
The log (JSON lines, readable on a terminal) goes to stdout; GEPPETTO_LOG_LEVEL sets its level
(fatal, error, warn, info (default), debug, trace, silent).`

/** Runs the server until SIGINT or SIGTERM, then closes it (runners live on in tmux). */
export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const config = parseServeArgs(argv, ctx.env)
  // Loaded here so that the other commands do not pay for Fastify and the runner domain.
  const { serve } = await import("../serve.js")
  const { consoleLogger } = await import("../observability/logger.js")
  const server = await serve(config, ctx.env, { logger: await consoleLogger(ctx.env) })
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
