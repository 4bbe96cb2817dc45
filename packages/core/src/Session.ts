/**
 * Sessions and the sandbox record each one owns.
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import { SandboxId, SessionId } from "./Ids.js"

/**
 * @since 0.1.0
 * @category models
 */
export const SessionState = Schema.Literal(
  "preparing",
  "syncing",
  "launching",
  "running",
  "stopping",
  "stopped",
  "failed",
  "crashed"
)
/**
 * @since 0.1.0
 * @category models
 */
export type SessionState = typeof SessionState.Type

/**
 * The session state machine: the states each state may move to. Every state change goes through it; a final
 * state (`stopped`, `failed`, `crashed`) moves nowhere, so a process that wakes up late (a supervisor resumed
 * after the reconciler finished its session) cannot overwrite how the session ended.
 *
 * - `preparing` → `syncing` (seed) | `launching` (no seed) | `stopping` (prepare failed or interrupted)
 * - `syncing` → `launching` | `stopping`
 * - `launching` → `running` | `stopping`
 * - `running` → `stopping`
 * - `stopping` → `stopped` | `failed`
 * - any state not final → `crashed` (the reconciler finishing a session whose supervisor is gone)
 *
 * @since 0.2.0
 * @category state machine
 */
export const transitions: { readonly [S in SessionState]: ReadonlyArray<SessionState> } = {
  preparing: ["syncing", "launching", "stopping", "crashed"],
  syncing: ["launching", "stopping", "crashed"],
  launching: ["running", "stopping", "crashed"],
  running: ["stopping", "crashed"],
  stopping: ["stopped", "failed", "crashed"],
  stopped: [],
  failed: [],
  crashed: []
}

/**
 * States a session never leaves.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFinal = (state: SessionState): boolean => transitions[state].length === 0

/**
 * Whether the state machine allows `from` → `to`.
 *
 * @since 0.2.0
 * @category state machine
 */
export const canTransition = (from: SessionState, to: SessionState): boolean => transitions[from].includes(to)

/**
 * A state change the state machine refuses.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>("@org/sandbox-core/InvalidTransition")(
  "InvalidTransition",
  { session_id: Schema.String, from: SessionState, to: SessionState }
) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    return `session ${this.session_id} cannot go from ${this.from} to ${this.to}`
  }
}

/**
 * Our view of a sandbox's state, whatever the backend calls it.
 *
 * @since 0.1.0
 * @category models
 */
export const SandboxState = Schema.Literal(
  "pending",
  "provisioning",
  "running",
  "stopped",
  "archived",
  "failed",
  "gone"
)
/**
 * @since 0.1.0
 * @category models
 */
export type SandboxState = typeof SandboxState.Type

/**
 * @since 0.1.0
 * @category models
 */
export class SyncStatus extends Schema.Class<SyncStatus>("@org/sandbox-core/SyncStatus")({
  last_to_runtime_at: Schema.NullOr(Schema.DateTimeUtc),
  last_from_runtime_at: Schema.NullOr(Schema.DateTimeUtc),
  files_to_runtime: Schema.Number,
  files_from_runtime: Schema.Number,
  bytes_to_runtime: Schema.Number,
  bytes_from_runtime: Schema.Number,
  conflicts: Schema.Array(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  static readonly empty: SyncStatus = SyncStatus.make({
    last_to_runtime_at: null,
    last_from_runtime_at: null,
    files_to_runtime: 0,
    files_from_runtime: 0,
    bytes_to_runtime: 0,
    bytes_from_runtime: 0,
    conflicts: []
  })
}

/**
 * A session's unresolved conflicts after a sync that read the runtime: the one rule for every sync of a session
 * (a checkpoint, a live batch, the sync-back, the reconciler's). A sync reports every path in conflict among those
 * it read, whether or not an earlier sync reported it; so a recorded conflict that it read and did not report is
 * settled (both sides agree now: resolved with `session conflicts resolve`, or by hand). A scoped sync (a live
 * batch) read only its scope, each path with its subtree: recorded conflicts outside it stay.
 *
 * @since 0.1.0
 * @category sync
 */
export const conflictsAfterSync = (
  recorded: ReadonlyArray<string>,
  found: ReadonlyArray<string>,
  scope?: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const read = (path: string) =>
    scope === undefined || scope.some((s) => s === "" || s === "." || path === s || path.startsWith(`${s}/`))
  return [...new Set([...recorded.filter((path) => !read(path)), ...found])]
}

/**
 * The provider state we keep: opaque to everyone but the provider, and versioned so a provider can migrate it.
 *
 * @since 0.1.0
 * @category models
 */
export const ProviderState = Schema.Struct({
  version: Schema.Number,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/**
 * @since 0.1.0
 * @category models
 */
export class SandboxRecord extends Schema.Class<SandboxRecord>("@org/sandbox-core/SandboxRecord")({
  sandbox_id: SandboxId,
  backend: Schema.String,
  profile: Schema.String,
  instance_id: Schema.NullOr(Schema.String),
  state: SandboxState,
  provider_state: Schema.NullOr(ProviderState),
  sync: SyncStatus,
  last_error: Schema.NullOr(Schema.String),
  /**
   * Why the sandbox is kept when its policy would remove it: `requested` (`run --keep`: not an orphan) or
   * `unsynced` (its sync-back failed or left work behind: `reconcile` retries the sync-back, `prune` refuses
   * it without `--discard`). Absent when the policy applies.
   */
  kept: Schema.optional(Schema.Literal("requested", "unsynced"))
}) {}

/**
 * @since 0.1.0
 * @category models
 */
export class Session extends Schema.Class<Session>("@org/sandbox-core/Session")({
  id: SessionId,
  workspace: Schema.String,
  /** The agent name, or `null` for an ad-hoc command. */
  agent: Schema.NullOr(Schema.String),
  command: Schema.Array(Schema.String),
  state: SessionState,
  created_at: Schema.DateTimeUtc,
  updated_at: Schema.DateTimeUtc,
  ended_at: Schema.NullOr(Schema.DateTimeUtc),
  exit_code: Schema.NullOr(Schema.Number),
  /** Why the session ended `failed` or `crashed`. */
  reason: Schema.NullOr(Schema.String),
  /** The host that owns the session (the `owner` label of its sandbox). */
  owner: Schema.String,
  /** The host directory the session syncs with, so that any process (`reconcile`) can finish its sync-back. */
  workspace_path: Schema.optional(Schema.String),
  sandbox: SandboxRecord
}) {}

/**
 * Move a session to `to`, or say why the state machine refuses it.
 *
 * @since 0.2.0
 * @category state machine
 */
export const transition = (
  session: Session,
  to: SessionState,
  patch: Partial<Omit<typeof Session.Type, "state">> = {}
): Either.Either<Session, InvalidTransition> =>
  canTransition(session.state, to)
    ? Either.right(Session.make({ ...session, ...patch, state: to }))
    : Either.left(new InvalidTransition({ session_id: session.id, from: session.state, to }))
