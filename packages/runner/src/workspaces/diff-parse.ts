import type { DiffFile, DiffFileStatus } from "@geppetto/protocol"

interface NumstatEntry {
  readonly path: string
  readonly oldPath?: string
  readonly additions: number
  readonly deletions: number
  readonly binary: boolean
}

const NUMSTAT = /^(\d+|-)\t(\d+|-)\t(.*)$/s

/**
 * Parses `git diff --numstat -z`: `ADDED\tDELETED\tPATH\0`, or for a rename
 * `ADDED\tDELETED\t\0OLD\0NEW\0`; a binary file counts `-\t-`.
 */
export const parseNumstat = (text: string): ReadonlyArray<NumstatEntry> => {
  const tokens = text.split("\0")
  const entries: Array<NumstatEntry> = []
  for (let i = 0; i < tokens.length; i++) {
    const match = NUMSTAT.exec(tokens[i] ?? "")
    if (match === null) continue
    const [, added = "-", deleted = "-", rest = ""] = match
    const binary = added === "-" || deleted === "-"
    const counts = {
      additions: binary ? 0 : Number(added),
      deletions: binary ? 0 : Number(deleted),
      binary,
    }
    if (rest === "") {
      const oldPath = tokens[i + 1] ?? ""
      const path = tokens[i + 2] ?? ""
      i += 2
      entries.push({ path, oldPath, ...counts })
    } else {
      entries.push({ path: rest, ...counts })
    }
  }
  return entries
}

interface StatusEntry {
  readonly path: string
  readonly oldPath?: string
  readonly status: DiffFileStatus
}

/**
 * Parses `git diff --name-status -z`: `X\0PATH\0`, or `R100\0OLD\0NEW\0` (and `C..` for a
 * copy). A type change (`T`) is a modification; a copy is an added file.
 */
export const parseNameStatus = (text: string): ReadonlyArray<StatusEntry> => {
  const tokens = text.split("\0")
  const entries: Array<StatusEntry> = []
  for (let i = 0; i < tokens.length; i++) {
    const code = (tokens[i] ?? "").charAt(0)
    if (code === "") continue
    if (code === "R" || code === "C") {
      const oldPath = tokens[i + 1] ?? ""
      const path = tokens[i + 2] ?? ""
      i += 2
      entries.push(code === "R" ? { path, oldPath, status: "renamed" } : { path, status: "added" })
      continue
    }
    const path = tokens[i + 1] ?? ""
    i += 1
    entries.push({
      path,
      status: code === "A" ? "added" : code === "D" ? "deleted" : "modified",
    })
  }
  return entries
}

/** The file list from both listings, in git's order (numstat's). */
export const mergeListings = (
  numstat: ReadonlyArray<NumstatEntry>,
  statuses: ReadonlyArray<StatusEntry>,
): Array<DiffFile> => {
  const statusOf = new Map(statuses.map((s) => [s.path, s]))
  return numstat.map((n) => {
    const s = statusOf.get(n.path)
    const status: DiffFileStatus = s?.status ?? (n.oldPath === undefined ? "modified" : "renamed")
    const oldPath = s?.oldPath ?? n.oldPath
    return {
      path: n.path,
      ...(status === "renamed" && oldPath !== undefined ? { oldPath } : {}),
      status,
      additions: n.additions,
      deletions: n.deletions,
      ...(n.binary ? { binary: true } : {}),
    }
  })
}

/**
 * Cuts a unified diff into one piece per file, at each line that starts with `diff --git `
 * (inside a hunk every line starts with ` `, `+`, `-`, `\` or `@`, so such a line is always
 * a file's header).
 */
export const splitPatch = (patch: string): Array<string> => {
  const starts: Array<number> = []
  if (patch.startsWith("diff --git ")) starts.push(0)
  let at = patch.indexOf("\ndiff --git ")
  while (at >= 0) {
    starts.push(at + 1)
    at = patch.indexOf("\ndiff --git ", at + 1)
  }
  return starts.map((start, i) => patch.slice(start, starts[i + 1] ?? patch.length))
}
