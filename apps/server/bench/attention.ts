/**
 * attention: fake agents (`fixtures/prompt-agent.sh`) work briefly, then stop at a numbered
 * menu ending in "Do you want to proceed? [1/2]". t0 is the terminal frame that carries the
 * prompt (the server's tail adds about a millisecond); the figure is t0 → the `runner`
 * message with `waitingForInput: true` on an `/api/events` watcher. The bench then answers
 * over the terminal socket and times answer → `waitingForInput: false`. Default attention
 * settings (debounce 1.5 s, confirm 0.25 s, re-check 0.3 s): no `config.json` is written.
 */
import { join } from "node:path"
import type WebSocket from "ws"
import { summarize } from "../../../packages/runner/bench/stats.js"
import {
  closeAll,
  log,
  openEvents,
  openTerminal,
  spawnServer,
  startRunner,
  stopServerAndRunners,
  within,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface AttentionOptions {
  /** Fake agents running at once (their prompts interleave). */
  readonly agents: number
  readonly promptsPerAgent: number
}

export const attentionDefaults: AttentionOptions = { agents: 5, promptsPerAgent: 10 }
export const attentionQuick: AttentionOptions = { agents: 2, promptsPerAgent: 3 }

const AGENT = join(import.meta.dirname, "fixtures", "prompt-agent.sh")
/** The runner defaults (packages/runner `defaultAttentionSettings`): the floor of detection. */
const DEBOUNCE_MS = 1_500
const CONFIRM_MS = 250
const RECHECK_MS = 300

interface Waiter {
  readonly value: boolean
  readonly resolve: (at: number) => void
}

interface Sample {
  readonly agent: number
  readonly prompt: number
  readonly detectMs: number
  /** t0 → the `attention` event (sent just before the runner message). */
  readonly eventMs: number
  readonly clearMs: number
  readonly reason: string
}

export const attentionScenario = async (options: AttentionOptions): Promise<ScenarioReport> => {
  const server = await spawnServer({ label: "attention" })
  const waiters = new Map<string, Waiter[]>()
  const attentionEvents = new Map<string, number>()
  const reasons = new Map<string, string>()
  const sockets: WebSocket[] = []
  const samples: Sample[] = []
  /** Prompts never reported waiting (10 s), answers never cleared (10 s), prompts that came while still waiting. */
  let missed = 0
  let notCleared = 0
  let merged = 0
  try {
    sockets.push(
      await openEvents(server, (message, at) => {
        if (message.type === "event" && message.event.type === "attention") {
          attentionEvents.set(message.runnerId, at)
          return
        }
        if (message.type !== "runner") return
        const { id, waitingForInput, attentionReason } = message.runner
        if (waitingForInput) reasons.set(id, attentionReason ?? "")
        const list = waiters.get(id) ?? []
        const keep = list.filter((w) => {
          if (w.value !== waitingForInput) return true
          w.resolve(at)
          return false
        })
        waiters.set(id, keep)
      }),
    )
    /** The next `runner` message for `id` with `waitingForInput === value`. */
    const next = (id: string, value: boolean) =>
      new Promise<number>((resolve) => {
        waiters.set(id, [...(waiters.get(id) ?? []), { value, resolve }])
      })

    const agent = async (index: number) => {
      const runner = await startRunner(
        server,
        ["bash", AGENT, String(options.promptsPerAgent)],
        `attention-${index}`,
      )
      if (runner === undefined) throw new Error("no runner")
      const id = runner.id
      let tail = ""
      let want = 1
      let prompted: ((at: number) => void) | undefined
      const ws = await openTerminal(server, id, (_end, bytes) => {
        const text = Buffer.from(bytes).toString("latin1")
        tail = (tail + text).slice(-4096)
        if (prompted !== undefined && tail.includes(`Step ${want}: Do you want to proceed?`)) {
          const p = prompted
          prompted = undefined
          tail = ""
          p(performance.now())
        }
      })
      sockets.push(ws)
      ws.send(JSON.stringify({ type: "input", data: "s" }))
      // Set when an answer's `waitingForInput: false` never came: the detector then still
      // says "waiting" when the next prompt shows, so that prompt has no transition to time.
      let stillWaiting = false
      for (; want <= options.promptsPerAgent; want++) {
        const shown = new Promise<number>((resolve) => {
          prompted = resolve
        })
        const t0 = await within(30_000, `prompt ${want} of agent ${index}`, shown)
        attentionEvents.delete(id)
        const waiting = stillWaiting
          ? undefined
          : await within(10_000, "waitingForInput", next(id, true)).catch(() => undefined)
        const eventAt = attentionEvents.get(id) ?? Number.NaN
        const cleared = next(id, false)
        const answeredAt = performance.now()
        ws.send(JSON.stringify({ type: "input", data: "1" }))
        const clearAt = await within(10_000, "cleared", cleared).catch(() => undefined)
        if (waiting === undefined && !stillWaiting) missed++
        if (stillWaiting) merged++
        if (clearAt === undefined) notCleared++
        stillWaiting = clearAt === undefined
        if (waiting === undefined) continue
        samples.push({
          agent: index,
          prompt: want,
          detectMs: waiting - t0,
          eventMs: eventAt - t0,
          clearMs: clearAt === undefined ? Number.NaN : clearAt - answeredAt,
          reason: reasons.get(id) ?? "",
        })
      }
    }
    log(
      `  attention: ${options.agents} fake agents x ${options.promptsPerAgent} prompts (about ${Math.round(options.promptsPerAgent * 2.6)} s) ...`,
    )
    await Promise.all(Array.from({ length: options.agents }, (_, i) => agent(i)))
  } finally {
    await closeAll(sockets)
    await stopServerAndRunners(server)
  }
  const detect = summarize(samples.map((s) => s.detectMs))
  const event = summarize(samples.map((s) => s.eventMs))
  const clear = summarize(samples.map((s) => s.clearMs).filter((ms) => Number.isFinite(ms)))
  const floor = DEBOUNCE_MS + CONFIRM_MS
  const wrongReason = samples.filter((s) => s.reason !== "question").length
  return {
    scenario: "attention",
    title: `prompt on screen -> waitingForInput on /api/events (${samples.length} prompts)`,
    setup: `${options.agents} fake agents at once (fixtures/prompt-agent.sh), ${options.promptsPerAgent} prompts each, answered over the terminal socket; default debounce ${DEBOUNCE_MS} ms + confirm ${CONFIRM_MS} ms`,
    figures: [
      {
        name: "prompt -> waitingForInput p99",
        value: detect.p99,
        unit: "ms",
        target: { op: "<", limit: 2500 },
        baseline: { label: "floor: debounce + confirm", value: floor },
        digits: 0,
      },
      {
        name: "prompt -> waitingForInput p50",
        value: detect.p50,
        unit: "ms",
        baseline: { label: "floor: debounce + confirm", value: floor },
        digits: 0,
      },
      {
        name: "prompt -> attention event p50",
        value: event.p50,
        unit: "ms",
        digits: 0,
      },
      {
        name: "answer -> waitingForInput false p50",
        value: clear.p50,
        unit: "ms",
        baseline: { label: "floor: re-check delay", value: RECHECK_MS },
        digits: 0,
      },
      {
        name: "answer -> waitingForInput false p99",
        value: clear.p99,
        unit: "ms",
        baseline: { label: "floor: re-check delay", value: RECHECK_MS },
        digits: 0,
      },
    ],
    details: {
      detect: { ...detect },
      event: { ...event },
      clear: { ...clear },
      samples: samples.map((s) => ({ ...s })),
      missed,
      notCleared,
      merged,
    },
    notes: [
      ...(wrongReason > 0
        ? [`${wrongReason} prompt(s) were reported with a reason other than "question"`]
        : []),
      ...(missed > 0
        ? [`${missed} prompt(s) never reported waiting within 10 s (not in the figures)`]
        : []),
      ...(notCleared > 0
        ? [
            `${notCleared} answer(s) never reported waitingForInput false within 10 s; the next prompt came while the runner still showed waiting (${merged} prompt(s) with no transition to time)`,
          ]
        : []),
    ],
  }
}
