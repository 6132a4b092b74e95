/**
 * push: fake agents (`fixtures/prompt-agent.sh`) stop at a prompt; t0 is the terminal frame
 * that carries it. The figures are t0 → the Web Push for that prompt received (and decrypted)
 * by a push service on loopback (HTTPS, a self-signed certificate the server trusts through
 * `NODE_EXTRA_CA_CERTS`), beside t0 → `waitingForInput` on an `/api/events` watcher in the
 * same run: the push costs what the notifier, the encryption and one HTTPS request add to the
 * attention figure (target: within 100 ms of it). Answered over the terminal socket.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type WebSocket from "ws"
import { summarize } from "../../../packages/runner/bench/stats.js"
import { browserSubscription } from "../test/notify/receivers.js"
import {
  api,
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

export interface PushOptions {
  readonly agents: number
  readonly promptsPerAgent: number
}

export const pushDefaults: PushOptions = { agents: 5, promptsPerAgent: 10 }
export const pushQuick: PushOptions = { agents: 2, promptsPerAgent: 3 }

const AGENT = join(import.meta.dirname, "fixtures", "prompt-agent.sh")

interface Sample {
  readonly waitingMs: number
  readonly pushMs: number
}

/** Resolves the next time `predicate` holds for something `on` reports. */
class Waiters<T> {
  private readonly list: Array<{
    readonly test: (v: T) => boolean
    readonly resolve: (at: number) => void
  }> = []
  next(test: (v: T) => boolean): Promise<number> {
    return new Promise((resolve) => this.list.push({ test, resolve }))
  }
  on(value: T, at: number): void {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const w = this.list[i]
      if (w?.test(value)) {
        this.list.splice(i, 1)
        w?.resolve(at)
      }
    }
  }
}

export const pushScenario = async (options: PushOptions): Promise<ScenarioReport> => {
  const certDir = mkdtempSync(join(tmpdir(), "geppetto-bench-push-"))
  const certFile = join(certDir, "cert.pem")
  const keyFile = join(certDir, "key.pem")
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-nodes",
      "-subj",
      "/CN=push.bench",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  )
  const pushes = new Waiters<{ runnerId: string; attentionId?: string }>()
  const waitings = new Waiters<{ runnerId: string; attentionId?: string }>()
  let sub: ReturnType<typeof browserSubscription> | undefined
  let undecryptable = 0
  const service = createServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile) },
    (req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const at = performance.now()
        res.writeHead(201)
        res.end()
        try {
          const payload = JSON.parse(sub?.decrypt(Buffer.concat(chunks)) ?? "") as {
            runnerId: string
            attentionId?: string
          }
          pushes.on(payload, at)
        } catch {
          undecryptable++
        }
      })
    },
  )
  await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve))
  const origin = `https://127.0.0.1:${(service.address() as AddressInfo).port}`
  const server = await spawnServer({ label: "push", env: { NODE_EXTRA_CA_CERTS: certFile } })
  const sockets: Array<WebSocket> = []
  const samples: Array<Sample> = []
  let missed = 0
  try {
    sub = browserSubscription(`${origin}/bench`)
    await api(server, "POST", "/api/push/subscriptions", sub.json)
    sockets.push(
      await openEvents(server, (message, at) => {
        if (message.type !== "runner" || !message.runner.waitingForInput) return
        waitings.on(
          {
            runnerId: message.runner.id,
            ...(message.runner.attentionId !== undefined
              ? { attentionId: message.runner.attentionId }
              : {}),
          },
          at,
        )
      }),
    )
    const agent = async (index: number) => {
      const runner = await startRunner(
        server,
        ["bash", AGENT, String(options.promptsPerAgent)],
        `push-${index}`,
      )
      if (runner === undefined) throw new Error("no runner")
      const id = runner.id
      let tail = ""
      let want = 1
      let prompted: ((at: number) => void) | undefined
      const ws = await openTerminal(server, id, (_end, bytes) => {
        tail = (tail + Buffer.from(bytes).toString("latin1")).slice(-4096)
        if (prompted !== undefined && tail.includes(`Step ${want}: Do you want to proceed?`)) {
          const p = prompted
          prompted = undefined
          tail = ""
          p(performance.now())
        }
      })
      sockets.push(ws)
      ws.send(JSON.stringify({ type: "input", data: "s" }))
      const seen = new Set<string>()
      for (; want <= options.promptsPerAgent; want++) {
        const shown = new Promise<number>((resolve) => {
          prompted = resolve
        })
        // Armed before the prompt shows: each waits for a prompt of this runner not seen yet.
        const fresh = (v: { runnerId: string; attentionId?: string }) =>
          v.runnerId === id && v.attentionId !== undefined && !seen.has(v.attentionId)
        const waiting = waitings.next(fresh)
        const pushed = pushes.next(fresh)
        const t0 = await within(30_000, `prompt ${want} of agent ${index}`, shown)
        const [w, p] = await Promise.all([
          within(10_000, "waitingForInput", waiting).catch(() => undefined),
          within(10_000, "the push", pushed).catch(() => undefined),
        ])
        const detail = (await api(server, "GET", `/api/runners/${id}`)) as { attentionId?: string }
        if (detail.attentionId !== undefined) seen.add(detail.attentionId)
        if (w === undefined || p === undefined) missed++
        else samples.push({ waitingMs: w - t0, pushMs: p - t0 })
        ws.send(JSON.stringify({ type: "input", data: "1" }))
      }
    }
    log(`  push: ${options.agents} fake agents x ${options.promptsPerAgent} prompts ...`)
    await Promise.all(Array.from({ length: options.agents }, (_, i) => agent(i)))
  } finally {
    await closeAll(sockets)
    await stopServerAndRunners(server)
    service.closeAllConnections()
    await new Promise<void>((resolve) => service.close(() => resolve()))
    rmSync(certDir, { recursive: true, force: true })
  }
  const waiting = summarize(samples.map((s) => s.waitingMs))
  const push = summarize(samples.map((s) => s.pushMs))
  const added = summarize(samples.map((s) => s.pushMs - s.waitingMs))
  return {
    scenario: "push",
    title: `prompt on screen -> Web Push received (${samples.length} prompts)`,
    setup: `${options.agents} fake agents at once (fixtures/prompt-agent.sh), ${options.promptsPerAgent} prompts each; one subscription on a loopback HTTPS push service that decrypts each push (RFC 8291); default attention timing`,
    figures: [
      {
        name: "prompt -> push received p50",
        value: push.p50,
        unit: "ms",
        target: { op: "<", limit: waiting.p50 + 100 },
        baseline: { label: "prompt -> waitingForInput p50", value: waiting.p50 },
        digits: 0,
      },
      {
        name: "prompt -> push received p99",
        value: push.p99,
        unit: "ms",
        target: { op: "<", limit: waiting.p99 + 100 },
        baseline: { label: "prompt -> waitingForInput p99", value: waiting.p99 },
        digits: 0,
      },
      { name: "push after waitingForInput p50", value: added.p50, unit: "ms", digits: 1 },
      { name: "push after waitingForInput p99", value: added.p99, unit: "ms", digits: 1 },
    ],
    details: {
      waiting: { ...waiting },
      push: { ...push },
      added: { ...added },
      samples: samples.map((s) => ({ ...s })),
      missed,
      undecryptable,
    },
    notes: [
      ...(missed > 0
        ? [`${missed} prompt(s) without a push or a waitingForInput within 10 s`]
        : []),
      ...(undecryptable > 0 ? [`${undecryptable} push(es) that did not decrypt`] : []),
    ],
  }
}
