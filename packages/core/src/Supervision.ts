/**
 * Supervision: who owns a running session. The process that runs a session (the detached supervisor, or a
 * one-shot `run`) holds a lock file with its pid and a heartbeat; a lock whose pid is gone or whose heartbeat
 * is old means the session was cut off and the reconciler must finish it.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { Scope } from "effect"
import { Clock, Context, Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { StoreError } from "./SandboxError.js"

/**
 * What a lock file holds.
 *
 * @since 0.1.0
 * @category models
 */
export const SupervisorLock = Schema.Struct({
  pid: Schema.Number,
  session_id: Schema.String,
  started_at: Schema.String,
  heartbeat_at: Schema.String,
  /** The host directory of the session's workspace, for workspaces the store does not know (`run`). */
  workspace_path: Schema.optional(Schema.String)
})
/**
 * @since 0.1.0
 * @category models
 */
export type SupervisorLock = typeof SupervisorLock.Type

/**
 * A heartbeat older than this means the supervisor is gone even if its pid was reused.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEARTBEAT_STALE_MS = 30_000
/**
 * @since 0.1.0
 * @category constants
 */
export const HEARTBEAT_EVERY_MS = 5_000

/**
 * Whether a session still has a live process behind it, and if not, why.
 *
 * @since 0.1.0
 * @category models
 */
export type Liveness =
  | { readonly _tag: "Alive"; readonly lock: SupervisorLock }
  | { readonly _tag: "Gone"; readonly reason: string; readonly lock: Option.Option<SupervisorLock> }

/**
 * A lock left behind by a process that died.
 *
 * @since 0.1.0
 * @category models
 */
export interface StaleLock {
  readonly session_id: string
  readonly reason: string
  readonly lock: Option.Option<SupervisorLock>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Is a process on this host (`local`) or anywhere (heartbeat only) running the session? */
  readonly check: (session_id: string, options?: { readonly local?: boolean }) => Effect.Effect<Liveness>
  /** The cheap scan every CLI start runs: locks of this host whose process is gone. */
  readonly stale: Effect.Effect<ReadonlyArray<StaleLock>>
  /** Remove a session's lock once the session is finished (only if it is still stale). */
  readonly release: (session_id: string) => Effect.Effect<void>
  /** Hold the lock for a session this process runs, with a heartbeat, until the scope closes. */
  readonly hold: (
    session_id: string,
    options?: { readonly workspace_path?: string }
  ) => Effect.Effect<void, StoreError, Scope.Scope>
  /** Is a process with this pid running on this host? */
  readonly isAlive: (pid: number) => boolean
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Supervision extends Context.Tag("@org/sandbox-core/Supervision")<Supervision, Service>() {}

const decodeLock = Schema.decodeUnknownOption(Schema.parseJson(SupervisorLock))

/**
 * Judge a lock. On this host the pid decides: a running pid is alive even with a stale heartbeat (a supervisor
 * paused by `kill -STOP` or a laptop suspend is not dead, and taking it for dead would destroy a sandbox it
 * still uses). Elsewhere only the heartbeat can tell, and it must be fresh.
 *
 * @since 0.1.0
 * @category predicates
 */
export const judge = (
  lock: SupervisorLock,
  options: { readonly now: number; readonly isAlive: (pid: number) => boolean; readonly local: boolean }
): Liveness => {
  const age = options.now - Date.parse(lock.heartbeat_at)
  if (options.local) {
    return options.isAlive(lock.pid)
      ? { _tag: "Alive", lock }
      : { _tag: "Gone", reason: `supervisor pid ${lock.pid} is not running`, lock: Option.some(lock) }
  }
  if (!(age < HEARTBEAT_STALE_MS)) {
    return {
      _tag: "Gone",
      reason: `supervisor missed its heartbeat (last ${Math.round(age / 1000)} s ago)`,
      lock: Option.some(lock)
    }
  }
  return { _tag: "Alive", lock }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface FileOptions {
  /** Where the lock files live. */
  readonly dir: string
  /** Probe a pid on this host (the CLI uses signal 0). */
  readonly isAlive: (pid: number) => boolean
  /** This process's pid, written into the locks it holds. */
  readonly pid: number
}

/**
 * Lock files in `dir` (`<session_id>.json`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFile = (options: FileOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const lockPath = (id: string) => path.join(options.dir, `${id}.json`)
    const read = (id: string) =>
      fs.readFileString(lockPath(id)).pipe(
        Effect.map((text) => ({ present: true, lock: decodeLock(text) })),
        Effect.orElseSucceed(() => ({ present: false, lock: Option.none<SupervisorLock>() }))
      )
    const check: Service["check"] = (id, checkOptions) =>
      Effect.gen(function*() {
        const found = yield* read(id)
        if (!found.present) return { _tag: "Gone", reason: "no supervisor lock", lock: Option.none() } as const
        if (Option.isNone(found.lock)) {
          return { _tag: "Gone", reason: "unreadable supervisor lock", lock: Option.none() } as const
        }
        const now = yield* Clock.currentTimeMillis
        return judge(found.lock.value, { now, isAlive: options.isAlive, local: checkOptions?.local ?? true })
      })
    const stale = Effect.gen(function*() {
      const names = yield* fs.readDirectory(options.dir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
      const found: Array<StaleLock> = []
      for (const name of names) {
        // `<id>.json` only: temp files and logs live beside the locks
        if (!/^[A-Za-z0-9_-]+\.json$/.test(name)) continue
        const id = name.slice(0, -".json".length)
        const liveness = yield* check(id)
        // A lock that vanished between the listing and the read belongs to a session that ended cleanly.
        if (liveness._tag === "Gone" && liveness.reason !== "no supervisor lock") {
          found.push({ session_id: id, reason: liveness.reason, lock: liveness.lock })
        }
      }
      return found
    })
    const release: Service["release"] = (id) =>
      Effect.gen(function*() {
        const liveness = yield* check(id)
        if (liveness._tag === "Gone") yield* fs.remove(lockPath(id)).pipe(Effect.ignore)
      })
    const hold: Service["hold"] = (id, holdOptions) =>
      Effect.gen(function*() {
        const target = lockPath(id)
        const started_at = new Date(yield* Clock.currentTimeMillis).toISOString()
        const write = Effect.gen(function*() {
          const heartbeat_at = new Date(yield* Clock.currentTimeMillis).toISOString()
          const lock: SupervisorLock = {
            pid: options.pid,
            session_id: id,
            started_at,
            heartbeat_at,
            ...(holdOptions?.workspace_path !== undefined ? { workspace_path: holdOptions.workspace_path } : {})
          }
          const temp = `${target}.${options.pid}.tmp`
          yield* fs.writeFileString(temp, JSON.stringify(lock))
          yield* fs.rename(temp, target)
        })
        yield* fs.makeDirectory(options.dir, { recursive: true }).pipe(
          Effect.zipRight(write),
          Effect.mapError((e) => new StoreError({ operation: "lock", path: target, reason: "Io", detail: e.message }))
        )
        yield* Effect.addFinalizer(() => fs.remove(target).pipe(Effect.ignore))
        // The lock was just written: the first heartbeat is one period away.
        yield* write.pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced(Duration.millis(HEARTBEAT_EVERY_MS))),
          Effect.delay(Duration.millis(HEARTBEAT_EVERY_MS)),
          Effect.forkScoped
        )
      })
    return { check, stale, release, hold, isAlive: options.isAlive } satisfies Service
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layerFile = (
  options: FileOptions
): Layer.Layer<Supervision, never, FileSystem.FileSystem | Path.Path> => Layer.effect(Supervision, makeFile(options))

/**
 * For tests: every session's liveness is what `liveness` says (default: gone, no lock).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  liveness: (session_id: string) => Liveness = () => ({
    _tag: "Gone",
    reason: "no supervisor lock",
    lock: Option.none()
  })
): Layer.Layer<Supervision> =>
  Layer.succeed(Supervision, {
    check: (id) => Effect.sync(() => liveness(id)),
    stale: Effect.succeed([]),
    release: () => Effect.void,
    hold: () => Effect.void,
    isAlive: () => false
  })
