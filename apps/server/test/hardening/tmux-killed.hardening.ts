import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"
import { record } from "./tally.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

describe("tmux server killed under the runners", () => {
  it("runners end failed, the server stays up, new runners work once tmux is back", async () => {
    const runners = await Promise.all(
      [0, 1].map(() =>
        server.start({
          provider: "shell",
          command: ["sh", "-c", "while :; do echo x; sleep 0.2; done"],
        }),
      ),
    )
    expect(server.tmux(["kill-server"]).code).toBe(0)
    for (const runner of runners) {
      let last = ""
      const detail = await waitFor(
        async () => {
          const d = await server.runner(runner.id)
          last = `${d.status} ${d.failureReason ?? ""}`
          return d.status === "failed" ? d : undefined
        },
        () => `runner ${runner.id} to fail (now ${last})`,
      )
      // Today the reason is the pane's signal ("killed by SIGHUP"): naming tmux is not done yet
      // (docs/SECURITY.md, "Not yet covered"). The status is what this test holds.
      expect(detail.failureReason ?? "").not.toBe("")
    }
    expect((await server.get("/api/health", "none")).statusCode).toBe(200)
    // The control client starts a fresh tmux server on demand.
    const next = await server.start({ provider: "shell", command: ["sh", "-c", "echo back-again"] })
    await waitFor(
      async () => (await server.log(next.id)).bytes.toString().includes("back-again"),
      "the new runner's output",
    )
    record({ faults: 1 })
  })
})
