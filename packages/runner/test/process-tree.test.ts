import { spawn } from "node:child_process"
import { afterEach, describe, expect, it } from "vitest"
import {
  childPids,
  childrenInTable,
  descendantPids,
  readProcTable,
  walkDescendants,
} from "../src/monitor/process-tree.js"

/** The descendants of `root` the slow way: parent links over the whole process table. */
const fromTable = async (root: number): Promise<ReadonlyArray<number>> =>
  walkDescendants(root, childrenInTable(await readProcTable()))

const trees: number[] = []
afterEach(() => {
  for (const pgid of trees.splice(0)) {
    try {
      process.kill(-pgid, "SIGKILL")
    } catch {
      // gone
    }
  }
})

describe("process tree from /proc", () => {
  it("finds the same children and grandchildren as the whole process table, and none once gone", async () => {
    // A shell with two children, one of which has a child of its own. The inner shell speaks
    // once it has forked its sleep, after the outer sleep was forked: the tree is whole then.
    const root = spawn("sh", ["-c", "sleep 30 & sh -c 'sleep 30 & echo ready; wait' & wait"], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
    })
    const pid = root.pid ?? 0
    trees.push(pid)
    await new Promise((resolve) => root.stdout.once("data", resolve))
    const expected = await fromTable(pid)
    expect(expected.length).toBe(3)
    expect([...(await descendantPids(pid))].sort()).toEqual([...expected].sort())
    const direct = childrenInTable(await readProcTable())(pid)
    expect([...(await childPids(pid))].sort()).toEqual([...direct].sort())

    process.kill(-pid, "SIGKILL")
    await new Promise((resolve) => root.once("exit", resolve))
    expect(await descendantPids(pid)).toEqual([])
    expect(await childPids(pid)).toEqual([])
  })
})
