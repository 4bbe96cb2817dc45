/**
 * Host-side agents (`agent_location = "host"`) outlive a supervisor that crashes: the agent runs in a process
 * group of its own, which nothing else kills. The supervisor records the group while the agent runs; whoever
 * finds the supervisor gone (`reconcile`, or the check before `session`/`run`/`sandbox` commands) kills it.
 *
 * The record is a file per session under `<state>/agents/`, holding the group id, the supervisor's pid and the
 * group leader's start time (so a reused pid is never killed).
 */
import * as Locations from "@org/sandbox-core/Locations"
import { Effect, Schema } from "effect"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const AgentRecord = Schema.Struct({
  session_id: Schema.String,
  agent: Schema.String,
  pgid: Schema.Number,
  supervisor_pid: Schema.Number,
  /** Field 22 of the leader's /proc/<pid>/stat: its start time since boot, in clock ticks. */
  leader_start: Schema.NullOr(Schema.String)
})
type AgentRecord = typeof AgentRecord.Type
const decode = Schema.decodeUnknownOption(Schema.parseJson(AgentRecord))

const dirOf = Effect.map(Locations.stateDir, (root) => join(root, "agents"))

/** Fields 3 on of /proc/<pid>/stat (state first), or `null` when the process is gone or this is not Linux. */
const stat = (pid: number): Array<string> | null => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return text.slice(text.lastIndexOf(")") + 2).split(" ")
  } catch {
    return null
  }
}

/** A process's start time, or `null` when it is gone. */
const startTime = (pid: number): string | null => stat(pid)?.[19] ?? null

/** Whether a process runs; a zombie (a dead supervisor nobody reaped yet) does not. */
const alive = (pid: number): boolean => {
  const fields = stat(pid)
  if (fields !== null) return fields[0] !== "Z"
  try {
    process.kill(pid, 0)
    return existsSync("/proc/self") ? false : true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Record a host-side agent's process group for as long as the scope lives.
 *
 * @since 0.1.0
 * @category supervision
 */
export const record = (sessionId: string, agent: string, pgid: number) =>
  Effect.gen(function*() {
    const dir = yield* dirOf
    const file = join(dir, `${sessionId}.json`)
    const entry: AgentRecord = {
      session_id: sessionId,
      agent,
      pgid,
      supervisor_pid: process.pid,
      leader_start: startTime(pgid)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        mkdirSync(dir, { recursive: true })
        writeFileSync(`${file}.tmp`, JSON.stringify(entry))
        renameSync(`${file}.tmp`, file)
      }),
      () => Effect.sync(() => rmSync(file, { force: true }))
    )
  }).pipe(Effect.orElse(() => Effect.void))

/**
 * Kill the process groups of host-side agents whose supervisor is gone, and forget their records. Returns the
 * sessions whose agent was killed. One directory read when there are none; never fails.
 *
 * @since 0.1.0
 * @category supervision
 */
export const reapOrphans: Effect.Effect<ReadonlyArray<string>> = Effect.gen(function*() {
  const dir = yield* dirOf
  if (!existsSync(dir)) return []
  const reaped: Array<string> = []
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".json"))) {
    const file = join(dir, name)
    const found = decode(readFileSync(file, "utf8"))
    if (found._tag === "None") {
      rmSync(file, { force: true })
      continue
    }
    const entry = found.value
    if (alive(entry.supervisor_pid)) continue
    // A leader with another start time is a reused pid: while any member of the agent's group lived, its id could
    // not have been reused, so the group is gone. A missing leader may still leave members behind: kill the group.
    const start = startTime(entry.pgid)
    if (start === null || entry.leader_start === null || start === entry.leader_start) {
      try {
        process.kill(-entry.pgid, "SIGKILL")
        reaped.push(entry.session_id)
      } catch {
        // ESRCH: nothing left of it.
      }
    }
    rmSync(file, { force: true })
  }
  return reaped
}).pipe(Effect.orElseSucceed(() => []))
