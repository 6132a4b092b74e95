import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { Duration, Effect, Option, Queue, Ref } from "effect"
import { RunnerConfig } from "../config.js"
import { NotFoundError } from "../domain/errors.js"
import { watchDir } from "../logs/dir-watch.js"
import { type AgentSessionInfo, AiRunnerPort } from "../ports.js"
import { RunnerSettings } from "../runners/settings.js"
import {
  agentHome,
  claudeSessionFile,
  codexDayDir,
  findClaudeSession,
  findCodexSession,
  findCodexSessionById,
  findGeminiSession,
  findQwenSession,
  qwenChatsDir,
  transcriptProviders,
} from "./agent-session.js"
import { parseClaudeLine } from "./claude-lines.js"
import { parseCodexLine } from "./codex-lines.js"
import { parseGeminiLine } from "./gemini-lines.js"
import { defaultPrices } from "./prices.js"
import { parseQwenLine } from "./qwen-lines.js"
import {
  type LineParser,
  type PageQuery,
  TranscriptIndex,
  type TranscriptPage,
} from "./transcript-index.js"
import { type UsageGrouping, type UsageItem, usageTotals } from "./usage-totals.js"

const PARSERS: Readonly<Record<string, LineParser>> = {
  claude: parseClaudeLine,
  codex: parseCodexLine,
  gemini: parseGeminiLine,
  qwen: parseQwenLine,
}

/** Transcripts held open (each bounded, see `TranscriptIndex`); the least recently read goes. */
const CACHED_INDEXES = 16
const DAY_MS = 24 * 60 * 60 * 1000
/** A follower looks again this often even without a folder change (the runner may have ended). */
const RECHECK = Duration.seconds(2)

export interface Transcript extends TranscriptPage {
  readonly provider: string
  /** The agent's session id (Claude: the one we gave it; Codex: its rollout's). */
  readonly sessionId: string
}

const noTranscript = (id: string, why: string) =>
  new NotFoundError({
    resource: "transcript",
    id,
    message: `runner ${id} has no transcript: ${why}`,
  })

/**
 * The agents' own session files, read for the Conversation view and for usage: every live
 * Claude Code / Codex runner's file is followed (a watch on its folder) and its usage given to
 * the registry as it grows; pages of a transcript are read on demand.
 */
export class Transcripts extends Effect.Service<Transcripts>()("geppetto/Transcripts", {
  scoped: Effect.gen(function* () {
    const runners = yield* AiRunnerPort
    const config = yield* RunnerConfig
    const settings = yield* RunnerSettings
    const prices = { ...defaultPrices, ...settings.prices }
    const indexes = new Map<
      string,
      { index: TranscriptIndex; sessionId: string; lock: Effect.Semaphore }
    >()
    /** Files matched by time (Codex, Gemini, Qwen) to a runner: never given to a second one. */
    const codexTaken = new Map<string, string>()

    const locate = (info: AgentSessionInfo) =>
      Effect.gen(function* () {
        const home = agentHome(info.provider, info.ref, config.environment)
        if (home === undefined) return undefined
        if (info.provider === "claude") {
          const sessionId = info.ref?.id
          if (sessionId === undefined) return undefined
          const found = yield* findClaudeSession(home, info.cwd, sessionId)
          return found === undefined
            ? { ...claudeSessionFile(home, info.cwd, sessionId), sessionId, exists: false }
            : { ...found, sessionId, exists: true }
        }
        if (info.provider === "codex") {
          const notYet = {
            dir: codexDayDir(home, info.createdAt),
            file: undefined,
            sessionId: "",
            exists: false,
          }
          // Known (matched before, or continued with `codex resume`): found by its id.
          const known = info.ref?.id
          if (known !== undefined) {
            const byId = yield* findCodexSessionById(home, known, [
              info.createdAt,
              info.createdAt + DAY_MS,
            ])
            if (byId === undefined) return notYet
            // Never matched by time to another runner (after a restart as before it).
            codexTaken.set(byId.file, info.id)
            return { ...byId, exists: true }
          }
          const taken = new Set([...codexTaken].filter(([, r]) => r !== info.id).map(([f]) => f))
          const found = yield* findCodexSession(home, info.cwd, info.createdAt, taken)
          if (found === undefined) return notYet
          codexTaken.set(found.file, info.id)
          // Kept on the runner: `codex resume` needs it, and the file is found by it from now on.
          yield* runners
            .setAgentSessionId(info.id, found.sessionId)
            .pipe(Effect.catchTag("NotFoundError", () => Effect.void))
          return { ...found, exists: true }
        }
        if (info.provider === "gemini" || info.provider === "qwen") {
          const known = info.ref?.id
          const taken = new Set([...codexTaken].filter(([, r]) => r !== info.id).map(([f]) => f))
          const found = yield* info.provider === "gemini"
            ? findGeminiSession(home, info.cwd, info.createdAt, known, taken)
            : findQwenSession(home, info.cwd, info.createdAt, known, taken, info.ref?.forkOf)
          if (found === undefined)
            return {
              // Qwen's folder is known before its file; Gemini's project folder is its own.
              dir: info.provider === "qwen" ? qwenChatsDir(home, info.cwd) : join(home, "tmp"),
              file: undefined,
              sessionId: "",
              exists: false,
            }
          codexTaken.set(found.file, info.id)
          if (known === undefined) {
            yield* runners
              .setAgentSessionId(info.id, found.sessionId)
              .pipe(Effect.catchTag("NotFoundError", () => Effect.void))
          }
          return { ...found, exists: true }
        }
        return undefined
      })

    /** A finished runner's usage stops at its end: what follows is its continuation's. */
    const endUsage = (index: TranscriptIndex, info: AgentSessionInfo) => {
      if (!info.live && info.endedAt !== undefined) index.tally.until = info.endedAt
    }

    const indexFor = (info: AgentSessionInfo) =>
      Effect.gen(function* () {
        const held = indexes.get(info.id)
        if (held !== undefined) {
          indexes.delete(info.id)
          indexes.set(info.id, held)
          endUsage(held.index, info)
          return held
        }
        const where = yield* locate(info)
        if (where === undefined || !where.exists || where.file === undefined) return undefined
        const parse = PARSERS[info.provider] ?? parseCodexLine
        const made = {
          // A runner that continues or forks a session counts what was said since it started:
          // what comes before is its parent's (usage totals and budgets would count it twice).
          index: new TranscriptIndex(
            where.file,
            parse,
            prices,
            info.parentId === undefined ? undefined : info.createdAt,
          ),
          sessionId: where.sessionId,
          lock: yield* Effect.makeSemaphore(1),
        }
        endUsage(made.index, info)
        indexes.set(info.id, made)
        if (indexes.size > CACHED_INDEXES) {
          const oldest = indexes.keys().next().value
          if (oldest !== undefined && oldest !== info.id) indexes.delete(oldest)
        }
        return made
      })

    /** A page of runner `id`'s transcript; `NotFoundError` where it keeps none (yet). */
    const transcript = Effect.fn("Transcripts.transcript")(function* (
      id: string,
      query: PageQuery,
    ) {
      const info = yield* runners.agentSession(id)
      if (!transcriptProviders.has(info.provider))
        return yield* noTranscript(id, `${info.provider} keeps no session file Geppetto reads`)
      const held = yield* indexFor(info)
      if (held === undefined) return yield* noTranscript(id, "the agent has not written one yet")
      const page = yield* held.lock
        .withPermits(1)(held.index.page(query))
        .pipe(Effect.mapError((e) => noTranscript(id, e.message)))
      if (info.live || info.usage === undefined) yield* runners.setUsage(id, page.usage)
      return { provider: info.provider, sessionId: held.sessionId, ...page } satisfies Transcript
    })

    /** Reads a live runner's transcript as it grows, until the runner ends, giving its usage. */
    const follow = (id: string) =>
      Effect.gen(function* () {
        for (;;) {
          const info = yield* runners.agentSession(id)
          const where = yield* locate(info)
          if (where === undefined) return
          // The agent makes this folder anyway; made now, it can be watched before the file exists.
          yield* Effect.promise(() => mkdir(where.dir, { recursive: true }).catch(() => undefined))
          const watch = yield* Effect.option(watchDir(where.dir))
          const version = Option.match(watch, { onNone: () => 0, onSome: (w) => w.version() })
          const held = yield* indexFor(info)
          if (held !== undefined) {
            const moved = yield* held.lock
              .withPermits(1)(held.index.catchUp())
              .pipe(Effect.orElseSucceed(() => false))
            if (moved || info.usage === undefined)
              yield* runners.setUsage(id, held.index.tally.usage)
          }
          if (!info.live) return
          const change = Option.match(watch, {
            onNone: () => Effect.void,
            onSome: (w) => w.awaitChange(version),
          })
          yield* Effect.race(change, Effect.sleep(RECHECK))
        }
      }).pipe(
        Effect.scoped,
        Effect.catchTag("NotFoundError", () => Effect.void),
      )

    // Every live runner of a provider with a transcript is followed, once.
    const scope = yield* Effect.scope
    const followed = yield* Ref.make(new Set<string>())
    const wake = yield* Queue.sliding<string>(1024)
    const startFollowing = (id: string) =>
      Effect.gen(function* () {
        const already = yield* Ref.modify(followed, (set) =>
          set.has(id) ? [true, set] : [false, new Set(set).add(id)],
        )
        if (already) return
        yield* Effect.forkIn(
          follow(id).pipe(
            Effect.ensuring(
              Ref.update(followed, (set) => {
                const next = new Set(set)
                next.delete(id)
                return next
              }),
            ),
          ),
          scope,
        )
      })
    const changes = yield* runners.subscribe
    for (const r of changes.runners)
      if (transcriptProviders.has(r.provider)) yield* Queue.offer(wake, r.id)
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          const event = yield* Queue.take(changes.queue)
          if (event.type === "runner" && transcriptProviders.has(event.runner.provider))
            yield* Queue.offer(wake, event.runner.id)
          if (event.type === "removed") {
            indexes.delete(event.runnerId)
            for (const [file, runner] of codexTaken)
              if (runner === event.runnerId) codexTaken.delete(file)
          }
        }),
      ),
    )
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(wake), startFollowing)))

    /** Usage of every runner started since `since`, grouped `by`. */
    const totals = Effect.fn("Transcripts.totals")(function* (since: number, by: UsageGrouping) {
      const list = yield* runners.listRunners
      const items: UsageItem[] = []
      for (const r of list) {
        const info = yield* Effect.option(runners.agentSession(r.id))
        if (Option.isSome(info)) items.push(info.value)
      }
      return usageTotals(items, since, by)
    })

    return { transcript, totals } as const
  }),
}) {}
