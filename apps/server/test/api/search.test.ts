import { SearchResponse, SearchStreamLine } from "@geppetto/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

let server: TestServer
const ids: Record<string, string> = {}

/** A shell runner that prints `script`'s output and ends; waits until it has. */
const runToEnd = async (name: string, script: string) => {
  const detail = await server.start({ provider: "shell", name, command: ["sh", "-c", script] })
  await waitFor(
    async () => (await server.runner(detail.id)).status === "completed",
    `runner ${name} to complete`,
  )
  ids[name] = detail.id
  return detail.id
}

const search = async (query: string) => {
  const reply = await server.get(`/api/search?${query}`)
  return { status: reply.statusCode, body: reply.json() as unknown, headers: reply.headers }
}

beforeAll(async () => {
  // 64-byte segments: every hit below crosses a segment boundary somewhere in its line.
  server = await startServer({ runner: { segmentBytes: 64 } })
  await runToEnd(
    "colours",
    "printf 'line one\\nbuild \\033[31mNee\\033[0;1mdle\\033[0m found\\n'; printf '%0100d\\n' 0; echo 'second NEEDLE here'",
  )
  await runToEnd("plain", "echo 'a quiet needle'; echo nothing else")
}, 60_000)
afterAll(() => server?.close())

describe("GET /api/search", () => {
  it("finds text split by colour codes and segments, at offsets that are the log's bytes", async () => {
    const { status, body } = await search("q=needle")
    expect(status).toBe(200)
    const result = SearchResponse.parse(body)
    expect(result.truncated).toBe(false)
    expect(result.timedOut).toBe(false)
    // Newest runner first, then by offset.
    expect(result.hits.map((h) => [h.name, h.line])).toEqual([
      ["plain", "a quiet needle"],
      ["colours", "build Needle found"],
      ["colours", "second NEEDLE here"],
    ])
    for (const hit of result.hits) {
      const log = await server.log(hit.runnerId)
      const at = log.bytes.subarray(hit.offset - log.start).toString("utf8")
      expect(at.slice(0, 3).toLowerCase(), `${hit.name}@${hit.offset}`).toBe("nee")
    }
    const [, colours] = result.hits
    const log = await server.log(colours?.runnerId ?? "")
    expect(log.bytes.indexOf("Nee") + log.start).toBe(colours?.offset)
  })

  it("searches one runner with runner=, and stops at limit with truncated", async () => {
    const one = SearchResponse.parse((await search(`q=NEEDLE&runner=${ids.colours}`)).body)
    expect(one.hits.map((h) => h.runnerId)).toEqual([ids.colours, ids.colours])
    const limited = SearchResponse.parse((await search("q=needle&limit=1")).body)
    expect(limited.hits).toHaveLength(1)
    expect(limited.truncated).toBe(true)
  })

  it("treats the query as a literal, not a pattern", async () => {
    expect(SearchResponse.parse((await search("q=n.edle")).body).hits).toEqual([])
    expect(SearchResponse.parse((await search("q=%5Eline")).body).hits).toEqual([])
  })

  it("streams NDJSON lines when asked, ending with an end line", async () => {
    const response = await fetch(`${server.origin}/api/search?q=needle`, {
      headers: { ...bearer("viewer"), accept: "application/x-ndjson" },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/x-ndjson")
    const lines = (await response.text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => SearchStreamLine.parse(JSON.parse(l)))
    expect(lines.filter((l) => l.type === "hit")).toHaveLength(3)
    expect(lines.at(-1)).toEqual({ type: "end", truncated: false, timedOut: false })
  })

  it("refuses bad input with 400 and an unknown runner with 404", async () => {
    for (const bad of [
      "",
      "q=a",
      "q=%20%20",
      `q=${"x".repeat(201)}`,
      "q=ab%00cd",
      "q=ab%1bcd",
      "q=ok&limit=0",
      "q=ok&limit=1001",
      "q=ok&limit=abc",
      "q=ok&runner=..%2Fetc",
      "q=ok&extra=1",
    ]) {
      const reply = await search(bad)
      expect(reply.status, bad).toBe(400)
    }
    expect((await search("q=needle&runner=no-such-runner")).status).toBe(404)
  })
})
