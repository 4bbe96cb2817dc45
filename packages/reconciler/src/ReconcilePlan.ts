/**
 * The reconcile plan: what was observed (store, supervisors, providers) and, decided from it by a pure
 * function, one action with a reason for every sandbox that needs one. Nothing here talks to the outside.
 *
 * @since 0.1.0
 */
import type { Profile } from "@org/sandbox-core/Profile"
import { Persistence } from "@org/sandbox-core/Profile"
import type { Instance } from "@org/sandbox-core/SandboxProvider"
import { Label } from "@org/sandbox-core/SandboxProvider"
import { isFinal, SandboxState, type Session, SessionState } from "@org/sandbox-core/Session"
import type { Liveness } from "@org/sandbox-core/Supervision"
import { DateTime, Option, Schema } from "effect"

/**
 * What happens to one sandbox:
 *
 * - `reattach`: a reuse sandbox whose session was cut off is kept (after syncing back) for the next session
 * - `finish`: a cut-off session is finished by its policy (sync back, then destroy or archive)
 * - `destroy`: an orphan nobody will come back for is destroyed
 * - `archive`: an orphan of an `archive` profile is archived
 * - `forget`: the sandbox is already gone (or was never created); only the store is updated
 * - `skip`: not touched, and the reason says why
 *
 * @since 0.1.0
 * @category models
 */
export const Decision = Schema.Literal("reattach", "finish", "destroy", "archive", "forget", "skip")
/**
 * @since 0.1.0
 * @category models
 */
export type Decision = typeof Decision.Type

/**
 * What is done to the sandbox itself at the end.
 *
 * @since 0.1.0
 * @category models
 */
export const Apply = Schema.Literal("destroy", "archive", "keep")
/**
 * @since 0.1.0
 * @category models
 */
export type Apply = typeof Apply.Type

/**
 * One planned action (snake_case on the wire, as `reconcile --dry-run -o json` prints it).
 *
 * @since 0.1.0
 * @category models
 */
export class Action extends Schema.Class<Action>("@org/sandbox-reconciler/Action")({
  decision: Decision,
  reason: Schema.String,
  sandbox_id: Schema.String,
  session_id: Schema.NullOr(Schema.String),
  workspace: Schema.NullOr(Schema.String),
  backend: Schema.String,
  profile: Schema.NullOr(Schema.String),
  instance_id: Schema.NullOr(Schema.String),
  instance_state: Schema.NullOr(SandboxState),
  owner: Schema.NullOr(Schema.String),
  persistence: Schema.NullOr(Persistence),
  /** Bring the runtime's changes home before anything else. */
  sync_back: Schema.Boolean,
  /** What happens to the sandbox; `null` when there is none to act on. */
  apply: Schema.NullOr(Apply),
  /** The session was cut off and ends `crashed`. */
  crash_session: Schema.Boolean
}) {}

/**
 * How an action went (`planned` in a dry run).
 *
 * @since 0.1.0
 * @category models
 */
export const Status = Schema.Literal("planned", "done", "skipped", "failed")

/**
 * @since 0.1.0
 * @category models
 */
export class ActionResult extends Schema.Class<ActionResult>("@org/sandbox-reconciler/ActionResult")({
  ...Action.fields,
  status: Status,
  /** What happened, or why it was skipped or failed. */
  detail: Schema.String,
  session_state: Schema.NullOr(SessionState),
  sandbox_state: Schema.NullOr(SandboxState)
}) {}

/**
 * Which part of the world a plan covers: everything, orphans only (`prune`), or given sessions (the check
 * every CLI start runs).
 *
 * @since 0.1.0
 * @category models
 */
export const PlanScope = Schema.Literal("all", "orphans", "sessions")

/**
 * A plan or its outcome, the same shape for both so that scripts read one format.
 *
 * @since 0.1.0
 * @category models
 */
export class Report extends Schema.Class<Report>("@org/sandbox-reconciler/Report")({
  dry_run: Schema.Boolean,
  scope: PlanScope,
  owner: Schema.String,
  all_owners: Schema.Boolean,
  planned_at: Schema.DateTimeUtc,
  actions: Schema.Array(ActionResult),
  /** Sessions whose supervisor is alive: left alone. */
  live: Schema.Number,
  /** Sandboxes already where their policy wants them (reuse kept, archived). */
  kept: Schema.Number,
  /** Corrupt store records that were reported and moved aside. */
  quarantined: Schema.Array(Schema.Struct({ path: Schema.String, moved_to: Schema.String, reason: Schema.String })),
  /** Backends that could not be listed, and the like. */
  warnings: Schema.Array(Schema.String)
}) {}

/**
 * An instance as one listing found it, with the listing it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Found {
  readonly instance: Instance
  readonly backend: string
  readonly target: string
}

/**
 * Everything the decision needs, gathered beforehand.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation {
  readonly owner: string
  readonly all_owners: boolean
  readonly scope: typeof PlanScope.Type
  /** With scope `sessions`: the sessions to look at. */
  readonly session_ids: ReadonlySet<string>
  /** Only this backend, if set. */
  readonly backend: string | undefined
  readonly sessions: ReadonlyArray<Session>
  /** For every session not in a final state that this run may judge. */
  readonly liveness: ReadonlyMap<string, Liveness>
  readonly profiles: ReadonlyMap<string, Profile>
  /**
   * A session's own profile, by session id, where its workspace's configuration names it: a profile of the same
   * name elsewhere (the current directory's configuration) may point somewhere else.
   */
  readonly session_profiles?: ReadonlyMap<string, Profile>
  /** The profile each listing went through, by target key. */
  readonly targets: ReadonlyMap<string, Profile>
  readonly instances: ReadonlyArray<Found>
  /** Targets whose listing completed: a sandbox of theirs that was not listed is gone. */
  readonly listed: ReadonlySet<string>
  /** Sandbox ids looked up one by one (scope `sessions`): not found means gone. */
  readonly checked: ReadonlySet<string>
  /** Host directories of workspaces, by name. */
  readonly workspace_paths: ReadonlyMap<string, string>
  /** `prune --discard`: destroy sandboxes that hold work not home too. */
  readonly discard?: boolean
  /** This state directory's `state-dir` label: a sandbox labelled with another one is never ours to act on. */
  readonly state_dir?: string
  /** When the plan was made (epoch ms), for the grace period of sandboxes without a session record. */
  readonly now?: number
}

/**
 * A sandbox of this host whose session no store here knows is left alone this long after its creation: it may
 * belong to a session of another state directory that is being set up.
 *
 * @since 0.2.0
 * @category constants
 */
export const ORPHAN_GRACE_MS = 10 * 60_000

/**
 * One action with what acting on it needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Planned {
  readonly action: Action
  readonly instance: Option.Option<Instance>
  /** The session's profile: its policy. */
  readonly profile: Option.Option<Profile>
  /** The profile whose provider acts on the instance (the one that listed it). */
  readonly provider: Option.Option<Profile>
  /** What concurrent reconcilers coordinate on (the sandbox id, or the session id). */
  readonly claim_key: string
  readonly workspace_path: Option.Option<string>
  /** Sync back past the mass-deletion guard (`reconcile --force ID`). */
  readonly force?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Decided {
  readonly items: ReadonlyArray<Planned>
  readonly live: number
  readonly kept: number
}

/**
 * Profiles that reach the same place share one listing: same backend, runtime root and backend table.
 *
 * @since 0.1.0
 * @category utils
 */
export const targetKey = (profile: Profile): string =>
  JSON.stringify([profile.backend, profile.runtime_root ?? null, profile.backend_config])

const syncsBack = (profile: Profile, session: Session) =>
  (profile.sync_mode === "session-bidirectional" || profile.sync_mode === "live") &&
  // Before the first seed completed the runtime holds nothing the agent wrote.
  session.sandbox.sync.last_to_runtime_at !== null

/** Reachable for a sync: running, or stopped and startable. */
const reachable = (instance: Instance) => instance.state === "running" || instance.state === "stopped"

const newestFirst = (a: Session, b: Session) =>
  DateTime.toEpochMillis(b.created_at) - DateTime.toEpochMillis(a.created_at)

/**
 * Decide, for every sandbox and every cut-off session, what to do and why.
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = (o: Observation): Decided => {
  const items: Array<Planned> = []
  let live = 0
  let kept = 0
  const mine = (owner: string | undefined) => o.all_owners || owner === o.owner
  const inBackend = (backend: string) => o.backend === undefined || o.backend === backend
  const profileOf = (s: Session) => o.session_profiles?.get(s.id) ?? o.profiles.get(s.sandbox.profile)

  const newest = new Map<string, Session>()
  for (const s of [...o.sessions].sort(newestFirst)) {
    if (!newest.has(s.sandbox.sandbox_id)) newest.set(s.sandbox.sandbox_id, s)
  }
  const byLabel = new Map<string, Found>()
  const byId = new Map<string, Found>()
  for (const f of o.instances) {
    const sandboxId = f.instance.labels[Label.sandboxId]
    if (sandboxId !== undefined && !byLabel.has(sandboxId)) byLabel.set(sandboxId, f)
    byId.set(`${f.backend}\u0000${f.instance.instance_id}`, f)
  }
  const locate = (s: Session): Found | undefined =>
    (s.sandbox.instance_id !== null ? byId.get(`${s.sandbox.backend}\u0000${s.sandbox.instance_id}`) : undefined) ??
      byLabel.get(s.sandbox.sandbox_id)
  const knownGone = (s: Session, profile: Profile | undefined) =>
    o.checked.has(s.sandbox.sandbox_id) || (profile !== undefined && o.listed.has(targetKey(profile)))

  const push = (
    fields: Omit<typeof Action.Type, "instance_id" | "instance_state"> & { readonly instance: Found | undefined },
    extra: { readonly profile: Profile | undefined; readonly claim_key?: string; readonly workspace_path?: string }
  ) => {
    const { instance, ...rest } = fields
    items.push({
      action: Action.make({
        ...rest,
        instance_id: instance?.instance.instance_id ?? null,
        instance_state: instance?.instance.state ?? null
      }),
      instance: Option.fromNullable(instance?.instance),
      profile: Option.fromNullable(extra.profile),
      provider: Option.fromNullable(extra.profile ?? (instance ? o.targets.get(instance.target) : undefined)),
      claim_key: extra.claim_key ?? fields.sandbox_id,
      workspace_path: Option.fromNullable(extra.workspace_path)
    })
  }
  const sessionFields = (s: Session) => ({
    sandbox_id: s.sandbox.sandbox_id,
    session_id: s.id,
    workspace: s.workspace,
    backend: s.sandbox.backend,
    profile: s.sandbox.profile,
    owner: s.owner
  })

  // Sandboxes decided through their session (or owned by a live one): the instance side leaves them alone.
  const handled = new Set<string>()
  const sessionInScope = (s: Session) => o.scope === "all" || (o.scope === "sessions" && o.session_ids.has(s.id))

  // ---- The store side: sessions not in a final state whose supervisor is gone.
  const cutOff = new Map<string, Array<{ session: Session; reason: string; lock_path: string | undefined }>>()
  for (const s of o.sessions) {
    if (isFinal(s.state) || !inBackend(s.sandbox.backend)) continue
    handled.add(s.sandbox.sandbox_id)
    if (o.scope === "sessions" && !o.session_ids.has(s.id)) continue
    if (!mine(s.owner)) {
      if (o.scope === "all") {
        push({
          ...sessionFields(s),
          decision: "skip",
          reason: `session of host ${s.owner} (give --all-owners to include it)`,
          instance: locate(s),
          persistence: null,
          sync_back: false,
          apply: null,
          crash_session: false
        }, { profile: undefined })
      }
      continue
    }
    const liveness = o.liveness.get(s.id)
    if (liveness === undefined || liveness._tag === "Alive") {
      live++
      continue
    }
    if (!sessionInScope(s)) continue
    const group = cutOff.get(s.sandbox.sandbox_id) ?? []
    group.push({
      session: s,
      reason: liveness.reason,
      lock_path: Option.getOrUndefined(Option.flatMap(liveness.lock, (l) => Option.fromNullable(l.workspace_path)))
    })
    cutOff.set(s.sandbox.sandbox_id, group)
  }

  for (const group of cutOff.values()) {
    const [primary, ...older] = group.sort((a, b) => newestFirst(a.session, b.session))
    for (const other of older) {
      push({
        ...sessionFields(other.session),
        decision: "forget",
        reason: `${other.reason}; its sandbox is handled with the newer session ${primary!.session.id}`,
        instance: undefined,
        persistence: null,
        sync_back: false,
        apply: null,
        crash_session: true
      }, { profile: undefined, claim_key: other.session.id })
    }
    const { lock_path, reason, session: s } = primary!
    const profile = profileOf(s)
    const found = locate(s)
    const base = {
      ...sessionFields(s),
      instance: found,
      persistence: profile?.persistence ?? null,
      crash_session: true
    }
    if (profile === undefined) {
      push({
        ...base,
        decision: "skip",
        reason: `${reason}, but profile ${s.sandbox.profile} is not configured: add it back to finish the session`,
        sync_back: false,
        apply: null,
        crash_session: false
      }, { profile })
      continue
    }
    if (found === undefined) {
      if (!knownGone(s, profile)) {
        push({
          ...base,
          decision: "skip",
          reason: `${reason}, but its ${s.sandbox.backend} sandboxes could not be listed (see warnings)`,
          sync_back: false,
          apply: null,
          crash_session: false
        }, { profile })
        continue
      }
      push({
        ...base,
        decision: "forget",
        reason: `${reason} while ${s.state}; ${
          s.sandbox.instance_id === null ? "no sandbox had been created" : "its sandbox is already gone"
        }`,
        sync_back: false,
        apply: null
      }, { profile })
      continue
    }
    const path = s.workspace_path ?? o.workspace_paths.get(s.workspace) ?? lock_path
    const wantsSync = syncsBack(profile, s) && reachable(found.instance)
    const apply: Apply = profile.persistence === "reuse"
      ? "keep"
      : profile.persistence === "archive"
      ? (found.instance.state === "archived" ? "keep" : "archive")
      : "destroy"
    const why = `${reason} while ${s.state}`
    if (wantsSync && path === undefined) {
      // Never throw away a runtime whose changes cannot come home.
      push({
        ...base,
        decision: "finish",
        reason: `${why}; the workspace directory is unknown, so the sandbox is kept for a manual sync`,
        sync_back: false,
        apply: "keep"
      }, { profile })
      continue
    }
    push({
      ...base,
      decision: profile.persistence === "reuse" ? "reattach" : "finish",
      reason: `${why}; ${
        profile.persistence === "reuse"
          ? "reuse: kept for the next session of the workspace"
          : `${profile.persistence}: ${apply === "keep" ? "already archived" : apply}`
      }`,
      sync_back: wantsSync,
      apply
    }, { profile, ...(path !== undefined ? { workspace_path: path } : {}) })
  }

  // ---- The provider side: instances with our labels that no live session owns.
  if (o.scope !== "sessions") {
    for (const f of o.instances) {
      const sandboxId = f.instance.labels[Label.sandboxId] ?? f.instance.instance_id
      if (handled.has(sandboxId) || !inBackend(f.backend) || f.instance.state === "gone") continue
      handled.add(sandboxId)
      const owner = f.instance.labels[Label.owner]
      const s = newest.get(sandboxId)
      const fields = {
        sandbox_id: sandboxId,
        session_id: s?.id ?? null,
        workspace: s?.workspace ?? f.instance.labels[Label.workspace] ?? null,
        backend: f.backend,
        profile: s?.sandbox.profile ?? null,
        owner: owner ?? null,
        instance: f,
        crash_session: false
      }
      if (!mine(owner)) {
        if (o.scope === "all") {
          push({
            ...fields,
            decision: "skip",
            reason: `owned by host ${owner ?? "(unlabelled)"} (give --all-owners to include it)`,
            persistence: null,
            sync_back: false,
            apply: null
          }, { profile: undefined })
        }
        continue
      }
      const stateDir = f.instance.labels[Label.stateDir]
      if (o.state_dir !== undefined && stateDir !== undefined && stateDir !== o.state_dir) {
        if (o.scope === "all") {
          push({
            ...fields,
            decision: "skip",
            reason: `created from another state directory (${stateDir}): reconcile it with that SANDBOX_CLI_HOME`,
            persistence: null,
            sync_back: false,
            apply: null
          }, { profile: undefined })
        }
        continue
      }
      const createdAt = Number(f.instance.labels[Label.createdAt] ?? Number.NaN)
      if (
        s === undefined && stateDir === undefined && o.now !== undefined && Number.isFinite(createdAt) &&
        o.now - createdAt < ORPHAN_GRACE_MS
      ) {
        push({
          ...fields,
          decision: "skip",
          reason: `no session record here, but created ${
            Math.round((o.now - createdAt) / 1000)
          } s ago: it may be another state directory's`,
          persistence: null,
          sync_back: false,
          apply: null
        }, { profile: undefined })
        continue
      }
      if (s === undefined) {
        push({
          ...fields,
          decision: "destroy",
          reason: "orphan: no session record owns it (lost, corrupt, or never written)",
          persistence: null,
          sync_back: false,
          apply: "destroy"
        }, { profile: undefined })
        continue
      }
      const profile = profileOf(s)
      if (profile === undefined) {
        if (o.scope === "all") {
          push({
            ...fields,
            decision: "skip",
            reason:
              `its last session ${s.id} used profile ${s.sandbox.profile}, which is not configured: persistence unknown`,
            persistence: null,
            sync_back: false,
            apply: null
          }, { profile })
        }
        continue
      }
      const path = s.workspace_path ?? o.workspace_paths.get(s.workspace)
      const sync_back = syncsBack(profile, s) && reachable(f.instance) && path !== undefined
      const extra = { profile, ...(path !== undefined ? { workspace_path: path } : {}) }
      const ended = `its last session ${s.id} ended ${s.state}`
      if (s.sandbox.kept === "requested" && s.sandbox.state !== "gone") {
        // `run --keep`: kept on purpose, not an orphan.
        kept++
        continue
      }
      if (s.sandbox.kept === "unsynced" && s.sandbox.state !== "gone") {
        // Its sync-back failed or left work in it: retry the sync-back, never destroy it without one.
        const apply: Apply = profile.persistence === "reuse"
          ? "keep"
          : profile.persistence === "archive"
          ? "archive"
          : "destroy"
        if (o.scope === "orphans" && !o.discard) {
          push({
            ...fields,
            decision: "skip",
            reason: `its last session ${s.id} left work in it that is not home: run sandbox-cli reconcile to retry ` +
              `the sync-back, or prune --discard to destroy it anyway`,
            persistence: profile.persistence,
            sync_back: false,
            apply: null
          }, extra)
          continue
        }
        if (o.scope === "orphans") {
          push({
            ...fields,
            decision: "destroy",
            reason: `--discard: its last session ${s.id} left work in it, destroyed anyway`,
            persistence: profile.persistence,
            sync_back: false,
            apply: "destroy"
          }, extra)
          continue
        }
        push({
          ...fields,
          decision: "finish",
          reason: `its last session ${s.id} left work in it that is not home: retrying the sync-back`,
          persistence: profile.persistence,
          sync_back: path !== undefined && reachable(f.instance),
          apply: path !== undefined && reachable(f.instance) ? apply : "keep"
        }, extra)
        continue
      }
      if (profile.persistence === "reuse" && s.sandbox.state !== "gone") {
        kept++
        continue
      }
      if (profile.persistence === "archive") {
        if (f.instance.state === "archived") {
          kept++
          continue
        }
        if (o.scope === "all") {
          push({
            ...fields,
            decision: "archive",
            reason: `orphan: ${ended} without archiving it`,
            persistence: "archive",
            sync_back,
            apply: "archive"
          }, extra)
        }
        continue
      }
      push({
        ...fields,
        decision: "destroy",
        reason: profile.persistence === "reuse"
          ? `orphan: ${ended} and recorded its reuse sandbox as gone`
          : `orphan: ${ended} and its transient sandbox is still there`,
        persistence: profile.persistence,
        sync_back,
        apply: "destroy"
      }, extra)
    }
  }

  // ---- Store hygiene: ended sessions that still record a sandbox the provider no longer has.
  if (o.scope === "all") {
    for (const s of newest.values()) {
      if (!isFinal(s.state) || handled.has(s.sandbox.sandbox_id) || !inBackend(s.sandbox.backend)) continue
      if (s.sandbox.instance_id === null || s.sandbox.state === "gone" || !mine(s.owner)) continue
      const profile = profileOf(s)
      if (profile === undefined || !o.listed.has(targetKey(profile))) continue
      push({
        ...sessionFields(s),
        decision: "forget",
        reason: `its sandbox ${s.sandbox.instance_id} no longer exists`,
        instance: undefined,
        persistence: profile.persistence,
        sync_back: false,
        apply: null,
        crash_session: false
      }, { profile })
    }
  }

  // prune removes orphans and nothing else
  const chosen = o.scope === "orphans"
    ? items.filter((i) => i.action.decision === "destroy" || i.action.decision === "skip")
    : items
  const order = (p: Planned) => `${p.action.sandbox_id}\u0000${p.action.session_id ?? ""}`
  return { items: [...chosen].sort((a, b) => order(a).localeCompare(order(b))), live, kept }
}
