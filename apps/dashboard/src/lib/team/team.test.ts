import type { Viewer } from "@geppetto/protocol"
import { describe, expect, it } from "vitest"
import { actionLabel, hueOf, initials, listNames, othersOf, presenceText } from "./team"

const viewer = (user: string, since: number, typing = false): Viewer => ({
  user,
  role: "operator",
  since,
  typing,
})

describe("avatars", () => {
  it("takes two letters: the first two of one word, the first of each of two", () => {
    expect(initials("alice")).toBe("AL")
    expect(initials("jean-luc")).toBe("JL")
    expect(initials("bob_2")).toBe("B2")
    expect(initials("x")).toBe("X")
  })

  it("gives a name the same hue every time, one of 12 hues 30° apart", () => {
    for (const name of ["alice", "bob", "owner", "viewer", "a", "z".repeat(32)]) {
      const hue = hueOf(name)
      expect(hueOf(name)).toBe(hue)
      expect(hue % 30).toBe(0)
      expect(hue).toBeGreaterThanOrEqual(0)
      expect(hue).toBeLessThan(360)
    }
    // The names the tests and screenshots show side by side do not share a colour.
    const hues = new Set(["alice", "bob", "owner", "viewer"].map(hueOf))
    expect(hues.size).toBe(4)
  })
})

describe("presence in words", () => {
  it("lists names as people say them", () => {
    expect(listNames([])).toBe("")
    expect(listNames(["alice"])).toBe("alice")
    expect(listNames(["alice", "bob"])).toBe("alice and bob")
    expect(listNames(["alice", "bob", "carol"])).toBe("alice, bob and carol")
    expect(listNames(["alice", "bob", "carol", "dave", "eve"])).toBe("alice, bob and 3 others")
  })

  it("leaves the reader out and says who is typing", () => {
    const viewers = [viewer("me", 1), viewer("bob", 30), viewer("alice", 20, true)]
    expect(presenceText(viewers, "me")).toBe("alice and bob watching · alice typing")
    expect(presenceText([viewer("bob", 1)], "me")).toBe("bob watching")
    expect(presenceText([viewer("me", 1, true)], "me")).toBeUndefined()
    expect(presenceText([], "me")).toBeUndefined()
    // Not logged in yet (no name): everyone is someone else.
    expect(presenceText([viewer("me", 1)], undefined)).toBe("me watching")
  })

  it("orders avatars by who came first, then by name", () => {
    const order = othersOf([viewer("carol", 5), viewer("bob", 5), viewer("alice", 9)], "x")
    expect(order.map((v) => v.user)).toEqual(["bob", "carol", "alice"])
  })
})

describe("audit actions", () => {
  it("reads each action as words, and an unknown one as it is", () => {
    expect(actionLabel("runner.input")).toBe("typed")
    expect(actionLabel("login.failed")).toBe("failed to log in")
    expect(actionLabel("something.new")).toBe("something.new")
  })
})
