/**
 * The command line's exit codes. Scripts branch on them, so each failure class keeps its
 * number: a usage or input mistake is never confused with a server that is down.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  /** Bad flags or arguments, or a 400 from the server. */
  usage: 2,
  /** Nothing answers at the server URL. */
  serverDown: 3,
  /** The token is missing, wrong (401) or not allowed to do that (403). */
  auth: 4,
  /** No such runner (404). */
  notFound: 5,
  /** `wait --timeout` ran out before the runner got there. */
  timeout: 6,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure the command line reports as `geppetto: MESSAGE` and exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = "CliError"
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Print the command's usage after the message (the arguments were malformed). */
    readonly showUsage = false,
  ) {
    super(message)
  }
}

/** Bad input (exit 2); `showUsage` when the command line itself is malformed. */
export const usageError = (message: string, showUsage = false): CliError =>
  new CliError(message, ExitCode.usage, showUsage)
