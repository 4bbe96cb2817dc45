/**
 * The sync contract the session lifecycle uses. `@org/sandbox-sync` implements it; core only names it, so
 * that core depends on nothing of ours.
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import { Context, Schema } from "effect"
import type { SandboxId, SessionId } from "./Ids.js"
import type { Profile } from "./Profile.js"
import type { ProviderError, StoreError, SyncError } from "./SandboxError.js"
import type { Instance, Service as ProviderService } from "./SandboxProvider.js"

/**
 * Why a sync runs.
 *
 * @since 0.1.0
 * @category models
 */
export const SyncReason = Schema.Literal("start", "checkpoint", "stop", "crash", "live")
/**
 * @since 0.1.0
 * @category models
 */
export type SyncReason = typeof SyncReason.Type

/**
 * @since 0.1.0
 * @category models
 */
export interface SyncRequest {
  readonly session_id: SessionId
  readonly sandbox_id: SandboxId
  /** The workspace directory on the host. */
  readonly host_root: string
  readonly instance: Instance
  readonly provider: ProviderService
  readonly profile: Profile
  /** A directory the engine owns for this session: ancestor manifest, digest cache, staging. */
  readonly state_dir: string
  readonly reason: SyncReason
  /** Allow a sync-back that would delete most of the host tree. */
  readonly force?: boolean
  /** Extra exclude patterns (from a `sandbox.sync.before` hook). */
  readonly extra_excludes?: ReadonlyArray<string>
  /**
   * Workspace-relative paths (a directory covers everything below it) whose changes from the runtime are held
   * back instead of applied: the hook scripts the workspace's config names. `.sandbox-cli.toml` (at any depth)
   * is always held.
   */
  readonly protected_paths?: ReadonlyArray<string>
  /** Apply the held changes of protected paths (the user said so): nothing is held back in this sync. */
  readonly accept_held?: boolean
  /**
   * Workspace-relative paths that changed on either side since the last sync (what watchers saw): a two-way
   * sync then reads only these paths (each with its subtree) on both sides and takes everything else as the
   * last sync left it. The engine falls back to a full three-way sync when it holds no earlier scan to build on.
   */
  readonly scope?: ReadonlyArray<string>
}

/**
 * A path both sides changed since the ancestor: the host file stays, the runtime's version is kept beside it.
 *
 * @since 0.1.0
 * @category models
 */
export const Conflict = Schema.Struct({
  path: Schema.String,
  host_change: Schema.String,
  runtime_change: Schema.String,
  /** Host path of the runtime's version (`<name>.sandbox-conflict-<session>`), if it had content. */
  runtime_copy: Schema.NullOr(Schema.String)
})
/**
 * @since 0.1.0
 * @category models
 */
export type Conflict = typeof Conflict.Type

/**
 * A change from the runtime to a protected path (host config, a hook script) that was NOT applied: the host file
 * is unchanged; the runtime's version, when it has content, is kept beside it as `copy`
 * (`<name>.sandbox-held-<session>`, relative to the workspace root). A sync with `accept_held` applies it.
 *
 * @since 0.1.0
 * @category models
 */
export const Held = Schema.Struct({
  path: Schema.String,
  runtime_change: Schema.String,
  copy: Schema.NullOr(Schema.String)
})
/**
 * @since 0.1.0
 * @category models
 */
export type Held = typeof Held.Type

/**
 * Why something in the runtime did not come home.
 *
 * @since 0.1.0
 * @category models
 */
export const LeftBehindKind = Schema.Literal(
  "name",
  "symlink",
  "unreadable",
  "special",
  "reserved",
  "changed",
  "failed",
  "conflict"
)

/**
 * Runtime content a sync did not bring home (a refused name, a symlink out of the tree, an unreadable file, a
 * FIFO, a name reserved for conflict copies, a write that failed, a conflict whose runtime side could not be
 * kept). A caller must not destroy a runtime whose sync-back left anything behind.
 *
 * @since 0.1.0
 * @category models
 */
export const LeftBehind = Schema.Struct({
  path: Schema.String,
  kind: LeftBehindKind,
  reason: Schema.String
})
/**
 * @since 0.1.0
 * @category models
 */
export type LeftBehind = typeof LeftBehind.Type

/**
 * What one sync did, in one or both directions.
 *
 * @since 0.1.0
 * @category models
 */
export const SyncResult = Schema.Struct({
  files_to_runtime: Schema.Number,
  bytes_to_runtime: Schema.Number,
  deleted_in_runtime: Schema.Number,
  files_from_runtime: Schema.Number,
  bytes_from_runtime: Schema.Number,
  deleted_on_host: Schema.Number,
  conflicts: Schema.Array(Conflict),
  /** Paths refused for safety (a symlink out of the root, an absolute or `..` path from the runtime, …). */
  refused: Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String })),
  /** Changes to protected paths (config, hook scripts) held back, not applied. */
  held: Schema.optional(Schema.Array(Held)),
  /** Runtime content not brought home: a runtime with any must not be destroyed. */
  left_behind: Schema.optional(Schema.Array(LeftBehind)),
  /** What was transferred with a loss of form (a sparse file written in full, a hard link split). */
  notices: Schema.optional(Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String }))),
  duration_ms: Schema.Number
})
/**
 * @since 0.1.0
 * @category models
 */
export type SyncResult = typeof SyncResult.Type

/**
 * The health of live sync (`sync_mode = "live"`): `watching` (changes flow), `paused` (by the user, or by the
 * mass-deletion halt: see `last_error`), `rescanning` (a full three-way sync after a watcher overflow, a lost
 * watch or a resume), `error` (the last batch failed; it is retried with a full rescan).
 *
 * @since 0.1.0
 * @category models
 */
export const LiveState = Schema.Literal("watching", "paused", "rescanning", "error")

/**
 * @since 0.1.0
 * @category models
 */
export const LiveStatus = Schema.Struct({
  state: LiveState,
  /** Paths changed on either side and not synced yet. */
  pending: Schema.Number,
  /** Age of the oldest change not synced yet (0 when none is pending). */
  lag_ms: Schema.Number,
  /** From the first change of the last batch to the end of its sync. */
  last_batch_ms: Schema.NullOr(Schema.Number),
  batches: Schema.Number,
  last_error: Schema.NullOr(Schema.String),
  /** What watches each side (`fs.watch`, `inotifywait`, `scan`). */
  host_watcher: Schema.String,
  runtime_watcher: Schema.String,
  updated_at: Schema.String
})
/**
 * @since 0.1.0
 * @category models
 */
export type LiveStatus = typeof LiveStatus.Type

/**
 * What the session gives live sync: how to run one batch (its caller serializes it with other syncs and records
 * its events), and where to report health.
 *
 * @since 0.1.0
 * @category models
 */
export interface LiveOptions {
  /** One sync: scoped to `scope` (the changed paths), or a full three-way sync when `undefined`. */
  readonly batch: (
    scope: ReadonlyArray<string> | undefined
  ) => Effect.Effect<SyncResult, SyncError | ProviderError | StoreError>
  readonly onStatus?: (status: LiveStatus) => Effect.Effect<void>
}

/**
 * A running live sync.
 *
 * @since 0.1.0
 * @category models
 */
export interface LiveHandle {
  readonly status: Effect.Effect<LiveStatus>
  readonly pause: Effect.Effect<void>
  /** Resumes with a full three-way sync (whatever changed meanwhile is caught up). */
  readonly resume: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Host → runtime at session start (modes `seed` and `session-bidirectional`). */
  readonly seed: (request: SyncRequest) => Effect.Effect<SyncResult, SyncError | ProviderError>
  /**
   * Three-way sync per the profile's mode: at a checkpoint and at stop for `session-bidirectional`
   * (both directions, conflicts kept), nothing for `seed` and `none`.
   */
  readonly sync: (request: SyncRequest) => Effect.Effect<SyncResult, SyncError | ProviderError>
  /**
   * Drops the engine's state for a session (ancestor, digest caches, leftovers under `state_dir`) once the
   * session has ended for good; the next sync with that `state_dir` starts from no ancestor.
   */
  readonly forget?: (state_dir: string) => Effect.Effect<void>
  /**
   * Live sync: watches both sides and runs a batch for each burst of changes until the scope closes (a batch in
   * flight finishes first). Never fails: trouble shows in the status and is retried.
   */
  readonly live?: (request: SyncRequest, options: LiveOptions) => Effect.Effect<LiveHandle, never, Scope.Scope>
}

/**
 * A result with nothing moved.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyResult = (duration_ms = 0): SyncResult => ({
  files_to_runtime: 0,
  bytes_to_runtime: 0,
  deleted_in_runtime: 0,
  files_from_runtime: 0,
  bytes_from_runtime: 0,
  deleted_on_host: 0,
  conflicts: [],
  refused: [],
  held: [],
  left_behind: [],
  notices: [],
  duration_ms
})

/**
 * @since 0.1.0
 * @category tags
 */
export class WorkspaceSync extends Context.Tag("@org/sandbox-core/WorkspaceSync")<WorkspaceSync, Service>() {}
