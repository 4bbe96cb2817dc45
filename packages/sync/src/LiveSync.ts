/**
 * Live sync's loop (`sync_mode = "live"`): a watcher on each side feeds one set of changed paths; after a burst
 * goes quiet (or has waited long enough, or grown too big) the set becomes one batch, a scoped three-way sync run
 * by the caller (`LiveOptions.batch`), which serializes it with other syncs and records its events.
 *
 * - The first batch is a full three-way sync: whatever changed between the seed and the watchers' start (setup
 *   commands, say) is caught up.
 * - The engine's own writes come back as watcher events; the batch that reads them finds both sides equal to
 *   the ancestor and moves nothing, so nothing ping-pongs.
 * - A watcher overflow or failure, a batch too big to scope, or a resume makes the next batch a full rescan
 *   (`rescanning`); a failed batch is retried as a full rescan after a backoff (`error`).
 * - The mass-deletion halt pauses live sync (`paused`, with the halt in `last_error`) until `resume`.
 *
 * @since 0.1.0
 */
import type { LiveHandle, LiveOptions, LiveStatus } from "@org/sandbox-core/WorkspaceSync"
import { Cause, Effect, Option, Queue } from "effect"
import type { Scope } from "effect"
import type { Filter } from "./Filter.js"
import { watchTree } from "./internal/watchTree.js"

/**
 * What a watcher reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface WatchHandlers {
  /**
   * Paths (relative to the watched root) that changed, each to be read again with its subtree; with `keys`, the
   * stat of each as the watcher read it after the change (`RuntimeWatch`'s python watcher: `f <size> <mtime_ns>
   * <ino> <mode>`, `d`, `l`, `o`, or `-` for gone), `undefined` where it cannot tell.
   */
  readonly paths: (paths: ReadonlyArray<string>, keys?: ReadonlyArray<string | undefined>) => void
  /** The watcher lost track (overflow, a lost watch or connection): the next batch rescans in full. */
  readonly overflow: (why: string) => void
}

/**
 * A watcher of one side: started in a scope, stopped when it closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watch {
  /** What watches (`fs.watch`, `inotifywait`, `scan`), for the status. */
  readonly name: string
  readonly start: (handlers: WatchHandlers) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends LiveOptions {
  readonly host: Watch
  readonly runtime: Watch
  /** Quiet time that ends a burst (default 50 ms). */
  readonly debounceMs?: number
  /** The longest a change waits for its burst to end (default 500 ms). */
  readonly maxWaitMs?: number
  /** More changed paths than this make the batch a full rescan (default 5,000). */
  readonly maxPaths?: number
  /**
   * Whether a watcher's event needs no batch, asked when the burst ends (after the batch before it finished): a
   * path no batch reads, say. A path is dropped when every event of it is quiet. (The echo of a batch's own writes
   * is not quiet: a batch that left a path unsettled relies on the batch it starts to read that path again.)
   */
  readonly quiet?: (side: "host" | "runtime", path: string, key: string | undefined) => boolean
}

/**
 * A directory tree on this host (the workspace, a runtime that is a host directory), watched with one `fs.watch`
 * per directory that the filter does not exclude (see `internal/watchTree.ts` for why not Node's recursive mode).
 *
 * @since 0.1.0
 * @category constructors
 */
export const treeWatch = (root: string, filter: Filter): Watch => ({
  name: "fs.watch",
  start: (handlers) =>
    Effect.asVoid(
      Effect.acquireRelease(Effect.sync(() => watchTree(root, filter, handlers)), (w) => Effect.sync(() => w.close()))
    )
})

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000]

/**
 * Starts live sync in the current scope; closing the scope stops the watchers and the loop (a batch in flight
 * finishes first: the caller makes it uninterruptible).
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (options: Options): Effect.Effect<LiveHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    const debounce = options.debounceMs ?? 50
    const maxWait = options.maxWaitMs ?? 500
    const maxPaths = options.maxPaths ?? 5000
    // per path: which sides reported it, and the runtime's last stat of it ("?" once an event came without one)
    const pending = new Map<string, { host: boolean; runtime: string | undefined }>()
    let oldest: number | undefined
    let lastEventAt = 0
    // the first batch catches up with whatever changed before the watchers started
    let full = true
    let paused = false
    let state: LiveStatus["state"] = "rescanning"
    let lastError: string | null = null
    let lastBatchMs: number | null = null
    let batches = 0
    let failures = 0
    let retryAt = 0
    const wake = yield* Queue.sliding<void>(1)

    const changed = (now: number) => {
      oldest ??= now
      lastEventAt = now
      Queue.unsafeOffer(wake, undefined)
    }
    const handlersOf = (side: "host" | "runtime"): WatchHandlers => ({
      paths: (paths, keys) => {
        if (full) return changed(Date.now())
        paths.forEach((p, i) => {
          const before = pending.get(p)
          const entry = before ?? { host: false, runtime: undefined }
          if (side === "host") entry.host = true
          // the last stat wins: it is what the path is now
          else entry.runtime = keys?.[i] ?? "?"
          if (before === undefined) pending.set(p, entry)
        })
        if (pending.size > maxPaths) {
          full = true
          pending.clear()
        }
        changed(Date.now())
      },
      overflow: () => {
        full = true
        pending.clear()
        changed(Date.now())
      }
    })

    // drops the paths whose every event is quiet (see `Options.quiet`)
    const dropQuiet = () => {
      const quiet = options.quiet
      if (quiet === undefined) return
      for (const [p, e] of pending) {
        if (
          (!e.host || quiet("host", p, undefined)) &&
          (e.runtime === undefined || quiet("runtime", p, e.runtime === "?" ? undefined : e.runtime))
        ) pending.delete(p)
      }
    }

    const status = (): LiveStatus => ({
      state,
      pending: full && oldest !== undefined ? Math.max(pending.size, 1) : pending.size,
      lag_ms: oldest === undefined ? 0 : Date.now() - oldest,
      last_batch_ms: lastBatchMs,
      batches,
      last_error: lastError,
      host_watcher: options.host.name,
      runtime_watcher: options.runtime.name,
      updated_at: new Date().toISOString()
    })
    // what the last published status showed as pending: a reader ages its lag until the next one
    let shownPending = 0
    const publish = Effect.suspend(() => {
      const now = status()
      shownPending = now.pending
      return options.onStatus !== undefined ? options.onStatus(now) : Effect.void
    })

    const step = Effect.gen(function*() {
      yield* Queue.take(wake)
      // held back, but what waits is still shown: `session status` reads what was last published
      if (paused) return yield* publish
      // a burst ends after `debounce` of quiet, or when its first change has waited `maxWait`
      for (;;) {
        const now = Date.now()
        const quiet = now - lastEventAt
        const wait = Math.max(debounce - quiet, retryAt - now)
        if (wait <= 0 || (now - (oldest ?? now) >= maxWait && retryAt <= now)) break
        yield* Effect.sleep(Math.min(wait, Math.max(1, maxWait - (now - (oldest ?? now)))))
      }
      if (!full) dropQuiet()
      if (!full && pending.size === 0) {
        oldest = undefined
        // none of it needs a batch: show it gone, or it would look pending for ever
        if (shownPending > 0) yield* publish
        return
      }
      if (paused) return
      const scope = full ? undefined : [...pending.keys()]
      const first = oldest ?? Date.now()
      pending.clear()
      oldest = undefined
      full = false
      if (scope === undefined) state = "rescanning"
      yield* publish
      const exit = yield* Effect.exit(options.batch(scope))
      if (exit._tag === "Success") {
        batches++
        failures = 0
        retryAt = 0
        lastBatchMs = Date.now() - first
        if (!paused) state = "watching"
      } else {
        const error = Cause.failureOption(exit.cause)
        const message = Option.match(error, { onNone: () => Cause.pretty(exit.cause), onSome: (e) => e.message })
        lastError = message
        const reason = Option.isSome(error) && error.value._tag === "SyncError" ? error.value.reason : undefined
        if (reason === "MassDeletion") {
          paused = true
          state = "paused"
        } else if (reason === "Changed") {
          // a side changed under the batch (a directory replaced as it was written): read both again now
          state = "rescanning"
          full = true
          oldest ??= first
        } else {
          // retried as a full rescan: whatever the failed batch left half done is read again
          state = "error"
          full = true
          retryAt = Date.now() + BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!
          failures++
          oldest ??= first
        }
      }
      yield* publish
      if (!paused && (full || pending.size > 0)) Queue.unsafeOffer(wake, undefined)
    })

    yield* options.host.start(handlersOf("host"))
    yield* options.runtime.start(handlersOf("runtime"))
    Queue.unsafeOffer(wake, undefined)
    yield* Effect.forkScoped(Effect.forever(step))
    yield* publish

    const handle: LiveHandle = {
      status: Effect.sync(status),
      pause: Effect.suspend(() => {
        paused = true
        state = "paused"
        return publish
      }),
      resume: Effect.suspend(() => {
        if (!paused) return Effect.void
        paused = false
        full = true
        state = "rescanning"
        lastError = null
        changed(Date.now())
        return publish
      })
    }
    return handle
  })
