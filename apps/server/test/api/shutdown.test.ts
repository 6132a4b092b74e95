import { RunnerSummary } from "@geppetto/protocol"
import { describe, expect, it, onTestFinished } from "vitest"
import { z } from "zod"
import { bearer } from "../helpers/auth.js"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { upgrade, WsClient } from "../helpers/ws.js"

describe("graceful shutdown", () => {
  it("closes every socket with 1001 and leaves the runner alive in tmux for the next server", async () => {
    const first = await startServer()
    let second: TestServer | undefined
    onTestFinished(async () => {
      await second?.stop()
      await first.close()
    })
    const detail = await first.start({ provider: "shell", command: ["sh"] })

    const events = await WsClient.open(`${first.wsOrigin}/api/events`, bearer("viewer"))
    const viewer = await WsClient.open(
      `${first.wsOrigin}/api/runners/${detail.id}/terminal`,
      bearer("viewer"),
    )
    const operator = await WsClient.open(
      `${first.wsOrigin}/api/runners/${detail.id}/terminal`,
      bearer("operator"),
    )
    await events.nextJson((m) => m.type === "runners", "the board")
    await viewer.nextJson((m) => m.type === "snapshot", "a snapshot")
    await operator.nextJson((m) => m.type === "snapshot", "a snapshot")
    // One viewer has stopped reading, with output piled up behind it: shutdown must not wait
    // for it to read its way to the close frame.
    viewer.pauseReading()
    operator.send({
      type: "input",
      data: 'i=0; while [ $i -lt 20000 ]; do echo "pile $i"; i=$((i+1)); done\r',
    })
    await waitFor(
      () => /^pile 19999$/m.test(first.capture(`=${detail.name}:`)),
      "the pile of output",
    )

    await first.stop()
    expect(await events.waitClosed()).toBe(1001)
    expect(await operator.waitClosed()).toBe(1001)
    viewer.resumeReading()
    expect(await viewer.waitClosed()).toBe(1001)

    // The runner did not notice: its session is there and its shell still answers.
    expect(first.tmux(["has-session", "-t", `=${detail.name}`]).code).toBe(0)
    first.tmux(["send-keys", "-t", `=${detail.name}:`, "echo still-alive-$((3+4))", "Enter"])
    await waitFor(() => /still-alive-7/.test(first.capture(`=${detail.name}:`)), "the shell")

    // A new server on the same tmux and data dir finds it running, and can drive it.
    second = await startServer({ reuse: { dataDir: first.dataDir, socket: first.socket } })
    const list = z.array(RunnerSummary).parse((await second.get("/api/runners")).json())
    expect(list.find((r) => r.id === detail.id)).toMatchObject({ status: "running" })
    await second.post(`/api/runners/${detail.id}/input`, { data: "echo second-$((2*3))\r" })
    await waitFor(() => /second-6/.test(second.capture(`=${detail.name}:`)), "the echo")
    const log = await second.log(detail.id)
    expect(log.bytes.toString("utf8")).toContain("still-alive-7")
  })

  it("hangs up every refused upgrade, so none can hold the server open", async () => {
    const server = await startServer()
    onTestFinished(() => server.close())
    const detail = await server.start({ provider: "shell", command: ["sh"] })
    const refused: ReadonlyArray<readonly [string, Record<string, string>, number]> = [
      ["/api/runners/%zz/terminal", bearer("viewer"), 400],
      [`/api/runners/${"a".repeat(101)}/terminal`, bearer("viewer"), 400],
      ["/api/events?what=1", bearer("viewer"), 400],
      ["/api/runners/run-nope/terminal", bearer("viewer"), 404],
      [`/api/runners/${detail.id}/terminal?pane=%25999`, bearer("viewer"), 404],
      ["/api/nothing", bearer("viewer"), 404],
      ["/api/events", {}, 401],
      ["/api/events", { ...bearer("operator"), origin: "http://evil.example" }, 403],
    ]
    for (const [path, headers, status] of refused) {
      const result = await upgrade(`${server.wsOrigin}${path}`, headers)
      expect(result.opened, path).toBe(false)
      if (result.opened) continue
      expect(result.status, path).toBe(status)
      // The client never hangs up: only the server closing the connection ends this wait.
      await result.hungUp
    }
  })
})
