/**
 * The reconciler: after any crash, finds every sandbox (from the store and from every configured provider)
 * and finishes it by its policy. It always plans first (`plan`, which changes nothing) and then acts on the
 * plan (`act`) with bounded concurrency, idempotently, recording `sandbox.reconcile.*` events on the
 * sessions it touches.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { Profile } from "@org/sandbox-core/Profile"
import type { SandboxError, StoreError } from "@org/sandbox-core/SandboxError"
import type { Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Label, MANAGED_BY } from "@org/sandbox-core/SandboxProvider"
import { isFinal, type Session } from "@org/sandbox-core/Session"
import { Store } from "@org/sandbox-core/Store"
import { Supervision } from "@org/sandbox-core/Supervision"
import type { Liveness } from "@org/sandbox-core/Supervision"
import { WorkspaceSync } from "@org/sandbox-core/WorkspaceSync"
import { Chunk, Context, DateTime, Effect, Layer, Scope, Stream } from "effect"
import { act as actOn, type ActContext } from "./internal/act.js"
import * as Claims from "./internal/claims.js"
import type { Found, Planned } from "./ReconcilePlan.js"
import { ActionResult, decide, Report, targetKey } from "./ReconcilePlan.js"

/**
 * What to plan for.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlanRequest {
  /** `all` (default), `orphans` (prune), or only the given sessions (the check at CLI start). */
  readonly scope?: "all" | "orphans" | { readonly sessions: ReadonlyArray<string> }
  /** Include sessions and sandboxes of other hosts. */
  readonly all_owners?: boolean
  /** Only this backend. */
  readonly backend?: string
  /** `prune --discard`: also destroy sandboxes whose last sync-back left work in them. */
  readonly discard?: boolean
  /** Only the actions on this session or sandbox (`reconcile ID`). */
  readonly only?: string
  /** Sync back even what the mass-deletion guard would halt (`reconcile --force ID`). */
  readonly force?: boolean
}

/**
 * A plan: what `--dry-run` prints, and what `act` carries out.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly report: Report
  readonly items: ReadonlyArray<Planned>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Observe and decide; changes nothing. */
  readonly plan: (request?: PlanRequest) => Effect.Effect<Plan, StoreError>
  /** Carry out a plan. Every action's failure is in its result; the effect itself does not fail. */
  readonly act: (plan: Plan) => Effect.Effect<Report>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Reconciler extends Context.Tag("@org/sandbox-reconciler/Reconciler")<Reconciler, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** This host's identity (the `owner` label). */
  readonly owner: string
  /** Every configured profile: each distinct place they point at is listed once. */
  readonly profiles: ReadonlyArray<Profile>
  /**
   * A session's own profile: the one its workspace's configuration gives under the name the session recorded
   * (`undefined`: look the name up in `profiles`).
   */
  readonly profileOf?: (session: Session) => Effect.Effect<Profile | undefined>
  /**
   * Workspace paths whose changes from the sandbox a session's sync-back holds back: the hook scripts its
   * workspace's configuration names (the engine adds those of the workspace's own `.sandbox-cli.toml` itself).
   */
  readonly protectedPathsOf?: (session: Session, host_root: string) => Effect.Effect<ReadonlyArray<string>>
  /** Build the provider for a profile; it lives as long as the reconciler's scope. */
  readonly providerFor: (profile: Profile) => Effect.Effect<ProviderService, SandboxError, Scope.Scope>
  /** Where the sync engine keeps a sandbox's state (the ancestor manifest). */
  readonly syncStateDir: (sandbox_id: string) => string
  /** Where claims are kept so that concurrent reconcilers coordinate; in memory (one process) if unset. */
  readonly claims?: { readonly dir: string; readonly pid: number }
  /** Actions in flight at once (default 8). */
  readonly concurrency?: number
  /** This state directory's `state-dir` label (sandboxes labelled with another one are left alone). */
  readonly stateDirLabel?: string
}

/**
 * The services the reconciler needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = Store | Supervision | WorkspaceSync | FileSystem.FileSystem | Path.Path | Scope.Scope

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const store = yield* Store
    const supervision = yield* Supervision
    const sync = yield* WorkspaceSync
    const scope = yield* Effect.scope
    const claims = options.claims
      ? yield* Claims.makeFile({ ...options.claims, isAlive: supervision.isAlive })
      : Claims.makeMemory()

    // One provider per place, built on first use and kept for the reconciler's lifetime.
    const providers = new Map<string, Effect.Effect<ProviderService, SandboxError>>()
    const providerOf = (profile: Profile) => {
      const key = targetKey(profile)
      let cached = providers.get(key)
      if (cached === undefined) {
        cached = Effect.runSync(Effect.cached(options.providerFor(profile).pipe(Scope.extend(scope))))
        providers.set(key, cached)
      }
      return cached
    }

    const plan = Effect.fn("Reconciler.plan")(function*(request: PlanRequest = {}) {
      const planned_at = yield* DateTime.now
      const all_owners = request.all_owners ?? false
      const scopeName = request.scope === undefined
        ? "all"
        : typeof request.scope === "string"
        ? request.scope
        : "sessions"
      const session_ids = new Set(typeof request.scope === "object" ? request.scope.sessions : [])
      const sessionsListing = yield* store.listSessions
      const workspaces = yield* store.listWorkspaces
      const workspace_paths = new Map(workspaces.items.map((w) => [w.name as string, w.path]))
      const profiles = new Map(options.profiles.map((p) => [p.name as string, p]))
      const warnings: Array<string> = []
      // Each session that may still hold a sandbox, with the profile of its own workspace's configuration.
      const session_profiles = new Map<string, Profile>()
      const profileOf = options.profileOf
      if (profileOf !== undefined) {
        const holding = sessionsListing.items.filter((s) =>
          (!isFinal(s.state) || (s.sandbox.instance_id !== null && s.sandbox.state !== "gone")) &&
          (scopeName !== "sessions" || session_ids.has(s.id))
        )
        yield* Effect.forEach(holding, (s) =>
          Effect.map(profileOf(s), (p) => {
            if (p !== undefined) session_profiles.set(s.id, p)
          }), { concurrency: 8, discard: true })
      }
      const profileOfSession = (s: Session) => session_profiles.get(s.id) ?? profiles.get(s.sandbox.profile)

      // Liveness of every session still running by the store (cheap: one small file each).
      const pending = sessionsListing.items.filter((s) =>
        !isFinal(s.state) && (scopeName !== "sessions" || session_ids.has(s.id))
      )
      const liveness = new Map<string, Liveness>()
      yield* Effect.forEach(pending, (s) =>
        Effect.map(supervision.check(s.id, { local: s.owner === options.owner }), (l) =>
          void liveness.set(s.id, l)), {
        concurrency: 16,
        discard: true
      })

      const instances: Array<Found> = []
      const targets = new Map<string, Profile>()
      const listed = new Set<string>()
      const checked = new Set<string>()
      if (scopeName !== "sessions") {
        // Each distinct place once, with one filtered listing: the configured profiles and the sessions' own.
        for (const p of [...options.profiles, ...session_profiles.values()]) {
          if (request.backend !== undefined && p.backend !== request.backend) {
            continue
          }
          if (!targets.has(targetKey(p))) {
            targets.set(targetKey(p), p)
          }
        }
        if (request.backend !== undefined && targets.size === 0) {
          warnings.push(`no configured profile uses backend ${request.backend}`)
        }
        const labels = { [Label.managedBy]: MANAGED_BY, ...(all_owners ? {} : { [Label.owner]: options.owner }) }
        yield* Effect.forEach([...targets], ([key, profile]) =>
          providerOf(profile).pipe(
            Effect.flatMap((provider) =>
              Stream.runCollect(provider.list({ labels }))
            ),
            Effect.map((found) => {
              for (const instance of Chunk.toReadonlyArray(found)) {
                instances.push({ instance, backend: profile.backend, target: key })
              }
              listed.add(key)
            }),
            Effect.catchAll((e) =>
              Effect.sync(() =>
                warnings.push(`could not list ${profile.backend} sandboxes (profile ${profile.name}): ${e.message}`)
              )
            )
          ), { concurrency: 4, discard: true })
      } else {
        // Only the given sessions: look their sandboxes up one by one instead of listing everything.
        yield* Effect.forEach(pending, (s) =>
          Effect.gen(function*() {
            const l = liveness.get(s.id)
            const profile = profileOfSession(s)
            if (l?._tag !== "Gone" || profile === undefined) return
            const provider = yield* providerOf(profile)
            const found = s.sandbox.instance_id !== null
              ? yield* provider.get(s.sandbox.instance_id).pipe(
                Effect.map((i) => [i]),
                Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed([]))
              )
              : Chunk.toReadonlyArray(
                yield* Stream.runCollect(provider.list({ labels: { [Label.sandboxId]: s.sandbox.sandbox_id } }))
              )
            if (!targets.has(targetKey(profile))) targets.set(targetKey(profile), profile)
            for (const instance of found) {
              instances.push({ instance, backend: profile.backend, target: targetKey(profile) })
            }
            checked.add(s.sandbox.sandbox_id)
          }).pipe(
            Effect.catchAll((e) =>
              Effect.sync(() => warnings.push(`could not look up the sandbox of ${s.id}: ${e.message}`))
            )
          ), { concurrency: 4, discard: true })
      }

      const decided = decide({
        owner: options.owner,
        all_owners,
        scope: scopeName,
        session_ids,
        backend: request.backend,
        sessions: sessionsListing.items,
        liveness,
        profiles,
        session_profiles,
        targets,
        instances,
        listed,
        checked,
        workspace_paths,
        discard: request.discard ?? false,
        now: DateTime.toEpochMillis(planned_at),
        ...(options.stateDirLabel !== undefined ? { state_dir: options.stateDirLabel } : {})
      })
      const items = request.only === undefined
        ? decided.items
        : decided.items.filter((i) => i.action.session_id === request.only || i.action.sandbox_id === request.only)
      const chosen = request.force === true ? items.map((i) => ({ ...i, force: true })) : items
      const report = Report.make({
        dry_run: true,
        scope: scopeName,
        owner: options.owner,
        all_owners,
        planned_at,
        actions: chosen.map((i) =>
          ActionResult.make({
            ...i.action,
            status: "planned",
            detail: "",
            session_state: null,
            sandbox_state: i.action.instance_state
          })
        ),
        live: decided.live,
        kept: decided.kept,
        quarantined: [...sessionsListing.quarantined, ...workspaces.quarantined],
        warnings
      })
      return { report, items: chosen } satisfies Plan
    })

    const context: ActContext = {
      store,
      supervision,
      sync,
      claims,
      providerOf,
      syncStateDir: options.syncStateDir,
      protectedPathsOf: options.protectedPathsOf ?? (() => Effect.succeed([]))
    }
    const act = Effect.fn("Reconciler.act")(function*(plan: Plan) {
      const since = DateTime.toEpochMillis(plan.report.planned_at)
      const results = yield* Effect.forEach(plan.items, (item) => actOn(context, item, since), {
        concurrency: options.concurrency ?? 8
      })
      return Report.make({ ...plan.report, dry_run: false, actions: results })
    })

    return Reconciler.of({ plan, act })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Reconciler, never, Exclude<Requirements, Scope.Scope>> => Layer.scoped(Reconciler, make(options))
