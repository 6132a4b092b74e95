import type { AuditEntry, PresenceMessage } from "@geppetto/protocol"
import { describe, expect, it } from "vitest"
import { afterBacklog } from "../../src/team/audit-trail.js"
import { type InputBurst, Presence, type PresenceClock } from "../../src/team/presence.js"

/** A clock driven by hand: `advance` runs the timers that come due, in order. */
class ManualClock implements PresenceClock {
  private time = 1_000
  private next = 0
  private readonly timers = new Map<number, { at: number; f: () => void }>()
  readonly now = () => this.time
  readonly setTimeout = (f: () => void, ms: number) => {
    const id = ++this.next
    this.timers.set(id, { at: this.time + ms, f })
    return id
  }
  readonly clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number)
  }
  get pending(): number {
    return this.timers.size
  }
  advance(ms: number): void {
    const until = this.time + ms
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0]
      if (due === undefined) break
      this.timers.delete(due[0])
      this.time = due[1].at
      due[1].f()
    }
    this.time = until
  }
}

const setup = () => {
  const clock = new ManualClock()
  const roles = new Map<string, "viewer" | "operator" | "admin">([
    ["alice", "operator"],
    ["bob", "viewer"],
  ])
  const bursts: Array<InputBurst> = []
  const presence = new Presence({
    roleOf: (user) => roles.get(user),
    onBurst: (b) => bursts.push(b),
    clock,
  })
  const heard: Array<PresenceMessage> = []
  presence.subscribe((m) => heard.push(m))
  const show = (runnerId = "r1") =>
    presence
      .viewers(runnerId)
      .map((v) => `${v.user}:${v.role}${v.typing ? ":typing" : ""}`)
      .join(",")
  return { clock, roles, bursts, presence, heard, show }
}

describe("Presence", () => {
  it("lists each user once, by when they came, whatever the number of their sockets", () => {
    const { clock, presence, heard, show } = setup()
    const a1 = presence.join("r1", "alice", "operator")
    clock.advance(10)
    const b = presence.join("r1", "bob", "viewer")
    const a2 = presence.join("r1", "alice", "operator")
    expect(show()).toBe("alice:operator,bob:viewer")
    expect(presence.viewers("r1")[0]?.since).toBe(1_000)
    a1.leave()
    // alice's second socket keeps her there, since it came.
    expect(show()).toBe("alice:operator,bob:viewer")
    expect(presence.viewers("r1").find((v) => v.user === "alice")?.since).toBe(1_010)
    a2.leave()
    a2.leave()
    b.leave()
    expect(show()).toBe("")
    expect(presence.snapshot()).toEqual([])
    // join, join, join, leave, leave, leave: each heard once, the second leave of a2 not at all.
    expect(heard.map((m) => m.viewers.length)).toEqual([1, 2, 2, 2, 1, 0])
  })

  it("shows typing from the first key until TYPING_MS after the last, with one message each way", () => {
    const { clock, presence, heard, show } = setup()
    const seat = presence.join("r1", "alice", "operator")
    heard.length = 0
    seat.input(1)
    expect(show()).toBe("alice:operator:typing")
    for (let i = 0; i < 20; i++) {
      clock.advance(200)
      seat.input(1)
    }
    // Keys every 200 ms for 4 s: still typing, and nothing more was sent.
    expect(show()).toBe("alice:operator:typing")
    expect(heard).toHaveLength(1)
    clock.advance(2_999)
    expect(show()).toBe("alice:operator:typing")
    clock.advance(1)
    expect(show()).toBe("alice:operator")
    expect(heard.map((m) => m.viewers[0]?.typing)).toEqual([true, false])
    seat.leave()
    expect(clock.pending).toBe(0)
  })

  it("ends a burst after BURST_IDLE_MS without input, or when the socket closes, as a byte count", () => {
    const { clock, presence, bursts } = setup()
    const seat = presence.join("r1", "alice", "operator")
    seat.input(3)
    clock.advance(1_500)
    seat.input(4)
    clock.advance(1_999)
    expect(bursts).toEqual([])
    clock.advance(1)
    expect(bursts).toEqual([{ user: "alice", runnerId: "r1", bytes: 7 }])
    seat.input(5)
    seat.leave()
    expect(bursts).toEqual([
      { user: "alice", runnerId: "r1", bytes: 7 },
      { user: "alice", runnerId: "r1", bytes: 5 },
    ])
    // Input after leaving counts for nothing.
    seat.input(9)
    clock.advance(10_000)
    expect(bursts).toHaveLength(2)
    expect(clock.pending).toBe(0)
  })

  it("shows the role a user has now, and keeps runners apart", () => {
    const { roles, presence, show } = setup()
    presence.join("r1", "alice", "operator")
    presence.join("r2", "bob", "viewer")
    roles.set("alice", "viewer")
    expect(show("r1")).toBe("alice:viewer")
    expect(show("r2")).toBe("bob:viewer")
    expect(
      presence
        .snapshot()
        .map((m) => m.runnerId)
        .sort(),
    ).toEqual(["r1", "r2"])
  })

  it("stops telling a listener once it unsubscribes", () => {
    const { presence } = setup()
    const heard: Array<PresenceMessage> = []
    const stop = presence.subscribe((m) => heard.push(m))
    presence.join("r1", "alice", "operator")
    stop()
    presence.join("r1", "bob", "viewer")
    expect(heard).toHaveLength(1)
  })
})

describe("afterBacklog", () => {
  const entry = (n: number, action: AuditEntry["action"] = "runner.start"): AuditEntry => ({
    at: n,
    user: "owner",
    action,
    runnerId: `r${n}`,
  })

  it("drops what the backlog already holds, and only that", () => {
    const [e1, e2, e3, e4] = [entry(1), entry(2), entry(3), entry(4)]
    // Recorded after the subscription: e3, e4; the query saw e3 (newest first: e3, e2, e1).
    expect(afterBacklog([e3, e2, e1], [e3, e4])).toEqual([e4])
    // The query saw both.
    expect(afterBacklog([e4, e3, e2], [e3, e4])).toEqual([])
    // The query saw neither.
    expect(afterBacklog([e2, e1], [e3, e4])).toEqual([e3, e4])
    expect(afterBacklog([], [e3])).toEqual([e3])
    expect(afterBacklog([e1], [])).toEqual([])
  })
})
