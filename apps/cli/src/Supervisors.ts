/**
 * A session as another process finds it: its record, its supervisor's lock and liveness, its control paths.
 * Kept apart from `Sessions` (config, profiles, providers) so that asking a supervisor (`session sync`) loads
 * only this.
 */
import * as Path from "@effect/platform/Path"
import * as Locations from "@org/sandbox-core/Locations"
import { UsageError } from "@org/sandbox-core/SandboxError"
import type { Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import * as Supervision from "@org/sandbox-core/Supervision"
import { Effect, Layer, Option } from "effect"
import { readFileSync } from "node:fs"
import * as SmallFileSystem from "./SmallFileSystem.js"

export const sessionById = (id: string) =>
  Effect.flatMap(Store.Store, (store) =>
    store.getSession(id).pipe(
      Effect.mapError((e) =>
        e.reason === "NotFound" ? new UsageError({ detail: `no session "${id}" (see: sandbox-cli session list)` }) : e
      )
    ))

// The lock format and its judgement live in core (`Supervision`), shared with the reconciler.
export const SupervisorLock = Supervision.SupervisorLock
export type SupervisorLock = Supervision.SupervisorLock
export const HEARTBEAT_STALE_MS = Supervision.HEARTBEAT_STALE_MS
export const HEARTBEAT_EVERY_MS = Supervision.HEARTBEAT_EVERY_MS

export const supervisorPaths = (sessionId: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const root = yield* Locations.stateDir
    return {
      lock: path.join(root, "supervisors", `${sessionId}.json`),
      log: path.join(root, "supervisors", `${sessionId}.log`),
      control: path.join(root, "control", sessionId),
      /** Live sync's health (`sync_mode = "live"`), written by the supervisor whenever it changes. */
      live: path.join(root, "supervisors", `${sessionId}.live.json`),
      /** The progress of the supervisor's work: its events, one JSON line each (see Progress.ts). */
      progress: path.join(root, "supervisors", `${sessionId}.progress.ndjson`),
      syncState: (sandboxId: string) => path.join(root, "sync", sandboxId)
    }
  })

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
  // A killed process stays a zombie until its parent (for a detached supervisor: init) reaps it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}

/** Supervisor locks of this state directory: read by every command, held by `run` and the supervisor. */
export const supervisionLayer = Layer.unwrapEffect(
  Effect.gen(function*() {
    const path = yield* Path.Path
    const root = yield* Locations.stateDir
    return Supervision.layerFile({ dir: path.join(root, "supervisors"), isAlive, pid: process.pid })
  })
).pipe(Layer.provide(SmallFileSystem.layer))

/** The supervisor of a session if it is alive (pid running and heartbeat fresh). */
export const liveSupervisor = (sessionId: string) =>
  Effect.flatMap(Supervision.Supervision, (supervision) => supervision.check(sessionId)).pipe(
    Effect.map((liveness) => (liveness._tag === "Alive" ? Option.some(liveness.lock) : Option.none<SupervisorLock>())),
    Effect.provide(supervisionLayer)
  )

export const notRunning = (session: Session) =>
  new UsageError({
    detail: session.state === "stopped" || session.state === "failed" || session.state === "crashed"
      ? `session ${session.id} has ended (${session.state})`
      : `session ${session.id} has no live supervisor (state ${session.state}); run: sandbox-cli reconcile`
  })
