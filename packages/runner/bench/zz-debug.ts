import { readdirSync, readFileSync, existsSync } from "node:fs"
import { Effect, Stream } from "effect"
import { ProcessId } from "../src/index.js"
import { benchRunner, tmuxSync } from "./env.js"

import { execSync } from "node:child_process"
const require_ps = () => execSync("ps -eo pid,ppid,stat,wchan:20,cmd --forest | grep -v grep | grep -B2 -A3 -E 'tmux|split|sleep|yes|head'", {encoding: "utf8"})
const GEN = `yes abcdefghij | head -n ${Number(process.argv[2] ?? 400000)}`
const prog = Effect.scoped(Effect.gen(function* () {
  const env = yield* benchRunner("dbg")
  for (let i = 0; i < 10; i++) {
    const id = ProcessId(`dbg-${i}`)
    yield* Effect.scoped(Effect.gen(function* () {
      const t0 = performance.now()
      const h = yield* env.monitor.spawn("sh", ["-c", GEN], { processId: id })
      const n = yield* h.output(0).pipe(Stream.runFoldWhile(0, (n) => n < 4_800_000 * 0 + Number(process.argv[2] ?? 400000) * 12, (n, c) => n + c.bytes.length))
      console.log(i, "tail done", n, performance.now() - t0)
      const r = yield* Effect.either(Effect.timeout(h.awaitExit, "5 seconds"))
      const dir = env.logs.processDir(id)
      console.log(i, r._tag, performance.now() - t0, readdirSync(dir), existsSync(`${dir}/exit`) ? readFileSync(`${dir}/exit`, "utf8") : "")
      console.log(tmuxSync(env.socket, ["list-panes", "-a", "-F", "#{session_name} #{pane_id} #{pane_dead} #{pane_dead_status} #{pane_pipe}"]).stdout)
      if (r._tag === "Left") { console.log(require_ps()); console.log(tmuxSync(env.socket, ["display", "-p", "-t", h.sessionInfo?.paneId ?? "", "#{pane_pid} #{pane_pipe} #{pane_dead_time}"]).stdout) }
      console.log(tmuxSync(env.socket, ["show-hooks", "-p", "-t", h.sessionInfo?.paneId ?? ""]).stdout)
      yield* h.terminate
    }))
  }
}))
Effect.runPromise(prog).then(() => console.log("ok"), (e) => console.error("fail", e))
