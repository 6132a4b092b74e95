import { describe, expect, it } from "vitest"
import { plainLines } from "./search"

describe("plainLines", () => {
  it("drops escapes and keeps what a carriage return redrew", () => {
    expect(plainLines("a \x1b[31mred\x1b[0m word\nspin 1\rspin 2\r\ndone")).toEqual([
      "a red word",
      "spin 2",
      "done",
    ])
  })
})
