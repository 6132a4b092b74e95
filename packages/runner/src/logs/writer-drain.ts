import { readdir, readFile } from "node:fs/promises"

/**
 * True when every writer process logging into `logDir` sits blocked reading an empty pipe,
 * i.e. it has written every byte tmux handed it. The exit hook can fire before the writer
 * has drained the pipe (measured: a cold `split` start takes tens of ms), so an exit is
 * stamped only after this holds. `undefined` when the kernel does not tell (no wchan).
 */
export const writersDrained = async (logDir: string): Promise<boolean | undefined> => {
  const needle = `${logDir}/out-`
  const entries = await readdir("/proc").catch(() => [] as string[])
  let verdict: boolean | undefined = true
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (pid) => {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")
        if (!cmdline.includes(needle)) return
        const argv = cmdline.split("\0")
        if (!/(^|\/)split$/.test(argv[0] ?? "")) {
          verdict = false // still the `sh -c exec split` wrapper: not reading yet
          return
        }
        const wchan = await readFile(`/proc/${pid}/wchan`, "utf8").catch(() => "")
        if (wchan === "" || wchan === "0") {
          if (verdict === true) verdict = undefined
          return
        }
        if (!/pipe_read|pipe_wait|unix_stream_read/.test(wchan)) verdict = false
      }),
  )
  return verdict
}
