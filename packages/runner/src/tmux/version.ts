/** The oldest tmux we support: `new-session -e`, `attach -f no-output` and pane hooks are 3.2+. */
export const MIN_TMUX_VERSION = { major: 3, minor: 2 } as const

export interface TmuxVersion {
  readonly raw: string
  readonly major: number
  readonly minor: number
}

/**
 * Parses `tmux -V` output: `tmux 3.3a`, `tmux next-3.5`, `tmux 3.2-rc2`, `tmux master`.
 * A build without a number (`master`, `openbsd-7.4`) is taken as new enough.
 */
export const parseTmuxVersion = (output: string): TmuxVersion | undefined => {
  const raw = output.trim().replace(/^tmux\s+/, "")
  if (raw === "") return undefined
  const match = /(\d+)\.(\d+)/.exec(raw)
  if (match === null) {
    return /^(master|openbsd)/.test(raw) ? { raw, major: 99, minor: 0 } : undefined
  }
  return { raw, major: Number(match[1]), minor: Number(match[2]) }
}

export const isSupportedTmux = (version: TmuxVersion): boolean =>
  version.major > MIN_TMUX_VERSION.major ||
  (version.major === MIN_TMUX_VERSION.major && version.minor >= MIN_TMUX_VERSION.minor)
