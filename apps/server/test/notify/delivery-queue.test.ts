import { describe, expect, it } from "vitest"
import { type AttemptOutcome, DeliveryQueue } from "../../src/notify/delivery-queue.js"

const quiet = { warn: () => undefined, info: () => undefined }

describe("DeliveryQueue", () => {
  it("a service that never answers: each try ends at its deadline, at most `concurrency` at once, the rest wait bounded", async () => {
    const warnings: Array<string> = []
    const queue = new DeliveryQueue({
      concurrency: 2,
      maxPending: 5,
      maxAttempts: 2,
      baseDelayMs: 10,
      maxDelayMs: 20,
      timeoutMs: 50,
      log: { warn: (_f, m) => void warnings.push(m), info: () => undefined },
    })
    let running = 0
    let most = 0
    let tries = 0
    const hang = (signal: AbortSignal) =>
      new Promise<AttemptOutcome>((_resolve, reject) => {
        tries++
        running++
        most = Math.max(most, running)
        signal.addEventListener("abort", () => {
          running--
          reject(new Error("aborted"))
        })
      })
    const accepted = Array.from({ length: 8 }, (_, i) =>
      queue.enqueue({ label: `hang ${i}`, attempt: hang }),
    )
    // Five taken, three dropped at once: enqueue never waits.
    expect(accepted.filter(Boolean)).toHaveLength(5)
    await queue.idle()
    expect(most).toBe(2)
    expect(tries).toBe(10)
    expect(warnings.filter((w) => w.includes("giving up"))).toHaveLength(5)
    expect(warnings.filter((w) => w.includes("queue is full"))).toHaveLength(3)
  })

  it("gives up at once on a give-up, retries a retry, and stops everything on close", async () => {
    const queue = new DeliveryQueue({
      concurrency: 1,
      maxPending: 10,
      maxAttempts: 3,
      baseDelayMs: 1,
      maxDelayMs: 5,
      timeoutMs: 1000,
      log: quiet,
    })
    let gaveUp = 0
    let retried = 0
    queue.enqueue({
      label: "4xx",
      attempt: async () => {
        gaveUp++
        return { kind: "give-up", reason: "400" }
      },
    })
    queue.enqueue({
      label: "5xx",
      attempt: async () => {
        retried++
        return retried < 3 ? { kind: "retry", reason: "503" } : { kind: "done" }
      },
    })
    await queue.idle()
    expect([gaveUp, retried]).toEqual([1, 3])
    queue.enqueue({
      label: "later",
      attempt: async () => ({ kind: "retry", reason: "503", afterMs: 60_000 }),
    })
    queue.close()
    await queue.idle()
    expect(queue.pending).toBe(0)
    expect(queue.enqueue({ label: "after close", attempt: async () => ({ kind: "done" }) })).toBe(
      false,
    )
  })
})
