/**
 * workspace: the diff of a runner's own worktree, through a real server. A repository of
 * 10,000 files in one commit; a shell runner started in it with `worktree: true` (the server
 * checks the worktree out under its data dir); 100 files changed there as an agent leaves them
 * (modified and deleted ones unstaged, added ones untracked). Then, round after round:
 *
 *   file list   `GET /api/runners/:id/diff?stat=1`, request → parsed answer.
 *   full diff   `GET /api/runners/:id/diff`: the list and every file's patch. The first file's
 *               patch comes with the whole answer (one JSON body), so this is its time.
 *   baseline    git itself, run directly (argv, no shell) in the same process on the same
 *               changes: `git diff --numstat -z BASE`, and that plus `git diff BASE`. Plain git
 *               does not see untracked files, so the added ones are marked `git add -N` in a
 *               copy of the worktree's index (GIT_INDEX_FILE); the real index is never written.
 *   git floor   the git commands the service runs for the same answer (a copy of the index,
 *               `add -A` into it, `--numstat`, `--name-status`, `--patch`), run directly: what
 *               is git's and what is the server's.
 *
 * Also the server's peak RSS growth while it answers the diffs (VmRSS sampled every 10 ms and
 * VmHWM), and the runner's start with its worktree against `git worktree add` run directly.
 */
import { spawn } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import type { RunnerSummary, WorkspaceDiff } from "@geppetto/protocol"
import { median, summarize } from "../../../packages/runner/bench/stats.js"
import {
  api,
  getJson,
  log,
  removeServerLeftovers,
  sleep,
  spawnServer,
  stopServerAndRunners,
  type TimedServer,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface WorkspaceOptions {
  /** Files in the repository's one commit. */
  readonly files: number
  /** Files changed in the worktree: 70 % modified, 5 % deleted, the rest added. */
  readonly changed: number
  /** Rounds of: file list, full diff, and the git baselines. */
  readonly repeats: number
}

export const workspaceDefaults: WorkspaceOptions = { files: 10_000, changed: 100, repeats: 7 }
export const workspaceQuick: WorkspaceOptions = { files: 2_000, changed: 100, repeats: 3 }

const FILES_PER_DIR = 100
const LINES_PER_FILE = 30
/** Identity and settings for the bench's own commits, whatever the user's config says. */
const GIT_CONFIG = [
  "-c",
  "user.name=geppetto bench",
  "-c",
  "user.email=bench@geppetto.invalid",
  "-c",
  "commit.gpgsign=false",
]

interface GitRun {
  readonly stdout: string
  readonly ms: number
}

/** `git -C cwd ...args` through argv; fails with the command and stderr on a non-zero exit. */
const git = (
  cwd: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
): Promise<GitRun> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn("git", ["-C", cwd, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => err.push(d))
    child.once("error", reject)
    child.once("close", (code) => {
      if (code === 0) {
        resolve({ stdout: Buffer.concat(out).toString("utf8"), ms: performance.now() - t0 })
        return
      }
      const stderr = Buffer.concat(err).toString("utf8").slice(0, 2000)
      reject(new Error(`git -C ${cwd} ${args.join(" ")}: exit ${code}: ${stderr}`))
    })
  })

const pathOf = (i: number) =>
  `src/mod-${String(Math.floor(i / FILES_PER_DIR)).padStart(3, "0")}/file-${String(i % FILES_PER_DIR).padStart(2, "0")}.ts`

const fileText = (seed: number, lines = LINES_PER_FILE) => {
  let text = ""
  for (let l = 0; l < lines; l++) {
    text += `export const v${seed}_${l} = ${(seed * 7919 + l * 104_729) % 1_000_003}\n`
  }
  return text
}

/** Writes `files` files and commits them in one `git add -A` + commit. Returns its size in MB. */
const makeRepository = async (repo: string, files: number) => {
  let bytes = 0
  for (let i = 0; i < files; i++) {
    const path = join(repo, pathOf(i))
    if (i % FILES_PER_DIR === 0) mkdirSync(dirname(path), { recursive: true })
    const text = fileText(i)
    bytes += text.length
    writeFileSync(path, text)
  }
  await git(repo, ["init", "--quiet", "--initial-branch=main"])
  await git(repo, ["add", "-A", "--", "."])
  await git(repo, [...GIT_CONFIG, "commit", "--quiet", "--no-verify", "-m", "bench: 10k files"])
  return bytes / 1e6
}

interface Changes {
  readonly modified: ReadonlyArray<string>
  readonly added: ReadonlyArray<string>
  readonly deleted: ReadonlyArray<string>
}

/**
 * `changed` files changed in `tree`, spread over the repository: 70 % modified (10 lines
 * rewritten, 5 appended), 5 % deleted, the rest added (most in a new folder, a few beside
 * existing files).
 */
const changeFiles = (tree: string, files: number, changed: number): Changes => {
  const modifiedCount = Math.round(changed * 0.7)
  const deletedCount = Math.max(1, Math.round(changed * 0.05))
  const addedCount = changed - modifiedCount - deletedCount
  const touched = modifiedCount + deletedCount
  const existing = Array.from({ length: touched }, (_, k) =>
    Math.floor(((k + 0.5) * files) / touched),
  )
  const modified: string[] = []
  const deleted: string[] = []
  existing.forEach((i, k) => {
    const path = pathOf(i)
    if (k % Math.ceil(touched / deletedCount) === 0 && deleted.length < deletedCount) {
      rmSync(join(tree, path))
      deleted.push(path)
      return
    }
    const lines = fileText(i).split("\n")
    for (let l = 5; l < 15; l++) lines[l] = `export const changed${i}_${l} = "by the agent"`
    writeFileSync(join(tree, path), `${lines.join("\n")}${fileText(i + files, 5)}`)
    modified.push(path)
  })
  const added: string[] = []
  for (let k = 0; k < addedCount; k++) {
    const path =
      k % 5 === 4
        ? `src/mod-${String(k).padStart(3, "0")}/added-${k}.ts`
        : `src/feature/part-${String(k).padStart(2, "0")}.ts`
    mkdirSync(dirname(join(tree, path)), { recursive: true })
    writeFileSync(join(tree, path), fileText(files * 2 + k, 40))
    added.push(path)
  }
  return { modified, added, deleted }
}

/** A `/proc/PID/status` field in MB (`VmRSS`, `VmHWM`), NaN when unreadable. */
const statusMb = (pid: number | undefined, field: "VmRSS" | "VmHWM"): number => {
  if (pid === undefined) return Number.NaN
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    )
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024
  } catch {
    return Number.NaN
  }
}

const timedGet = async <T>(server: TimedServer, path: string) => {
  const t0 = performance.now()
  const body = await getJson<T>(server, path)
  return { ms: performance.now() - t0, body }
}

interface Round {
  readonly fileListMs: number
  readonly fullDiffMs: number
  readonly gitNumstatMs: number
  readonly gitNumstatAndDiffMs: number
  readonly gitFloorMs: number
}

export const workspaceScenario = async (options: WorkspaceOptions): Promise<ScenarioReport> => {
  const root = mkdtempSync(join(tmpdir(), "geppetto-bench-workspace-"))
  const repo = join(root, "repo")
  let server: TimedServer | undefined
  let runnerId: string | undefined
  try {
    log(`  workspace: a repository of ${options.files} files ...`)
    const t0 = performance.now()
    const repoMb = await makeRepository(repo, options.files)
    const makeS = (performance.now() - t0) / 1000

    // The baseline of the runner's start: the same checkout by git directly, then undone.
    const direct = join(root, "direct-worktree")
    const directAdd = await git(repo, [
      "worktree",
      "add",
      "--quiet",
      "-b",
      "bench-direct",
      direct,
      "HEAD",
    ])
    await git(repo, ["worktree", "remove", "--force", direct])
    await git(repo, ["branch", "-D", "bench-direct"])

    server = await spawnServer({ label: "workspace" })
    const s0 = performance.now()
    const started = await api(server, "POST", "/api/runners", {
      provider: "shell",
      command: ["sleep", "3600"],
      cwd: repo,
      name: "workspace",
      worktree: true,
      cols: 120,
      rows: 32,
    })
    const startMs = performance.now() - s0
    if (started === undefined) throw new Error("POST /api/runners answered no runner")
    runnerId = started.id
    const id = started.id
    // A quiet runner's counts may be taken once after its start; let that pass first.
    let summary = await getJson<RunnerSummary>(server, `/api/runners/${id}`)
    for (let i = 0; i < 20 && summary.workspace?.additions === undefined; i++) {
      await sleep(100)
      summary = await getJson<RunnerSummary>(server, `/api/runners/${id}`)
    }
    const workspace = summary.workspace
    if (workspace === undefined || !workspace.isolated) {
      throw new Error(`runner ${id} has no worktree of its own: ${JSON.stringify(workspace)}`)
    }
    const tree = workspace.path
    const base = workspace.baseCommit

    log(`  workspace: ${options.changed} files changed in ${tree} ...`)
    const changes = changeFiles(tree, options.files, options.changed)

    // Plain git's view of the same changes: the added files marked in a copy of the index.
    const realIndex = (
      await git(tree, ["rev-parse", "--path-format=absolute", "--git-path", "index"])
    ).stdout.trim()
    const plainIndex = join(root, "index-plain")
    copyFileSync(realIndex, plainIndex)
    const plainEnv = { GIT_INDEX_FILE: plainIndex }
    await git(tree, ["add", "--intent-to-add", "--", ...changes.added], plainEnv)
    const floorIndex = join(root, "index-floor")
    const floorEnv = { GIT_INDEX_FILE: floorIndex }
    const floorDiff = (format: ReadonlyArray<string>) =>
      git(
        tree,
        ["-c", "core.quotePath=false", "diff", "--cached", "--no-color", "-M", ...format, base],
        floorEnv,
      )

    const pid = server.child.pid
    const rssBefore = statusMb(pid, "VmRSS")
    const hwmBefore = statusMb(pid, "VmHWM")
    let rssPeak = rssBefore
    const sampler = setInterval(() => {
      const rss = statusMb(pid, "VmRSS")
      if (rss > rssPeak) rssPeak = rss
    }, 10)

    log(`  workspace: ${options.repeats} rounds of diffs (server, then git directly) ...`)
    const rounds: Round[] = []
    let stat: WorkspaceDiff | undefined
    let full: WorkspaceDiff | undefined
    let plainFiles = 0
    try {
      for (let r = 0; r < options.repeats; r++) {
        const list = await timedGet<WorkspaceDiff>(server, `/api/runners/${id}/diff?stat=1`)
        const whole = await timedGet<WorkspaceDiff>(server, `/api/runners/${id}/diff`)
        stat = list.body
        full = whole.body

        const numstat = await git(tree, ["diff", "--numstat", "-z", base], plainEnv)
        const patch = await git(tree, ["diff", base], plainEnv)
        plainFiles = numstat.stdout.split("\0").filter((s) => /^\d+\t\d+\t/.test(s)).length

        const f0 = performance.now()
        copyFileSync(realIndex, floorIndex)
        await git(tree, ["add", "-A", "--", "."], floorEnv)
        await floorDiff(["--numstat", "-z"])
        await floorDiff(["--name-status", "-z"])
        await floorDiff(["--patch"])
        const floorMs = performance.now() - f0

        rounds.push({
          fileListMs: list.ms,
          fullDiffMs: whole.ms,
          gitNumstatMs: numstat.ms,
          gitNumstatAndDiffMs: numstat.ms + patch.ms,
          gitFloorMs: floorMs,
        })
      }
    } finally {
      clearInterval(sampler)
    }
    const hwmAfter = statusMb(pid, "VmHWM")
    // VmHWM is the process's lifetime peak: it counts only if the diffs raised it.
    const peak = hwmAfter > hwmBefore ? Math.max(hwmAfter, rssPeak) : rssPeak
    const rssAfter = statusMb(pid, "VmRSS")

    await api(server, "DELETE", `/api/runners/${id}`)
    runnerId = undefined

    const med = (pick: (r: Round) => number) => median(rounds.map(pick))
    const files = full?.files ?? []
    const patchKB = Buffer.byteLength(full?.patch ?? "") / 1024
    const notes: string[] = [
      `the server answered ${stat?.files.length ?? 0} files in the list and ${files.length} with the patch (${files.filter((f) => f.omitted === true).length} omitted${full?.truncated === true ? ", truncated" : ""}; ${patchKB.toFixed(0)} KB of patch); plain git with the added files marked listed ${plainFiles}; ${options.changed} were changed`,
      `first round (right after the edits): file list ${rounds[0]?.fileListMs.toFixed(0) ?? "-"} ms, full diff ${rounds[0]?.fullDiffMs.toFixed(0) ?? "-"} ms; medians over ${rounds.length} rounds in the table`,
      `the service's git commands alone (index copy, add -A, --numstat, --name-status, --patch) took ${med((r) => r.gitFloorMs).toFixed(0)} ms (median): the full diff's time beyond that is the server's (spawns, parsing, JSON, HTTP)`,
    ]
    return {
      scenario: "workspace",
      title: "diff of a runner's worktree: 10,000 files, 100 changed",
      setup: `a repository of ${options.files} files (${repoMb.toFixed(1)} MB, one commit, made in ${makeS.toFixed(1)} s); a shell runner started with worktree: true through the built server; ${changes.modified.length} files modified, ${changes.added.length} added (untracked), ${changes.deleted.length} deleted in its worktree; ${rounds.length} rounds of GET diff?stat=1, GET diff, then git run directly (argv) on the same changes`,
      figures: [
        {
          name: "file list (GET diff?stat=1), median",
          value: med((r) => r.fileListMs),
          unit: "ms",
          target: { op: "<=", limit: 1000 },
          baseline: { label: "git diff --numstat", value: med((r) => r.gitNumstatMs) },
          digits: 0,
        },
        {
          name: "full diff, every file's patch (GET diff), median",
          value: med((r) => r.fullDiffMs),
          unit: "ms",
          target: { op: "<=", limit: 2000 },
          baseline: {
            label: "git diff --numstat + git diff",
            value: med((r) => r.gitNumstatAndDiffMs),
          },
          digits: 0,
        },
        {
          name: "full diff, slowest round",
          value: Math.max(...rounds.map((r) => r.fullDiffMs)),
          unit: "ms",
          target: { op: "<=", limit: 2000 },
          baseline: {
            label: "git diff --numstat + git diff, slowest",
            value: Math.max(...rounds.map((r) => r.gitNumstatAndDiffMs)),
          },
          digits: 0,
        },
        {
          name: "server peak RSS growth during the diffs",
          value: peak - rssBefore,
          unit: "MB",
          baseline: { label: "RSS before the diffs", value: rssBefore },
        },
        {
          name: "runner start with its own worktree (POST /api/runners)",
          value: startMs,
          unit: "ms",
          baseline: { label: "git worktree add, run directly", value: directAdd.ms },
          digits: 0,
        },
      ],
      details: {
        repoMb,
        makeS,
        startMs,
        directWorktreeAddMs: directAdd.ms,
        changes: {
          modified: changes.modified.length,
          added: changes.added.length,
          deleted: changes.deleted.length,
        },
        listedFiles: files.length,
        plainGitFiles: plainFiles,
        patchKB,
        truncated: full?.truncated === true,
        rssMb: { before: rssBefore, peak, after: rssAfter, hwmBefore, hwmAfter },
        rounds: rounds.map((r) => ({ ...r })),
        fileList: { ...summarize(rounds.map((r) => r.fileListMs)) },
        fullDiff: { ...summarize(rounds.map((r) => r.fullDiffMs)) },
      },
      notes,
    }
  } finally {
    if (server !== undefined) {
      if (runnerId !== undefined) {
        await api(server, "DELETE", `/api/runners/${runnerId}`).catch(() => undefined)
      }
      await stopServerAndRunners(server)
      removeServerLeftovers(server)
    }
    rmSync(root, { recursive: true, force: true })
  }
}
