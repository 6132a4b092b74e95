/**
 * Quoting for tmux's command language, used on the control client's stdin.
 *
 * tmux 3.3 parser facts (checked by hand and by test/tmux-quote.test.ts):
 * - inside single quotes every byte is literal: no `$VAR`, no `~`, no escapes;
 * - inside double quotes `\ooo` octal escapes work, but `$VAR` and a leading `~` expand;
 * - adjacent quoted pieces join into one word, as in sh;
 * - a line break ends the command line and a blank line detaches a control client, so
 *   control characters never appear raw.
 * So: runs of ordinary characters go in single quotes, and each `'` or control character
 * becomes its own double-quoted octal escape (which can neither start with `~` nor hold `$`).
 */
export const quoteTmuxArg = (value: string): string => {
  if (value.includes("\0")) {
    // A NUL would cut the C string inside tmux; callers validate it away first.
    throw new Error("tmux arguments cannot contain NUL")
  }
  if (value === "") return "''"
  let out = ""
  let run = ""
  const flush = () => {
    if (run !== "") out += `'${run}'`
    run = ""
  }
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0
    if (char === "'" || code < 0x20 || code === 0x7f) {
      flush()
      out += `"\\${code.toString(8).padStart(3, "0")}"`
    } else {
      run += char
    }
  }
  flush()
  return out
}

/** One tmux command line: each argument quoted, words joined by spaces. */
export const tmuxCommandLine = (argv: ReadonlyArray<string>): string =>
  argv.map(quoteTmuxArg).join(" ")

/**
 * Escape for arguments tmux expands as formats (`new-session -c`, `pipe-pane`, `run-shell`):
 * `#` starts a format (`#{...}`, `#(...)` runs a shell command), `##` is a literal `#`.
 */
export const escapeTmuxFormat = (value: string): string => value.replaceAll("#", "##")

/** POSIX sh single-quoting, for the few shell commands tmux itself runs for us. */
export const quoteShellArg = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`
