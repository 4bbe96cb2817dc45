/**
 * Carrying out one planned action: claim it, check it still applies, sync back, apply persistence, record
 * the outcome on the session.
 */
import * as EndOfSession from "@org/sandbox-core/EndOfSession"
import type { EventType } from "@org/sandbox-core/Event"
import type { Profile } from "@org/sandbox-core/Profile"
import type { SandboxError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Label } from "@org/sandbox-core/SandboxProvider"
import type { SandboxState } from "@org/sandbox-core/Session"
import { conflictsAfterSync, isFinal, SandboxRecord, Session, SyncStatus, transition } from "@org/sandbox-core/Session"
import type { Service as StoreService } from "@org/sandbox-core/Store"
import type { Service as SupervisionService } from "@org/sandbox-core/Supervision"
import type { Service as SyncService, SyncResult } from "@org/sandbox-core/WorkspaceSync"
import { Cause, DateTime, Effect, Either, Option } from "effect"
import type { Planned } from "../ReconcilePlan.js"
import { ActionResult } from "../ReconcilePlan.js"
import type { Claims } from "./claims.js"

/** @internal */
export interface ActContext {
  readonly store: StoreService
  readonly supervision: SupervisionService
  readonly sync: SyncService
  readonly claims: Claims
  readonly providerOf: (profile: Profile) => Effect.Effect<ProviderService, SandboxError>
  readonly syncStateDir: (sandbox_id: string) => string
  readonly protectedPathsOf: (session: Session, host_root: string) => Effect.Effect<ReadonlyArray<string>>
}

type Outcome = Pick<ActionResult, "status" | "detail" | "session_state" | "sandbox_state">

const skipped = (detail: string, session: Session | undefined): Outcome => ({
  status: "skipped",
  detail,
  session_state: session?.state ?? null,
  sandbox_state: session?.sandbox.state ?? null
})

/** @internal */
export const act = (context: ActContext, item: Planned, since: number): Effect.Effect<ActionResult> =>
  Effect.gen(function*() {
    const { action } = item
    if (action.decision === "skip") return skipped(action.reason, undefined)
    const claim = yield* context.claims.claim(item.claim_key, since)
    if (claim._tag === "Busy") {
      return skipped(`another reconcile is acting on it${claim.pid > 0 ? ` (pid ${claim.pid})` : ""}`, undefined)
    }
    if (claim._tag === "Done") return skipped("another reconcile already finished it", undefined)

    // The plan may be stale by now: read the session again under the claim.
    const session = action.session_id === null
      ? undefined
      : yield* context.store.getSession(action.session_id).pipe(Effect.option, Effect.map(Option.getOrUndefined))
    if (action.session_id !== null && session === undefined && action.crash_session) {
      return skipped("its session record is gone", undefined)
    }
    if (session !== undefined && action.crash_session) {
      if (isFinal(session.state)) return skipped(`already finished (${session.state})`, session)
      const liveness = yield* context.supervision.check(session.id, { local: true })
      if (liveness._tag === "Alive") return skipped(`its supervisor (pid ${liveness.lock.pid}) is alive`, session)
    }
    // A session that records its sandbox as gone is no proof: a create whose reply was lost leaves a live sandbox
    // behind a record that never learnt of it. The listing saw the sandbox; acting on one that is really gone
    // by now is harmless (a destroy of a missing sandbox succeeds).

    const emit = (type: EventType, attrs: Record<string, unknown>) =>
      session === undefined
        ? Effect.void
        : context.store.appendEvent({ session_id: session.id, sandbox_id: session.sandbox.sandbox_id, type, attrs })
          .pipe(
            Effect.withSpan(type, { attributes: attrs }),
            Effect.ignore
          )
    yield* emit("sandbox.reconcile.start", {
      decision: action.decision,
      reason: action.reason,
      sync_back: action.sync_back,
      apply: action.apply,
      instance_id: action.instance_id
    })

    // The moment of acting: a sandbox planned as an orphan must still have no session that could own it. A
    // session's record is written before its sandbox is created, so a sandbox the listing saw has its record
    // by now if a session of this state directory owns it.
    if (!action.crash_session && action.apply !== null && action.apply !== "keep") {
      const owner = yield* liveOwner(context, item)
      if (owner !== undefined) return skipped(owner, session)
    }

    const errors: Array<string> = []
    let sandboxState: SandboxState = Option.match(item.instance, { onNone: () => "gone", onSome: (i) => i.state })
    let synced: SyncResult | undefined
    let unsynced = false
    let left: ReadonlyArray<string> = []
    const instance = Option.getOrUndefined(item.instance)
    const profile = Option.getOrUndefined(item.profile)
    if (instance !== undefined) {
      const provider = yield* Effect.either(
        Option.match(item.provider, {
          onNone: () => Effect.dieMessage("an action on a sandbox without a provider"),
          onSome: context.providerOf
        })
      )
      if (provider._tag === "Left") {
        errors.push(`cannot reach ${action.backend}: ${provider.left.message}`)
        unsynced = action.sync_back
      } else {
        const p = provider.right
        const hostRoot = Option.getOrUndefined(item.workspace_path)
        const back = action.sync_back && session !== undefined && profile !== undefined && hostRoot !== undefined
          ? Option.some((current: Instance) =>
            syncBack(context, p, profile, session, current, hostRoot, emit, item.force === true)
          )
          : Option.none()
        const ended = yield* EndOfSession.finish({
          session_id: session?.id ?? null,
          provider: p,
          instance,
          syncBack: back,
          apply: action.apply ?? "keep",
          // a cut-off session's agent may still run: it stops before the sync-back
          halt: action.crash_session,
          sync: context.sync,
          state_dir: context.syncStateDir(action.sandbox_id)
        })
        errors.push(...ended.errors)
        synced = ended.synced
        unsynced = ended.unsynced
        left = ended.left_behind
        sandboxState = ended.sandbox_state
      }
    } else if (action.decision === "forget" && (action.crash_session || session?.sandbox.state !== "gone")) {
      // The sandbox is gone: so is any reason to keep its sync state.
      yield* EndOfSession.forget(context.sync, context.syncStateDir(action.sandbox_id))
    }

    const detail = errors.length > 0
      ? errors.join("; ")
      : [
        synced
          ? `synced back ${synced.files_from_runtime} file(s)${
            synced.conflicts.length ? `, ${synced.conflicts.length} conflict(s)` : ""
          }`
          : undefined,
        left.length > 0 ? left.join("; ") : undefined,
        action.apply === "destroy"
          ? "destroyed"
          : action.apply === "archive"
          ? "archived"
          : action.apply === "keep"
          ? "kept"
          : undefined,
        action.crash_session ? "session marked crashed" : action.decision === "forget" ? "recorded as gone" : undefined
      ].filter((s) => s !== undefined).join(", ")

    let final: Session | undefined = session
    if (session !== undefined) {
      const now = yield* DateTime.now
      const found = instance?.instance_id ?? null
      final = yield* context.store.updateSession(session.id, (s) => {
        const { kept: _kept, ...rest } = s.sandbox
        const kept = unsynced ? "unsynced" as const : sandboxState === "gone" ? undefined : _kept === "unsynced"
          ? (synced !== undefined ? undefined : _kept)
          : _kept
        const sandbox = SandboxRecord.make({
          ...rest,
          ...(kept !== undefined ? { kept } : {}),
          // The store may never have heard of an instance created just before the crash.
          instance_id: s.sandbox.instance_id ?? found,
          state: sandboxState,
          last_error: errors.length > 0 ? errors.join("; ") : s.sandbox.last_error,
          sync: synced === undefined ? s.sandbox.sync : SyncStatus.make({
            ...s.sandbox.sync,
            last_from_runtime_at: now,
            files_from_runtime: s.sandbox.sync.files_from_runtime + synced.files_from_runtime,
            bytes_from_runtime: s.sandbox.sync.bytes_from_runtime + synced.bytes_from_runtime,
            conflicts: conflictsAfterSync(s.sandbox.sync.conflicts, synced.conflicts.map((c) => c.path))
          })
        })
        if (!action.crash_session || isFinal(s.state)) return Session.make({ ...s, sandbox, updated_at: now })
        return Either.getOrElse(
          transition(s, "crashed", {
            ended_at: now,
            updated_at: now,
            reason: errors.length > 0 ? `${action.reason}; ${errors.join("; ")}` : action.reason,
            sandbox
          }),
          () => Session.make({ ...s, sandbox, updated_at: now })
        )
      }).pipe(Effect.option, Effect.map(Option.getOrUndefined))
      if (action.crash_session) yield* emit("session.crashed", { reason: final?.reason ?? action.reason })
      yield* emit(errors.length > 0 ? "sandbox.reconcile.error" : "sandbox.reconcile.complete", {
        decision: action.decision,
        sandbox_state: sandboxState,
        files_from_runtime: synced?.files_from_runtime ?? 0,
        errors,
        left_behind: left
      })
      if (action.crash_session) yield* context.supervision.release(session.id)
    }
    return {
      status: errors.length > 0 ? "failed" : "done",
      detail,
      session_state: final?.state ?? null,
      sandbox_state: sandboxState
    } satisfies Outcome
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      Effect.succeed(
        {
          status: "failed",
          detail: Cause.pretty(cause).split("\n")[0] ?? "unknown failure",
          session_state: null,
          sandbox_state: null
        } satisfies Outcome
      )
    ),
    Effect.map((outcome) => ActionResult.make({ ...item.action, ...outcome })),
    Effect.withSpan("Reconciler.action", {
      attributes: { decision: item.action.decision, sandbox_id: item.action.sandbox_id }
    })
  )

/** Bring the runtime's changes home, with the same events a session's own sync records. */
const syncBack = (
  context: ActContext,
  provider: ProviderService,
  profile: Profile,
  session: Session,
  instance: Instance,
  host_root: string,
  emit: (type: EventType, attrs: Record<string, unknown>) => Effect.Effect<void>,
  force: boolean
) =>
  Effect.gen(function*() {
    const ready = instance.state === "stopped" ? yield* provider.start(instance) : instance
    yield* emit("sandbox.sync.before", { direction: "from_runtime", reason: "crash" })
    const started = yield* DateTime.now
    const protectedPaths = yield* context.protectedPathsOf(session, host_root)
    const result = yield* context.sync.sync({
      session_id: session.id,
      sandbox_id: session.sandbox.sandbox_id,
      host_root,
      instance: ready,
      provider,
      profile,
      state_dir: context.syncStateDir(session.sandbox.sandbox_id),
      reason: "crash",
      ...(protectedPaths.length > 0 ? { protected_paths: protectedPaths } : {}),
      ...(force ? { force: true } : {})
    }).pipe(
      Effect.tapError((e) =>
        emit("sandbox.sync.error", { direction: "from_runtime", reason: "crash", error: e.message })
      )
    )
    const duration_ms = DateTime.toEpochMillis(yield* DateTime.now) - DateTime.toEpochMillis(started)
    yield* emit("sandbox.sync.after", {
      direction: "from_runtime",
      reason: "crash",
      files: result.files_from_runtime,
      bytes: result.bytes_from_runtime,
      files_to_runtime: result.files_to_runtime,
      files_from_runtime: result.files_from_runtime,
      deleted_on_host: result.deleted_on_host,
      duration_ms,
      conflicts: result.conflicts.map((c) => c.path)
    })
    return { result, instance: ready }
  })

/**
 * Who could still own a sandbox planned as an orphan, read now rather than at planning time: a session of this
 * state directory that records it and has not ended, a session named by its label whose supervisor is alive,
 * or a young sandbox whose session this state directory does not know (another state directory's, being set
 * up). `undefined` when nobody could.
 */
const liveOwner = (context: ActContext, item: Planned): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    const labels = Option.match(item.instance, { onNone: () => ({}), onSome: (i) => i.labels }) as Record<
      string,
      string | undefined
    >
    const { items } = yield* context.store.listSessions.pipe(
      Effect.orElseSucceed(() => ({ items: [] as ReadonlyArray<Session>, quarantined: [] }))
    )
    const owning = items.filter((s) => s.sandbox.sandbox_id === item.action.sandbox_id)
    const running = owning.find((s) => !isFinal(s.state))
    if (running !== undefined) return `its session ${running.id} is ${running.state} (started after the plan)`
    if (item.action.session_id === null && owning.length > 0) {
      return `its session ${owning[0]!.id} appeared after the plan; run reconcile again`
    }
    const labelled = labels[Label.sessionId]
    if (labelled !== undefined) {
      const liveness = yield* context.supervision.check(labelled, { local: true })
      if (liveness._tag === "Alive") return `its session ${labelled} has a live supervisor (pid ${liveness.lock.pid})`
      if (owning.length === 0 && !owning.some((s) => s.id === labelled)) {
        const known = yield* Effect.either(context.store.getSession(labelled))
        if (Either.isRight(known) && !isFinal(known.right.state)) {
          return `its session ${labelled} is ${known.right.state}`
        }
      }
    }
    return undefined
  })
