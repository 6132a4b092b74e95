import { createHash } from "node:crypto"
import { join } from "node:path"
import type { NotifyEvent, RunnerSummary } from "@geppetto/protocol"
import { z } from "zod"
import { FileSaver, readPrivateJson } from "./json-file.js"

export const SENT_FILE = "notify-state.json"
/** Runners remembered at most; the ones last touched longest ago are forgotten first. */
const MAX_RUNNERS = 10_000

/** A change worth telling someone about: into waiting, or to the end. */
export interface Transition {
  readonly event: NotifyEvent
  readonly runner: RunnerSummary
}

/** What was last announced for one runner, by key (see `waitingKey`, `endKey`). */
interface SentEntry {
  /** The prompt last announced: its `attentionId` (or what it looked like, without one). */
  readonly waiting?: string
  /** What that prompt looked like (`looksOf`). */
  readonly waitingLooks?: string
  /** The end last announced: status and `endedAt`. */
  readonly ended?: string
  /** The budget notice last announced (its `attentionId`): apart from prompts, see `isBudget`. */
  readonly budget?: string
}

const SentFile = z.object({
  version: z.literal(1),
  /** When this file was first made: ends before it happened before notifications were on. */
  since: z.number().int(),
  runners: z.record(
    z.string(),
    z.object({
      waiting: z.string().optional(),
      waitingLooks: z.string().optional(),
      ended: z.string().optional(),
      budget: z.string().optional(),
    }),
  ),
})

/**
 * What a prompt looks like: its reason, its detail and the last line of output (where a
 * question usually is), hashed: the state file keeps no terminal text.
 */
const looksOf = (r: RunnerSummary): string =>
  createHash("sha256")
    .update(JSON.stringify([r.attentionReason ?? "", r.attentionDetail ?? "", r.lastLine ?? ""]))
    .digest("base64url")
    .slice(0, 22)
const waitingKey = (r: RunnerSummary): string => r.attentionId ?? `looks:${looksOf(r)}`
const endKey = (r: RunnerSummary): string => `${r.status}@${r.endedAt ?? ""}`
/**
 * A budget notice (attention `budget`) is no prompt: it is announced once by its own id, which
 * a prompt shown over it and gone again does not make news a second time.
 */
const isBudget = (r: RunnerSummary): boolean =>
  r.waitingForInput && r.attentionReason === "budget" && r.attentionId !== undefined
const isEnd = (r: RunnerSummary): r is RunnerSummary & { status: "completed" | "failed" } =>
  r.status === "completed" || r.status === "failed"

/**
 * Decides, from the runner change feed, which transitions to announce — each once:
 *
 * - into `waiting`: once per prompt (`attentionId`). A runner back to waiting within
 *   `debounceMs` of leaving it, on a prompt that looks the same (reason, detail and last
 *   line of output), is the same prompt flickering, and is not announced again — unless the
 *   prompt it left was answered through a reply (`answered`).
 * - to `completed` / `failed`: once per end (`status` and `endedAt`).
 *
 * What was announced is written to `DATA_DIR/notify-state.json` (0600, atomically) before
 * anything is sent, so a restart never announces it again (at most once: a send cut off by a
 * crash is not repeated). At start, a runner's current state is compared with that file:
 * a prompt not yet announced, or an end after the file was first made, is announced then.
 */
export class TransitionTracker {
  private readonly sent = new Map<string, SentEntry>()
  /** Runners waiting now, as last seen: their prompt's key and what it looked like. */
  private readonly waitingNow = new Map<string, { readonly key: string; readonly looks: string }>()
  /** The prompt of each runner last answered through a reply. */
  private readonly answeredPrompt = new Map<string, string>()
  /** Runners that stopped waiting: when, and what the prompt looked like. */
  private readonly leftWaiting = new Map<string, { readonly at: number; readonly looks: string }>()
  private readonly saver: FileSaver

  private constructor(
    file: string | undefined,
    private since: number,
    private readonly options: {
      readonly debounceMs: number
      readonly now: () => number
      readonly onSaveError: (error: unknown) => void
    },
  ) {
    this.saver = new FileSaver(
      file,
      () =>
        `${JSON.stringify({ version: 1, since: this.since, runners: Object.fromEntries(this.sent) })}\n`,
      options.onSaveError,
    )
  }

  static async open(options: {
    readonly dataDir: string | undefined
    readonly debounceMs: number
    readonly now?: () => number
    readonly onSaveError: (error: unknown) => void
  }): Promise<TransitionTracker> {
    const now = options.now ?? Date.now
    const file = options.dataDir === undefined ? undefined : join(options.dataDir, SENT_FILE)
    const raw = file === undefined ? undefined : await readPrivateJson(file)
    const parsed = raw === undefined ? undefined : SentFile.safeParse(raw)
    if (parsed !== undefined && !parsed.success) {
      throw new Error(
        `${file} is not what was sent (${parsed.error.issues[0]?.message ?? "invalid"}); delete it (then what is waiting now is announced once more)`,
      )
    }
    const tracker = new TransitionTracker(file, parsed?.data.since ?? now(), {
      debounceMs: options.debounceMs,
      now,
      onSaveError: options.onSaveError,
    })
    for (const [id, entry] of Object.entries(parsed?.data.runners ?? {})) {
      tracker.sent.set(id, {
        ...(entry.waiting !== undefined ? { waiting: entry.waiting } : {}),
        ...(entry.waitingLooks !== undefined ? { waitingLooks: entry.waitingLooks } : {}),
        ...(entry.ended !== undefined ? { ended: entry.ended } : {}),
        ...(entry.budget !== undefined ? { budget: entry.budget } : {}),
      })
    }
    if (parsed === undefined) await tracker.saver.save()
    return tracker
  }

  /**
   * The runner list at start (or after the feed overflowed): what each runner is in now and was
   * not announced yet. A prompt whose id changed across a restart but looks the same is taken
   * for the one announced (the domain may number prompts anew when it re-reads a screen).
   */
  baseline(runners: ReadonlyArray<RunnerSummary>): ReadonlyArray<Transition> {
    const out: Array<Transition> = []
    for (const runner of runners) {
      const sent = this.sent.get(runner.id)
      if (isBudget(runner)) {
        this.waitingNow.delete(runner.id)
        const key = runner.attentionId ?? ""
        if (sent?.budget === key) continue
        this.mark(runner.id, { budget: key })
        out.push({ event: "waiting", runner })
      } else if (runner.waitingForInput) {
        const looks = looksOf(runner)
        const key = waitingKey(runner)
        this.waitingNow.set(runner.id, { key, looks })
        if (sent?.waiting === key) continue
        if (sent?.waitingLooks === looks) {
          this.mark(runner.id, { waiting: key, waitingLooks: looks })
          continue
        }
        this.mark(runner.id, { waiting: key, waitingLooks: looks })
        out.push({ event: "waiting", runner })
      } else if (isEnd(runner)) {
        const key = endKey(runner)
        if (sent?.ended === key) continue
        this.mark(runner.id, { ended: key })
        // Ended before notifications were first on: history, not news.
        if ((runner.endedAt ?? 0) >= this.since) out.push({ event: runner.status, runner })
      }
    }
    if (out.length > 0 || runners.length > 0) void this.saver.save()
    return out
  }

  /** A runner's new summary: the transition it makes, if it is one to announce. */
  update(runner: RunnerSummary): Transition | undefined {
    const now = this.options.now()
    const sent = this.sent.get(runner.id)
    if (!isBudget(runner) && runner.waitingForInput) {
      const looks = looksOf(runner)
      const key = waitingKey(runner)
      const wasWaiting = this.waitingNow.get(runner.id)
      this.waitingNow.set(runner.id, { key, looks })
      const left = this.leftWaiting.get(runner.id)
      this.leftWaiting.delete(runner.id)
      const sameLooksSoon =
        left !== undefined && left.looks === looks && now - left.at <= this.options.debounceMs
      // The same id is the same prompt; without ids, the same looks are, unless it went away
      // for longer than the debounce in between.
      if (
        sent?.waiting === key &&
        (runner.attentionId !== undefined || left === undefined || sameLooksSoon)
      ) {
        return undefined
      }
      const flicker = (wasWaiting?.looks === looks && wasWaiting.key !== key) || sameLooksSoon
      this.mark(runner.id, { waiting: key, waitingLooks: looks })
      void this.saver.save()
      return flicker ? undefined : { event: "waiting", runner }
    }
    const was = this.waitingNow.get(runner.id)
    if (was !== undefined) {
      this.waitingNow.delete(runner.id)
      // An answered prompt is over: what comes next is news, however alike it looks.
      if (this.answeredPrompt.get(runner.id) !== was.key) {
        this.leftWaiting.set(runner.id, { at: now, looks: was.looks })
      }
      this.answeredPrompt.delete(runner.id)
    }
    if (isBudget(runner)) {
      const key = runner.attentionId ?? ""
      if (sent?.budget === key) return undefined
      this.mark(runner.id, { budget: key })
      void this.saver.save()
      return { event: "waiting", runner }
    }
    if (isEnd(runner)) {
      const key = endKey(runner)
      if (sent?.ended === key) return undefined
      this.mark(runner.id, { ended: key })
      void this.saver.save()
      return { event: runner.status, runner }
    }
    return undefined
  }

  /**
   * Someone answered the runner's prompt through `POST /api/runners/:id/reply`: whatever it
   * waits on next is another prompt, however alike it looks.
   */
  answered(id: string, attentionId: string): void {
    this.answeredPrompt.set(id, attentionId)
    this.leftWaiting.delete(id)
  }

  /** A runner was removed: nothing more to remember of it. */
  removed(id: string): void {
    this.waitingNow.delete(id)
    this.leftWaiting.delete(id)
    this.answeredPrompt.delete(id)
    if (this.sent.delete(id)) void this.saver.save()
  }

  flush(): Promise<void> {
    return this.saver.flush()
  }

  private mark(id: string, change: SentEntry): void {
    const entry = { ...this.sent.get(id), ...change }
    // Re-inserted: the map's order is the order runners were last touched.
    this.sent.delete(id)
    this.sent.set(id, entry)
    while (this.sent.size > MAX_RUNNERS) {
      const oldest = this.sent.keys().next()
      if (oldest.done === true) break
      this.sent.delete(oldest.value)
    }
  }
}
