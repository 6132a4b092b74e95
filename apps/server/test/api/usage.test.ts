import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RunnerUsage, UsageResponse } from "@geppetto/protocol"
import { runnerEnvironment } from "@geppetto/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer, waitFor } from "../helpers/server.js"

/*
 * GET /api/usage with a model that has no price among priced ones: a real server, real tmux
 * and a fake `claude` that writes one assistant message per `model:in:out:cacheRead:cacheWrite`
 * of its USAGE_MESSAGES into the session file the server knows by --session-id. A group keeps
 * the cost of what is priced and counts the rest in `unpricedTokens`.
 * Prices (prices.json, per million): sonnet 3 / 15 / 0.30 / 3.75, haiku-4-5 1 / 5.
 */
const AGENT = `#!/bin/sh
sid=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--session-id" ]; then sid="$2"; shift; fi
  shift
done
[ -n "$sid" ] || { echo "no --session-id"; exit 2; }
dir="$CLAUDE_CONFIG_DIR/projects/$(pwd | sed 's/[^A-Za-z0-9]/-/g')"
mkdir -p "$dir"
n=0
for m in $USAGE_MESSAGES; do
  n=$((n + 1))
  IFS=: read -r model i o cr cw <<END
$m
END
  u="\\"input_tokens\\":$i,\\"output_tokens\\":$o,\\"cache_read_input_tokens\\":$cr,\\"cache_creation_input_tokens\\":$cw"
  printf '%s\\n' "{\\"type\\":\\"assistant\\",\\"timestamp\\":\\"2025-10-01T10:00:0\${n}Z\\",\\"message\\":{\\"id\\":\\"msg_$n\\",\\"role\\":\\"assistant\\",\\"model\\":\\"$model\\",\\"content\\":[{\\"type\\":\\"text\\",\\"text\\":\\"turn $n\\"}],\\"usage\\":{$u}}}" >> "$dir/$sid.jsonl"
done
echo "usage agent: $n messages written"
while [ ! -e stop ]; do sleep 0.1; done
`

let server: TestServer
let bin: string
let claudeHome: string

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "geppetto-usage-bin-"))
  claudeHome = mkdtempSync(join(tmpdir(), "geppetto-usage-claude-"))
  writeFileSync(join(bin, "claude"), AGENT)
  chmodSync(join(bin, "claude"), 0o755)
  server = await startServer({
    runner: {
      environment: runnerEnvironment({
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        CLAUDE_CONFIG_DIR: claudeHome,
      }),
    },
    config: { accounts: { work: { provider: "claude" } } },
  })
})
afterAll(async () => {
  await server?.close()
  rmSync(bin, { recursive: true, force: true })
  rmSync(claudeHome, { recursive: true, force: true })
})

const tokens = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheWriteTokens: cacheWrite,
})

const usage = async (by: string) => {
  const reply = await server.get(`/api/usage?by=${by}`)
  expect(reply.statusCode).toBe(200)
  return UsageResponse.parse(reply.json())
}

describe("GET /api/usage with a model that has no price", () => {
  it("keeps the known cost of each group and counts the tokens without a price", async () => {
    const start = async (name: string, messages: string, accountId?: string) => {
      const cwd = mkdtempSync(join(server.dataDir, `${name}-`))
      const runner = await server.start({
        provider: "claude",
        cwd,
        name,
        env: { USAGE_MESSAGES: messages },
        ...(accountId !== undefined ? { accountId } : {}),
      })
      return { ...runner, cwd }
    }
    // 1000·3 + 200·15 + 10000·0.3 + 400·3.75 = 10500 → $0.0105.
    const priced = await start("priced", "claude-sonnet-4-5:1000:200:10000:400")
    // 2000·1 + 500·5 = 4500 → $0.0045, and 400 tokens of a model with no price.
    const mixed = await start(
      "mixed",
      "claude-haiku-4-5:2000:500:0:0 mystery-model-1:300:100:0:0",
      "work",
    )
    const unpriced = await start("unpriced", "mystery-model-1:50:25:0:0", "work")

    const expected: ReadonlyArray<[typeof priced, RunnerUsage]> = [
      [priced, { ...tokens(1000, 200, 10_000, 400), costUsd: 0.0105 }],
      [mixed, { ...tokens(2300, 600), costUsd: 0.0045, unpricedTokens: 400 }],
      [unpriced, { ...tokens(50, 25), unpricedTokens: 75 }],
    ]
    for (const [runner, want] of expected) {
      let seen: RunnerUsage | undefined
      await waitFor(
        async () => {
          seen = (await server.runner(runner.id)).usage
          return JSON.stringify(seen) === JSON.stringify(want)
        },
        () =>
          `${runner.name}'s usage ${JSON.stringify(want)}, is ${JSON.stringify(seen)}; screen: ${server.capture(runner.name)}`,
      )
    }

    const all = { ...tokens(3350, 825, 10_000, 400), costUsd: 0.015, unpricedTokens: 475 }
    const byProvider = await usage("provider")
    expect(byProvider.groups).toEqual([{ key: "claude", runners: 3, usage: all }])
    expect(byProvider.total).toEqual(all)

    const byAccount = await usage("account")
    expect(byAccount.groups).toEqual([
      { key: "", runners: 1, usage: { ...tokens(1000, 200, 10_000, 400), costUsd: 0.0105 } },
      {
        key: "work",
        runners: 2,
        usage: { ...tokens(2350, 625), costUsd: 0.0045, unpricedTokens: 475 },
      },
    ])

    const byDay = await usage("day")
    expect(byDay.groups.map((g) => g.usage)).toEqual([all])
    expect(byDay.total).toEqual(all)

    for (const r of [priced, mixed, unpriced]) writeFileSync(join(r.cwd, "stop"), "")
  })
})
