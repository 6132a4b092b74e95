import { readFile } from "node:fs/promises"
import { procCommandLine, procStatFields, scanProcesses } from "../monitor/proc-scan.js"

interface WriterProcess {
  readonly pid: string
  readonly ppid: string
  /** `split` itself; otherwise the `sh -c` that tmux's `pipe-pane` runs it from. */
  readonly split: boolean
}

/** Whether process `pid` still runs with `needle` in its argv. */
const stillWriting = (pid: string, needle: string): boolean => {
  try {
    return procCommandLine(pid).includes(needle)
  } catch {
    return false
  }
}

/**
 * The writers last found per folder. Checking that they still run is one read each; a scan of
 * all of /proc is one read per process on the machine (with 100 runners, 400 reads: tens of
 * milliseconds, paid by every snapshot of a busy pane). A writer restart ends the old writer
 * (`pipe-pane` closes its pipe), so a missing one sends us back to the scan.
 */
const known = new Map<string, ReadonlyArray<WriterProcess>>()
const KNOWN_LIMIT = 4096

/** The writer processes of `logDir`: every process whose argv names its segment files. */
const writerProcesses = async (logDir: string): Promise<ReadonlyArray<WriterProcess>> => {
  const needle = `${logDir}/out-`
  const cached = known.get(logDir)
  if (cached !== undefined && cached.length > 0) {
    if (cached.every((p) => stillWriting(p.pid, needle))) return cached
  }
  const found = await scanWriters(needle)
  if (known.size >= KNOWN_LIMIT) known.clear()
  // Only a settled set is kept: a `split` for every `sh -c` (one caught starting up would
  // otherwise keep saying "not drained" after its `split` started).
  const settled = found.every((p) => p.split || found.some((c) => c.split && c.ppid === p.pid))
  if (found.length > 0 && settled) known.set(logDir, found)
  else known.delete(logDir)
  return found
}

const scanWriters = async (needle: string): Promise<ReadonlyArray<WriterProcess>> => {
  const found: WriterProcess[] = []
  await scanProcesses((pid) => {
    const cmdline = procCommandLine(pid)
    if (!cmdline.includes(needle)) return
    const ppid = procStatFields(pid)[1] ?? ""
    found.push({ pid, ppid, split: /(^|\/)split$/.test(cmdline.split("\0")[0] ?? "") })
  })
  return found
}

/**
 * True when every writer process logging into `logDir` sits blocked reading an empty pipe,
 * i.e. it has written every byte tmux handed it. The exit hook can fire before the writer
 * has drained the pipe (measured: a cold `split` start takes tens of ms), so an exit is
 * stamped only after this holds. `undefined` when the kernel does not tell (no wchan).
 */
export const writersDrained = async (logDir: string): Promise<boolean | undefined> => {
  const processes = await writerProcesses(logDir)
  let verdict: boolean | undefined = true
  await Promise.all(
    processes.map(async (p) => {
      if (!p.split) {
        // The `sh -c` wrapper: with no `split` child it has not started one yet (or older
        // writers: not yet `exec`ed it), or is leaving its exit marker.
        if (!processes.some((child) => child.split && child.ppid === p.pid)) verdict = false
        return
      }
      const wchan = await readFile(`/proc/${p.pid}/wchan`, "utf8").catch(() => "")
      if (wchan === "" || wchan === "0") {
        if (verdict === true) verdict = undefined
        return
      }
      if (!/pipe_read|pipe_wait|unix_stream_read/.test(wchan)) verdict = false
    }),
  )
  return verdict
}

/** How many `split` writers log into `logDir` now (0 once the pane's writer died). */
export const liveWriters = async (logDir: string): Promise<number> =>
  (await writerProcesses(logDir)).filter((p) => p.split).length
