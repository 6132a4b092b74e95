/**
 * approve: auto-approve's latency and its wrong answers.
 *
 * Latency: fake `claude` agents (apps/server/test/fixtures/approve-agent.sh on the server's
 * PATH) each draw Claude Code's recorded permission dialog for `npm test`, which the runner
 * allows. t0 is the terminal frame that completes a dialog; the figures are t0 → the
 * `auto-reply` event on `/api/events` (the answer typed) and t0 → the agent printing the key
 * it read. Default attention settings: the floor is debounce + confirm, plus one capture.
 *
 * Wrong answers: the generated corpus of packages/runner/test/attention/approve-corpus.ts
 * (1,000+ screens that must not be answered, and allowed controls), through the rules and
 * the decision the server uses, in this process.
 */
import { mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { StringDecoder } from "node:string_decoder"
import { Effect } from "effect"
import type WebSocket from "ws"
import { summarize } from "../../../packages/runner/bench/stats.js"
import {
  answers,
  makeCorpus,
  rulesByProvider,
} from "../../../packages/runner/test/attention/approve-corpus.js"
import {
  api,
  closeAll,
  log,
  openEvents,
  openTerminal,
  spawnServer,
  stopServerAndRunners,
  within,
} from "./harness.js"
import type { ScenarioReport } from "./report.js"

export interface ApproveOptions {
  readonly agents: number
  readonly promptsPerAgent: number
  /** Screens of the corpus that must not be answered. */
  readonly corpus: number
}

export const approveDefaults: ApproveOptions = { agents: 5, promptsPerAgent: 10, corpus: 1000 }
export const approveQuick: ApproveOptions = { agents: 2, promptsPerAgent: 3, corpus: 1000 }

const AGENT = join(import.meta.dirname, "..", "test", "fixtures", "approve-agent.sh")
const DEBOUNCE_MS = 1_500
const CONFIRM_MS = 250
/** The last row of a dialog the fake draws. */
const DIALOG_END = "Esc to cancel · Tab to amend"
const ANSWERED = "answered 1 for npm test"

/** Calls `onHit` for each `needle` in a stream of text chunks, one cut between chunks too. */
const needleCounter = (needle: string, onHit: (at: number) => void) => {
  let tail = ""
  return (chunk: string, at: number) => {
    const text = tail + chunk
    let from = 0
    for (;;) {
      const i = text.indexOf(needle, from)
      if (i === -1) break
      onHit(at)
      from = i + needle.length
    }
    tail = text.slice(Math.max(from, text.length - needle.length + 1))
  }
}

/** The corpus through the decision: how many answered that must not be, and the controls. */
const corpusFigures = (n: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const corpus = makeCorpus(n)
      const rules = yield* rulesByProvider([...new Set(corpus.map((c) => c.provider))])
      let wrong = 0
      let missedControls = 0
      for (const c of corpus) {
        const answered = answers(c, rules.get(c.provider) ?? [])
        if (answered && !c.shouldAnswer) wrong++
        if (!answered && c.shouldAnswer) missedControls++
      }
      const negatives = corpus.filter((c) => !c.shouldAnswer).length
      return { negatives, controls: corpus.length - negatives, wrong, missedControls }
    }),
  )

export const approveScenario = async (options: ApproveOptions): Promise<ScenarioReport> => {
  const bin = mkdtempSync(join(tmpdir(), "geppetto-bench-approve-bin-"))
  symlinkSync(AGENT, join(bin, "claude"))
  const server = await spawnServer({
    label: "approve",
    env: { PATH: `${bin}:${process.env.PATH ?? ""}` },
  })
  const sockets: WebSocket[] = []
  const typed: Array<number> = []
  const received: Array<number> = []
  let missed = 0
  const replies = new Map<string, Array<number>>()
  try {
    sockets.push(
      await openEvents(server, (message, at) => {
        if (message.type === "event" && message.event.type === "auto-reply") {
          replies.set(message.runnerId, [...(replies.get(message.runnerId) ?? []), at])
        }
      }),
    )
    const agent = async (index: number) => {
      const commands = Array.from({ length: options.promptsPerAgent }, () => "npm test").join(";")
      const runner = await api(server, "POST", "/api/runners", {
        provider: "claude",
        name: `approve-${index}`,
        env: { APPROVE_AGENT_COMMANDS: commands, APPROVE_AGENT_WAIT: "1" },
        autoApprove: { allow: ["npm test"] },
        cols: 120,
        rows: 40,
      })
      if (runner === undefined) throw new Error("no runner")
      const id = runner.id
      const shownAt: Array<number> = []
      const answeredAt: Array<number> = []
      const dialogs = needleCounter(DIALOG_END, (at) => shownAt.push(at))
      const answered = needleCounter(ANSWERED, (at) => answeredAt.push(at))
      const decoder = new StringDecoder("utf8")
      const ws = await openTerminal(server, id, (_end, bytes) => {
        const at = performance.now()
        // Streamed: a character cut between two frames (the dialog's "·") is joined again.
        const text = decoder.write(Buffer.from(bytes))
        dialogs(text, at)
        answered(text, at)
      })
      sockets.push(ws)
      // Watching now: the first dialog is drawn after this key, so its frame is seen.
      ws.send(JSON.stringify({ type: "input", data: "s" }))
      await within(
        60_000 + options.promptsPerAgent * 5_000,
        `agent ${index}: ${options.promptsPerAgent} prompts answered`,
        new Promise<void>((resolve) => {
          const check = setInterval(() => {
            // The agent's line can come before the auto-reply event: wait for both.
            const replied = replies.get(id)?.length ?? 0
            if (
              answeredAt.length >= options.promptsPerAgent &&
              replied >= options.promptsPerAgent
            ) {
              clearInterval(check)
              resolve()
            }
          }, 50)
        }),
      ).catch(() => undefined)
      const replied = replies.get(id) ?? []
      for (let i = 0; i < options.promptsPerAgent; i++) {
        const t0 = shownAt[i]
        const reply = replied[i]
        const got = answeredAt[i]
        if (t0 === undefined || reply === undefined || got === undefined) {
          missed++
          continue
        }
        typed.push(reply - t0)
        received.push(got - t0)
      }
    }
    log(`  approve: ${options.agents} fake agents x ${options.promptsPerAgent} allowed prompts ...`)
    await Promise.all(Array.from({ length: options.agents }, (_, i) => agent(i)))
  } finally {
    await closeAll(sockets)
    await stopServerAndRunners(server)
    rmSync(bin, { recursive: true, force: true })
  }
  log(`  approve: the corpus of ${options.corpus}+ screens that must not be answered ...`)
  const corpus = await corpusFigures(options.corpus)
  const reply = summarize(typed)
  const agentGot = summarize(received)
  const floor = DEBOUNCE_MS + CONFIRM_MS
  return {
    scenario: "approve",
    title: `auto-approve: prompt on screen -> answer (${typed.length} prompts), and wrong answers over ${corpus.negatives} screens`,
    setup: `${options.agents} fake claude agents at once, ${options.promptsPerAgent} Bash dialogs each, all allowed (npm test); default debounce ${DEBOUNCE_MS} ms + confirm ${CONFIRM_MS} ms; corpus: ${corpus.negatives} screens that must not be answered + ${corpus.controls} allowed controls`,
    figures: [
      {
        name: "prompt -> answer typed (auto-reply) p50",
        value: reply.p50,
        unit: "ms",
        baseline: { label: "floor: debounce + confirm", value: floor },
        digits: 0,
      },
      {
        name: "prompt -> answer typed (auto-reply) p99",
        value: reply.p99,
        unit: "ms",
        target: { op: "<", limit: 2500 },
        baseline: { label: "floor: debounce + confirm", value: floor },
        digits: 0,
      },
      {
        name: "prompt -> the agent read the key p50",
        value: agentGot.p50,
        unit: "ms",
        baseline: { label: "floor: debounce + confirm", value: floor },
        digits: 0,
      },
      {
        name: "wrong answers over the corpus",
        value: corpus.wrong,
        unit: "screens",
        target: { op: "<=", limit: 0 },
        digits: 0,
      },
      {
        name: "allowed controls not answered",
        value: corpus.missedControls,
        unit: "screens",
        target: { op: "<=", limit: 0 },
        digits: 0,
      },
    ],
    details: { reply: { ...reply }, agentGot: { ...agentGot }, missed, corpus: { ...corpus } },
    notes:
      missed > 0
        ? [`${missed} prompt(s) not answered within the time limit (not in the figures)`]
        : [],
  }
}
