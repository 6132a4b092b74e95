/**
 * Reads the V8 CPU profiles a server wrote under `--cpu-prof` (suite flag `--cpu-prof`) and
 * says where the time went: self time per function and inclusive time per package.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface ProfileSummary {
  readonly files: number
  readonly spanMs: number
  /** Sampled time that was not idle. */
  readonly busyMs: number
  readonly topSelf: ReadonlyArray<{ readonly where: string; readonly ms: number }>
  readonly topPackages: ReadonlyArray<{ readonly where: string; readonly ms: number }>
}

const packageOf = (node: ProfileNode): string => {
  const { url, functionName } = node.callFrame
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m?.[1] !== undefined) return m[1]
  const ours = /\/((?:apps|packages)\/[^/]+)\//.exec(url)
  if (ours?.[1] !== undefined) return ours[1]
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/").slice(0, 2).join("/")}`
  return functionName === "" ? "(native)" : `(${functionName})`
}

const short = (url: string) =>
  url
    .replace(/.*node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, "")
    .replace(/.*\/work\/[^/]+\//, "")

/** Now on the clock V8 stamps profile samples with (CLOCK_MONOTONIC), in microseconds. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** A span of `monotonicUs()` time. */
export interface UsRange {
  readonly fromUs: number
  readonly toUs: number
}

/** Sums every `*.cpuprofile` in `dir`, only the samples inside `range` when given. */
export const summarizeProfiles = (
  dir: string,
  top = 12,
  range?: UsRange,
): ProfileSummary | undefined => {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))
  } catch {
    return undefined
  }
  if (files.length === 0) return undefined
  const self = new Map<string, number>()
  const packages = new Map<string, number>()
  let spanMs = 0
  let busyMs = 0
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile
    const from = Math.max(profile.startTime, range?.fromUs ?? profile.startTime)
    const to = Math.min(profile.endTime, range?.toUs ?? profile.endTime)
    if (to <= from) continue
    spanMs += (to - from) / 1000
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const parent = new Map<number, number>()
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
    const perNode = new Map<number, number>()
    let at = profile.startTime
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0
      at += delta
      if (at < from || at > to) return
      perNode.set(id, (perNode.get(id) ?? 0) + delta / 1000)
    })
    for (const [id, ms] of perNode) {
      const node = byId.get(id)
      if (node === undefined) continue
      const name = node.callFrame.functionName
      if (name === "(idle)" || name === "(program)") continue
      busyMs += ms
      const where = `${name || "(anonymous)"} ${short(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`
      self.set(where, (self.get(where) ?? 0) + ms)
      // Inclusive per package: each package once per sample stack.
      const seen = new Set<string>()
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur)
        if (n === undefined || n.callFrame.functionName === "(root)") continue
        const pkg = packageOf(n)
        if (seen.has(pkg)) continue
        seen.add(pkg)
        packages.set(pkg, (packages.get(pkg) ?? 0) + ms)
      }
    }
  }
  const topOf = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, ms]) => ({ where, ms: Math.round(ms) }))
  return { files: files.length, spanMs, busyMs, topSelf: topOf(self), topPackages: topOf(packages) }
}

/** A few lines for a report's notes. */
export const profileNotes = (
  summary: ProfileSummary | undefined,
  dir: string,
  what: string,
): string[] =>
  summary === undefined
    ? []
    : [
        `cpu profile of the server, ${what} (${summary.files} file(s) in ${dir}): ${Math.round(summary.busyMs)} ms busy over ${Math.round(summary.spanMs)} ms`,
        `  by package (inclusive): ${summary.topPackages.map((p) => `${p.where} ${p.ms}`).join(", ")}`,
        `  by function (self): ${summary.topSelf.map((p) => `${p.where} ${p.ms}`).join("; ")}`,
      ]
