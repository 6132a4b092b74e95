import { createHash } from "node:crypto"
import { open, readdir, realpath, stat } from "node:fs/promises"
import { basename, join } from "node:path"
import { Effect } from "effect"
import { codexSessionMeta } from "./codex-lines.js"
import { geminiSessionMeta } from "./gemini-lines.js"
import { qwenSessionMeta } from "./qwen-lines.js"

/**
 * What a runner keeps about its agent's own session: the id we started it with (Claude Code
 * `--session-id`) and the agent's config folder when the start set one (`CLAUDE_CONFIG_DIR`,
 * `CODEX_HOME` in the account's or the request's env); otherwise the runners' base env says.
 */
export interface AgentSessionRef {
  readonly id?: string
  readonly home?: string
  /**
   * The session this runner's agent forked (Qwen Code `--fork-session`), while the fork's own id
   * is not known: the fork is a new file that says so (`forkedFrom`), found by that.
   */
  readonly forkOf?: string
}

/**
 * Providers whose session files are read; the others keep none we can follow (see README.md
 * here: OpenCode keeps its sessions in a database, Cursor agent and Aider none per session).
 */
export const transcriptProviders: ReadonlySet<string> = new Set([
  "claude",
  "codex",
  "gemini",
  "qwen",
])

/**
 * Where each agent keeps its sessions: the variables that move it (the first set wins), what
 * to add to the variable's folder, and the folder under `HOME` otherwise. Gemini's
 * `GEMINI_CLI_HOME` stands for the home folder, `.gemini` under it; Qwen's runtime folder
 * (`QWEN_RUNTIME_DIR`) holds its sessions, else its home (`QWEN_HOME`).
 */
const HOME_VARIABLE: Readonly<
  Record<
    string,
    { readonly names: ReadonlyArray<string>; readonly under: string; readonly dot: string }
  >
> = {
  claude: { names: ["CLAUDE_CONFIG_DIR"], under: "", dot: ".claude" },
  codex: { names: ["CODEX_HOME"], under: "", dot: ".codex" },
  gemini: { names: ["GEMINI_CLI_HOME"], under: ".gemini", dot: ".gemini" },
  qwen: { names: ["QWEN_RUNTIME_DIR", "QWEN_HOME"], under: "", dot: ".qwen" },
}

/** The agent's session folder as `env` sets it (`undefined`: not set there). */
export const agentHomeIn = (
  provider: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined => {
  const variable = HOME_VARIABLE[provider]
  if (variable === undefined) return undefined
  for (const name of variable.names) {
    const set = env[name]
    if (set !== undefined && set !== "") return join(set, variable.under)
  }
  return undefined
}

/** The agent's session folder: the runner's own, else the base env's, else under `HOME`. */
export const agentHome = (
  provider: string,
  ref: AgentSessionRef | undefined,
  baseEnv: Readonly<Record<string, string | undefined>>,
): string | undefined => {
  const variable = HOME_VARIABLE[provider]
  if (variable === undefined) return undefined
  return ref?.home ?? agentHomeIn(provider, baseEnv) ?? join(baseEnv.HOME ?? "/", variable.dot)
}

/** Claude Code's folder name for a cwd: every character but [A-Za-z0-9] becomes `-`. */
export const claudeProjectSlug = (cwd: string): string => cwd.replace(/[^A-Za-z0-9]/g, "-")

/** Where a Claude session's file is, and the folder to watch until it appears. */
export const claudeSessionFile = (home: string, cwd: string, sessionId: string) => {
  const dir = join(home, "projects", claudeProjectSlug(cwd))
  return { dir, file: join(dir, `${sessionId}.jsonl`) }
}

/**
 * Claude Code shortens long slugs (and older versions spelled some differently): when the
 * expected file is missing, the session id, unique, is looked for in every project folder.
 */
export const findClaudeSession = (home: string, cwd: string, sessionId: string) =>
  Effect.promise(async () => {
    const expected = claudeSessionFile(home, cwd, sessionId)
    const names = await readdir(expected.dir).catch(() => [] as string[])
    if (names.includes(`${sessionId}.jsonl`)) return expected
    const projects = join(home, "projects")
    for (const project of await readdir(projects).catch(() => [] as string[])) {
      const dir = join(projects, project)
      const inside = await readdir(dir).catch(() => [] as string[])
      if (inside.includes(`${sessionId}.jsonl`))
        return { dir, file: join(dir, `${sessionId}.jsonl`) }
    }
    return undefined
  })

const pad = (n: number) => String(n).padStart(2, "0")
/** `sessions/YYYY/MM/DD` of a local date, as Codex names its folders. */
export const codexDayDir = (home: string, at: number) => {
  const d = new Date(at)
  return join(home, "sessions", String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate()))
}

/** A rollout's first line (its `session_meta`), read without reading the rest. */
const firstLine = async (path: string): Promise<string> => {
  const handle = await open(path, "r")
  try {
    const buffer = Buffer.alloc(64 * 1024)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    const text = buffer.subarray(0, bytesRead).toString("utf8")
    const nl = text.indexOf("\n")
    return nl === -1 ? text : text.slice(0, nl)
  } catch {
    return ""
  } finally {
    await handle.close()
  }
}

/** Sessions that started this long before the runner did are someone else's. */
const EARLY_MS = 5_000
/** ... and this long after it (Codex writes its rollout on its first turn, not at launch). */
const LATE_MS = 24 * 60 * 60 * 1000

type SessionFile = { readonly file: string; readonly dir: string }

/**
 * Of `files` not in `taken` (other runners'), the one `when` dates earliest, with the id it
 * gives; `when` reads the file's first line (and may look further) and says no with undefined.
 */
const earliestSession = async (
  files: ReadonlyArray<SessionFile>,
  taken: ReadonlySet<string>,
  when: (
    found: SessionFile,
    firstLine: string,
  ) => Promise<{ readonly id: string; readonly at: number } | undefined>,
) => {
  let best: { file: string; dir: string; at: number; sessionId: string } | undefined
  for (const found of files) {
    if (taken.has(found.file)) continue
    const dated = await when(found, await firstLine(found.file).catch(() => ""))
    if (dated !== undefined && (best === undefined || dated.at < best.at))
      best = { file: found.file, dir: found.dir, at: dated.at, sessionId: dated.id }
  }
  return best === undefined
    ? undefined
    : { file: best.file, dir: best.dir, sessionId: best.sessionId }
}

/** Whether a session started `at` may be the one of a runner started at `startedAt`. */
const startedWith = (at: number, startedAt: number) =>
  at >= startedAt - EARLY_MS && at <= startedAt + LATE_MS

/**
 * The Codex rollout of a runner: Codex picks its own session id, so it is matched by its
 * `session_meta`: the same cwd (both resolved), started no earlier than 5 s before the runner
 * and the first such after it, looked for in the folders of the start's day and the next. Two
 * Codex runners started in the same folder within seconds cannot be told apart this way; the
 * other ids in `taken` (already matched to other runners) are skipped.
 */
export const findCodexSession = (
  home: string,
  cwd: string,
  startedAt: number,
  taken: ReadonlySet<string> = new Set(),
) =>
  Effect.promise(async () => {
    const want = await realpath(cwd).catch(() => cwd)
    const files: SessionFile[] = []
    for (const at of [startedAt, startedAt + 24 * 60 * 60 * 1000]) {
      const dir = codexDayDir(home, at)
      for (const name of await readdir(dir).catch(() => [] as string[]))
        if (name.startsWith("rollout-") && name.endsWith(".jsonl"))
          files.push({ file: join(dir, name), dir })
    }
    const fromName = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$/i
    return earliestSession(files, taken, async ({ file }, line) => {
      const meta = codexSessionMeta(line)
      if (meta?.cwd === undefined || meta.startedAt === undefined) return undefined
      if (!startedWith(meta.startedAt, startedAt)) return undefined
      if ((await realpath(meta.cwd).catch(() => meta.cwd)) !== want) return undefined
      return { id: meta.id ?? fromName.exec(file)?.[1] ?? basename(file), at: meta.startedAt }
    })
  })

/** Codex's session ids are UUIDs; anything else is not looked for. */
const CODEX_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The rollout of a known Codex session (`rollout-<time>-<id>.jsonl`): first in the folders of
 * the days in `near` (the runner's start and the next), else in every day folder, newest first
 * (a continued session writes on in the file of the day it began, `codex resume` appends).
 */
export const findCodexSessionById = (
  home: string,
  sessionId: string,
  near: ReadonlyArray<number>,
) =>
  Effect.promise(async () => {
    if (!CODEX_ID.test(sessionId)) return undefined
    const suffix = `-${sessionId}.jsonl`
    const lookIn = async (dir: string) => {
      const names = await readdir(dir).catch(() => [] as string[])
      const name = names.find((n) => n.startsWith("rollout-") && n.endsWith(suffix))
      return name === undefined ? undefined : { file: join(dir, name), dir, sessionId }
    }
    const tried = new Set<string>()
    for (const at of near) {
      const dir = codexDayDir(home, at)
      tried.add(dir)
      const found = await lookIn(dir)
      if (found !== undefined) return found
    }
    const sessions = join(home, "sessions")
    const desc = async (dir: string) =>
      (await readdir(dir).catch(() => [] as string[]))
        .filter((n) => /^\d+$/.test(n))
        .sort()
        .reverse()
    for (const year of await desc(sessions))
      for (const month of await desc(join(sessions, year)))
        for (const day of await desc(join(sessions, year, month))) {
          const dir = join(sessions, year, month, day)
          if (tried.has(dir)) continue
          const found = await lookIn(dir)
          if (found !== undefined) return found
        }
    return undefined
  })

/**
 * A session file matched by where and when it started: the same folder (both resolved, or as
 * given), started no earlier than 5 s before the runner nor later than a day after, the first
 * such; files in `taken` (other runners') skipped. How Gemini and Qwen sessions are found:
 * their ids are their own, not given at start.
 */
const firstMatching = (
  files: ReadonlyArray<SessionFile>,
  startedAt: number,
  taken: ReadonlySet<string>,
  meta: (line: string) => { id: string; startedAt: number | undefined } | undefined,
) =>
  earliestSession(files, taken, async (_, line) => {
    const m = meta(line)
    return m?.startedAt === undefined || !startedWith(m.startedAt, startedAt)
      ? undefined
      : { id: m.id, at: m.startedAt }
  })

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** Gemini's session files, in every project folder under `tmp/` (its names are its own). */
const geminiFiles = async (home: string) => {
  const tmp = join(home, "tmp")
  const out: Array<{ file: string; dir: string }> = []
  for (const project of await readdir(tmp).catch(() => [] as string[])) {
    const dir = join(tmp, project, "chats")
    for (const name of await readdir(dir).catch(() => [] as string[]))
      if (name.startsWith("session-") && name.endsWith(".jsonl"))
        out.push({ file: join(dir, name), dir })
  }
  return out
}

/**
 * A Gemini CLI session: by its id once known (its file ends in the id's first 8 characters
 * and its first line names it), else by its `projectHash` (sha256 of the folder it runs in)
 * and start time.
 */
export const findGeminiSession = (
  home: string,
  cwd: string,
  startedAt: number,
  known: string | undefined,
  taken: ReadonlySet<string> = new Set(),
) =>
  Effect.promise(async () => {
    const files = await geminiFiles(home)
    if (known !== undefined) {
      for (const f of files) {
        if (!f.file.endsWith(`-${known.slice(0, 8)}.jsonl`)) continue
        if (geminiSessionMeta(await firstLine(f.file).catch(() => ""))?.id === known)
          return { ...f, sessionId: known }
      }
      return undefined
    }
    const hashes = new Set([sha256(cwd), sha256(await realpath(cwd).catch(() => cwd))])
    return firstMatching(files, startedAt, taken, (line) => {
      const m = geminiSessionMeta(line)
      return m !== undefined && hashes.has(m.projectHash) ? m : undefined
    })
  })

/** The earliest Qwen fork of `forkOf` made since the runner started, other runners' left out. */
const firstFork = (
  files: ReadonlyArray<SessionFile>,
  startedAt: number,
  taken: ReadonlySet<string>,
  forkOf: string,
) =>
  earliestSession(files, taken, async ({ file }, line) => {
    const m = qwenSessionMeta(line)
    if (m === undefined || m.forkedFrom !== forkOf || m.id === forkOf) return undefined
    const made = await stat(file).then(
      (s) => (s.birthtimeMs > 0 ? s.birthtimeMs : s.mtimeMs),
      () => undefined,
    )
    return made === undefined || made < startedAt - EARLY_MS ? undefined : { id: m.id, at: made }
  })

/** Qwen Code's folder for a cwd: every character but [A-Za-z0-9] becomes `-`. */
export const qwenChatsDir = (home: string, cwd: string) =>
  join(home, "projects", cwd.replace(/[^a-zA-Z0-9]/g, "-"), "chats")

/**
 * A Qwen Code session: `<id>.jsonl` once known; a fork (`forkOf`) by its first record's
 * `forkedFrom`, the earliest file made since the runner started (a fork keeps the copied
 * records' times, so those say nothing of when it was made); else by its first record's time.
 */
export const findQwenSession = (
  home: string,
  cwd: string,
  startedAt: number,
  known: string | undefined,
  taken: ReadonlySet<string> = new Set(),
  forkOf?: string,
) =>
  Effect.promise(async () => {
    const dirs = [...new Set([cwd, await realpath(cwd).catch(() => cwd)])].map((c) =>
      qwenChatsDir(home, c),
    )
    const files: Array<{ file: string; dir: string }> = []
    for (const dir of dirs)
      for (const name of await readdir(dir).catch(() => [] as string[]))
        if (name.endsWith(".jsonl")) files.push({ file: join(dir, name), dir })
    if (known !== undefined) {
      const found = files.find((f) => f.file.endsWith(`/${known}.jsonl`))
      return found === undefined ? undefined : { ...found, sessionId: known }
    }
    if (forkOf !== undefined) return firstFork(files, startedAt, taken, forkOf)
    return firstMatching(files, startedAt, taken, qwenSessionMeta)
  })
