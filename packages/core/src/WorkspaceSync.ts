/**
 * The sync contract the session lifecycle uses. `@org/sandbox-sync` implements it; core only names it, so
 * that core depends on nothing of ours.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { SandboxId, SessionId } from "./Ids.js"
import type { Profile } from "./Profile.js"
import type { ProviderError, SyncError } from "./SandboxError.js"
import type { Instance, Service as ProviderService } from "./SandboxProvider.js"

/**
 * Why a sync runs.
 *
 * @since 0.1.0
 * @category models
 */
export const SyncReason = Schema.Literal("start", "checkpoint", "stop", "crash")
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
  duration_ms: Schema.Number
})
/**
 * @since 0.1.0
 * @category models
 */
export type SyncResult = typeof SyncResult.Type

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
  duration_ms
})

/**
 * @since 0.1.0
 * @category tags
 */
export class WorkspaceSync extends Context.Tag("@org/sandbox-core/WorkspaceSync")<WorkspaceSync, Service>() {}
