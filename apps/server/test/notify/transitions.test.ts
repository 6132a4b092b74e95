import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RunnerSummary } from "@geppetto/protocol"
import { afterEach, describe, expect, it } from "vitest"
import { TransitionTracker } from "../../src/notify/transitions.js"

const dirs: Array<string> = []
const trackers: Array<TransitionTracker> = []
const saveErrors: Array<unknown> = []
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.flush()))
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  expect(saveErrors.splice(0)).toEqual([])
})

const base: RunnerSummary = {
  id: "r1",
  name: "agent",
  provider: "claude",
  mode: "interactive",
  status: "running",
  activity: "active",
  waitingForInput: false,
  cwd: "/tmp",
  createdAt: 1,
  startedAt: 1,
  bytesOut: 0,
}
const working = (over: Partial<RunnerSummary> = {}): RunnerSummary => ({ ...base, ...over })
const waiting = (attentionId: string, over: Partial<RunnerSummary> = {}): RunnerSummary => ({
  ...base,
  waitingForInput: true,
  attentionReason: "permission",
  attentionDetail: "npm test",
  attentionId,
  lastLine: "Allow npm test? (y/n)",
  ...over,
})

const open = async (dataDir?: string) => {
  const clock = { now: 1_000 }
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "geppetto-notify-"))
  if (dataDir === undefined) dirs.push(dir)
  const tracker = await TransitionTracker.open({
    dataDir: dir,
    debounceMs: 5_000,
    now: () => clock.now,
    onSaveError: (e) => saveErrors.push(e),
  })
  trackers.push(tracker)
  return { tracker, clock, dir }
}

describe("TransitionTracker", () => {
  it("announces a prompt once, however often its summary changes while it waits", async () => {
    const { tracker } = await open()
    expect(tracker.baseline([working()])).toEqual([])
    expect(tracker.update(waiting("a1"))?.event).toBe("waiting")
    expect(tracker.update(waiting("a1", { status: "idle", bytesOut: 50 }))).toBeUndefined()
    expect(tracker.update(waiting("a1", { activity: "idle" }))).toBeUndefined()
  })

  it("a prompt flickering out and back within the debounce is one prompt; after it, a new one", async () => {
    const { tracker, clock } = await open()
    tracker.baseline([])
    expect(tracker.update(waiting("a1"))?.event).toBe("waiting")
    for (let i = 2; i < 6; i++) {
      clock.now += 1_000
      expect(tracker.update(working())).toBeUndefined()
      clock.now += 500
      // The domain numbers each entry into waiting anew: same looks, new id, within 5 s.
      expect(tracker.update(waiting(`a${i}`))).toBeUndefined()
    }
    clock.now += 1_000
    tracker.update(working())
    clock.now += 6_000
    expect(tracker.update(waiting("a9"))?.event).toBe("waiting")
  })

  it("another prompt (other looks) right after is news, and so is one after a reply", async () => {
    const { tracker, clock } = await open()
    tracker.baseline([])
    expect(tracker.update(waiting("a1"))?.event).toBe("waiting")
    clock.now += 100
    tracker.update(working())
    clock.now += 100
    expect(
      tracker.update(
        waiting("a2", { attentionDetail: "rm -rf build", lastLine: "Allow rm? (y/n)" }),
      ),
    ).toMatchObject({ event: "waiting" })
    tracker.answered("r1", "a2")
    clock.now += 100
    tracker.update(working())
    clock.now += 100
    expect(
      tracker.update(
        waiting("a3", { attentionDetail: "rm -rf build", lastLine: "Allow rm? (y/n)" }),
      ),
    ).toMatchObject({ event: "waiting" })
  })

  it("announces an end once; an end before notifications were on is history", async () => {
    const { tracker, clock } = await open()
    expect(tracker.baseline([working({ id: "old", status: "completed", endedAt: 10 })])).toEqual([])
    clock.now = 5_000
    const done = working({ status: "failed", endedAt: 5_000, exitCode: 1 })
    expect(tracker.update(done)?.event).toBe("failed")
    expect(tracker.update({ ...done, bytesOut: 9 })).toBeUndefined()
  })

  it("a restart announces nothing already announced, but what happened while it was down", async () => {
    const first = await open()
    first.tracker.baseline([])
    first.tracker.update(waiting("a1"))
    first.tracker.update(working({ id: "r2", status: "completed", endedAt: 2_000 }))
    await first.tracker.flush()
    expect(statSync(join(first.dir, "notify-state.json")).mode & 0o777).toBe(0o600)
    const again = await open(first.dir)
    again.clock.now = 9_000
    const out = again.tracker.baseline([
      waiting("a1"),
      working({ id: "r2", status: "completed", endedAt: 2_000 }),
      working({ id: "r3", status: "failed", endedAt: 8_000 }),
      waiting("b1", { id: "r4" }),
    ])
    expect(out.map((t) => [t.runner.id, t.event])).toEqual([
      ["r3", "failed"],
      ["r4", "waiting"],
    ])
    // A prompt renumbered by a restart but looking the same is the one announced.
    const third = await open(first.dir)
    expect(third.tracker.baseline([waiting("a7")])).toEqual([])
  })

  it("forgets a removed runner", async () => {
    const { tracker } = await open()
    tracker.baseline([])
    tracker.update(waiting("a1"))
    tracker.removed("r1")
    expect(tracker.update(waiting("a1"))?.event).toBe("waiting")
  })

  it("a budget notice is announced once: not again behind a prompt shown over it, nor after a restart", async () => {
    const budget = (over: Partial<RunnerSummary> = {}): RunnerSummary =>
      waiting("budget-x1", {
        attentionReason: "budget",
        attentionDetail: "budget spent: provider claude, per day, max $5",
        lastLine: "working",
        ...over,
      })
    const { tracker, dir } = await open()
    expect(tracker.baseline([working()])).toEqual([])
    expect(tracker.update(budget())?.runner.attentionReason).toBe("budget")
    expect(tracker.update(budget({ bytesOut: 10, lastLine: "more" }))).toBeUndefined()
    // A permission prompt over it is news; the notice back after the answer is not.
    expect(tracker.update(waiting("a1"))?.runner.attentionId).toBe("a1")
    expect(tracker.update(budget())).toBeUndefined()
    // The prompt it left is not forgotten: the same prompt again is no news either.
    expect(tracker.update(waiting("a1"))).toBeUndefined()
    await tracker.flush()
    const again = await open(dir)
    expect(again.tracker.baseline([budget()])).toEqual([])
    // Another notice (another crossing) is news.
    expect(again.tracker.update(budget({ attentionId: "budget-x2" }))?.event).toBe("waiting")
  })
})
