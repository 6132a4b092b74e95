import { TranscriptResponse } from "@geppetto/protocol"
import { type TestServer, waitFor } from "./server.js"

/**
 * What the tests' fake agents tell of a run (fixtures/argv-agent.sh, codex-agent.sh,
 * gemini-qwen-agent.sh): the argv they print between markers, and the transcript the server
 * reads from the session file they write.
 */

/** The argv the fake agent printed, one `arg:` line each, once its runner has ended. */
export const printedArgv = async (server: TestServer, id: string): Promise<string[]> => {
  await waitFor(async () => (await server.runner(id)).status !== "running", `runner ${id} to end`)
  const text = (await server.log(id)).bytes.toString("utf8").replace(/\r/g, "")
  const block = /ARGV-BEGIN\n([\s\S]*?)ARGV-END/.exec(text)?.[1] ?? ""
  return block
    .split("\n")
    .filter((l) => l.startsWith("arg:"))
    .map((l) => l.slice(4))
}

/** A runner's transcript once the server has matched its agent's session file. */
export const transcriptOf = (
  server: TestServer,
  id: string,
  what: string | (() => string) = `the transcript of ${id}`,
) =>
  waitFor(async () => {
    const reply = await server.get(`/api/runners/${id}/transcript`)
    return reply.statusCode === 200 ? TranscriptResponse.parse(reply.json()) : undefined
  }, what)
