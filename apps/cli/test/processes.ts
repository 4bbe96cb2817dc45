/**
 * Whether a process the CLI started is still there, as the CLI's tests check it.
 */
import { readFileSync } from "node:fs"

/** A live process; a zombie (exited, not yet reaped by whatever adopted it) counts as gone. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return true // no /proc to ask: the signal check stands
  }
}
