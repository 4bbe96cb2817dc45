/**
 * Process groups recorded on disk, so that a sandbox's commands can be killed by a process that did not start
 * them: after the supervisor that ran a session was killed, `destroy`, `stop` and `archive` from the
 * reconciler still find and kill what it left running.
 *
 * One file per group, `<state>/processes/<sandbox id>/<pgid>`, holding the leader's start time (field 22
 * of `/proc/<pid>/stat`), so a reused pid is never taken for ours. Where `/proc` is missing the start time is
 * unknown and a group is killed if its leader still exists.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const UNKNOWN = "unknown"

/** The start time of a process as the kernel records it, `unknown` without /proc, `undefined` if it is gone. */
export const startTime = (pid: number): string | undefined => {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch (cause) {
    const code = (cause as { code?: string }).code
    if (code === "ENOENT" || code === "ESRCH") {
      try {
        readdirSync("/proc/self")
        return undefined // /proc works: the process is gone
      } catch {
        return exists(pid) ? UNKNOWN : undefined
      }
    }
    return exists(pid) ? UNKNOWN : undefined
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return fields[19]
}

const exists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (cause) {
    return (cause as { code?: string }).code === "EPERM"
  }
}

const dirOf = (processesDir: string, id: string) => join(processesDir, id)

/** Record a running group; returns the function that forgets it once the group is done. */
export const record = (processesDir: string, id: string, pgid: number): () => void => {
  const dir = dirOf(processesDir, id)
  const file = join(dir, String(pgid))
  try {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, startTime(pgid) ?? UNKNOWN)
  } catch {
    // Best effort: the in-process handle still kills it; only a crash would leave it unrecorded.
  }
  return () => rmSync(file, { force: true })
}

/** Kill every recorded group of a sandbox that is still the process we started, and forget them all. */
export const killRecorded = (processesDir: string, id: string): number => {
  const dir = dirOf(processesDir, id)
  let names: Array<string>
  try {
    names = readdirSync(dir)
  } catch {
    return 0
  }
  let killed = 0
  for (const name of names) {
    const pgid = Number(name)
    if (Number.isInteger(pgid) && pgid > 1) {
      let recorded: string | undefined
      try {
        recorded = readFileSync(join(dir, name), "utf8")
      } catch {
        recorded = undefined
      }
      const now = startTime(pgid)
      if (now !== undefined && (now === recorded || now === UNKNOWN || recorded === UNKNOWN)) {
        try {
          process.kill(-pgid, "SIGKILL")
          killed++
        } catch {
          // already gone
        }
      }
    }
    rmSync(join(dir, name), { force: true })
  }
  rmSync(dir, { recursive: true, force: true })
  return killed
}
