/**
 * Hostile strings, each carrying a command that would create a file in `canaryDir` if any
 * layer (a shell, tmux's command parser, a tmux format, an option parser) ever ran it.
 */
export const hostilePayloads = (canaryDir: string): ReadonlyArray<string> => {
  const touch = (n: number) => `touch ${canaryDir}/hit-${n}`
  return [
    `; ${touch(1)}`,
    `$(${touch(2)})`,
    `\`${touch(3)}\``,
    `| ${touch(4)}`,
    `&& ${touch(5)} &&`,
    `\n${touch(6)}\n`,
    `'; ${touch(7)}; '`,
    `"; ${touch(8)}; "`,
    `#(${touch(9)})`,
    `#{run-shell "${touch(10)}"}`,
    `#{?#(${touch(11)}),a,b}`,
    ` ; run-shell "${touch(12)}"`,
    `\\; run-shell '${touch(13)}'`,
    `-e X=1 -- sh -c '${touch(14)}'`,
    `--; ${touch(15)}`,
    `-t`,
    `\r${touch(16)}\r`,
    `a\u0000; ${touch(17)}`,
    `${"A".repeat(20_000)}; ${touch(18)}`,
    `\u202e; ${touch(19)}`,
    `\uff1b ${touch(20)}`,
    `\u200b;\u200b${touch(21)}`,
    `%{${touch(22)}}`,
    `$((1+1))\${IFS}${touch(23)}`,
    `~root/../../tmp; ${touch(24)}`,
    `\u001b]0;$(${touch(25)})\u0007`,
    `{"a":1}; ${touch(26)}`,
    `../../../../${touch(27)}`,
  ]
}

/** Strings aimed at ids and paths. */
export const escapeIds: ReadonlyArray<string> = [
  "..",
  "%2e%2e",
  "%2E%2E",
  "..%2f..%2f..%2fetc%2fpasswd",
  "..%252f..%252fetc",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "....//....//etc",
  "%5c..%5c..%5cetc",
  ".%00.",
  "%00",
  "run-x%2f..%2f..%2fjournal",
  "-rf",
  "%23(touch%20x)",
  "a".repeat(300),
]
