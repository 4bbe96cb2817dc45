/**
 * `sandbox-cli reconcile [--dry-run] [--all-owners]` and `sandbox-cli prune [--backend B] [--dry-run]`: find
 * every sandbox after a crash and finish it; and `finishCutOff`, which the check every session command runs
 * first (`StartupCheck`) calls when a supervisor died. The reconciler is imported only when there is work for it.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Locations from "@org/sandbox-core/Locations"
import type { Profile } from "@org/sandbox-core/Profile"
import { UsageError } from "@org/sandbox-core/SandboxError"
import type { Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import type * as ReconcilePlan from "@org/sandbox-reconciler/ReconcilePlan"
import type * as Reconciler from "@org/sandbox-reconciler/Reconciler"
import { Effect, Layer, Option } from "effect"
import * as AgentReaper from "../AgentReaper.js"
import * as AppConfig from "../AppConfig.js"
import { common, type Output } from "../CommonOptions.js"
import * as ConfigHooks from "../ConfigHooks.js"
import { ExitWith } from "../Failure.js"
import * as Render from "../Render.js"
import * as Sessions from "../Sessions.js"

const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("Print the plan and change nothing"))
const allOwners = Options.boolean("all-owners").pipe(
  Options.withDescription("Also act on sessions and sandboxes whose owner label names another host")
)
const concurrency = Options.integer("concurrency").pipe(
  Options.withDefault(8),
  Options.withDescription("Sandboxes acted on at once")
)

/**
 * The reconciler over this configuration, its providers and the state directory. Each session's profile comes from
 * its workspace's configuration (as `session new` took it), not from the current directory's.
 */
const reconcilerLayer = (
  loaded: AppConfig.Loaded,
  options: { readonly concurrency?: number; readonly config?: Option.Option<string> } = {}
) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const { layer } = yield* Effect.promise(() => import("@org/sandbox-reconciler/Reconciler"))
    const path = yield* Path.Path
    const root = yield* Locations.stateDir
    const paths = yield* Sessions.supervisorPaths("reconcile")
    const platform = yield* Effect.context<
      FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor | Store.Store
    >()
    // One configuration per workspace; a profile is built with the providers its own configuration names.
    const byWorkspace = new Map<string, Effect.Effect<AppConfig.Loaded | undefined>>()
    const registries = new Map<Profile, AppConfig.Loaded["registry"]>()
    const workspaceConfig = (session: Session) => {
      let cached = byWorkspace.get(session.workspace)
      if (cached === undefined) {
        cached = Effect.runSync(Effect.cached(
          AppConfig.loadForSession(options.config ?? Option.none(), session).pipe(
            Effect.provide(platform),
            Effect.orElseSucceed(() => undefined)
          )
        ))
        byWorkspace.set(session.workspace, cached)
      }
      return cached
    }
    return layer({
      owner: Sessions.owner(),
      profiles: [...loaded.config.profiles.values()],
      profileOf: (session) =>
        Effect.map(workspaceConfig(session), (own) => {
          const profile = own?.config.profiles.get(session.sandbox.profile)
          if (own !== undefined && profile !== undefined) registries.set(profile, own.registry)
          return profile
        }),
      protectedPathsOf: (session, hostRoot) =>
        Effect.map(
          workspaceConfig(session),
          (own) => own === undefined ? [] : ConfigHooks.protectedPaths(own.config.hooks, hostRoot)
        ),
      providerFor: (profile: Profile) =>
        Sessions.providerFor(registries.get(profile) ?? loaded.registry, profile).pipe(Effect.provide(platform)),
      syncStateDir: paths.syncState,
      stateDirLabel: yield* Sessions.stateDirLabel,
      claims: { dir: path.join(root, "reconcile"), pid: process.pid },
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {})
    })
  })).pipe(Layer.provide(Layer.merge(Sessions.runtimeLayer, Sessions.supervisionLayer)))

const withReconciler = <A, E, R>(
  loaded: AppConfig.Loaded,
  options: { readonly concurrency?: number; readonly config?: Option.Option<string> },
  f: (reconciler: Reconciler.Service) => Effect.Effect<A, E, R>
) =>
  Effect.promise(() => import("@org/sandbox-reconciler/Reconciler")).pipe(
    Effect.flatMap((m) => Effect.flatMap(m.Reconciler, f)),
    Effect.provide(reconcilerLayer(loaded, options))
  )

const renderReport = (report: ReconcilePlan.Report) => {
  const rows = report.actions.map((a) => [
    a.decision,
    a.sandbox_id,
    a.session_id ?? undefined,
    a.backend,
    a.apply === null ? undefined : `${a.sync_back ? "sync, " : ""}${a.apply}`,
    ...(report.dry_run ? [] : [a.status]),
    report.dry_run || a.status === "done" ? a.reason : `${a.reason} — ${a.detail}`
  ])
  const headers = [
    "decision",
    "sandbox",
    "session",
    "backend",
    "apply",
    ...(report.dry_run ? [] : ["status"]),
    "reason"
  ]
  const count = (status: string) => report.actions.filter((a) => a.status === status).length
  const summary = report.dry_run
    ? `${report.actions.length} action(s) planned; dry run, nothing was changed`
    : `${count("done")} done, ${count("skipped")} skipped, ${count("failed")} failed`
  const tail = `${summary} (${report.live} live session(s) left alone, ${report.kept} sandbox(es) kept by policy)`
  return Effect.zipRight(
    report.actions.length === 0 ? Render.line("nothing to reconcile") : Render.table(headers, rows),
    Render.line(tail)
  )
}

const run = (
  request: Reconciler.PlanRequest,
  options: {
    readonly config: Option.Option<string>
    readonly dryRun: boolean
    readonly output: Output
    readonly concurrency: number
  }
) =>
  Effect.gen(function*() {
    const loaded = yield* AppConfig.load(options.config)
    // Host-side agents of crashed supervisors first: nothing else ends them.
    if (!options.dryRun) yield* AgentReaper.reapOrphans
    const { Report } = yield* Effect.promise(() => import("@org/sandbox-reconciler/ReconcilePlan"))
    const report = yield* withReconciler(
      loaded,
      { concurrency: options.concurrency, config: options.config },
      (reconciler) =>
        Effect.flatMap(
          reconciler.plan(request),
          (plan) => (options.dryRun ? Effect.succeed(plan.report) : reconciler.act(plan))
        )
    )
    for (const q of report.quarantined) {
      yield* Render.warn(`corrupt record ${q.path} moved to ${q.moved_to}: ${q.reason}`)
    }
    for (const w of report.warnings) {
      yield* Render.warn(w)
    }
    yield* Render.by(options.output, Report, report, renderReport)
    if (report.actions.some((a) => a.status === "failed")) return yield* new ExitWith({ code: 1 })
  }).pipe(Effect.scoped)

/** `session stop --force ID` on an ended session whose sync-back was halted: finish it, past the guard. */
export const forceFinish = (config: Option.Option<string>, id: string, output: Output) =>
  run({ scope: "all", only: id, force: true }, { config, dryRun: false, output, concurrency: 1 })

const reconcile = Command.make(
  "reconcile",
  {
    ...common,
    dryRun,
    allOwners,
    concurrency,
    id: Args.text({ name: "ID" }).pipe(
      Args.optional,
      Args.withDescription("Only this session (or sandbox)")
    ),
    force: Options.boolean("force").pipe(
      Options.withDescription(
        "With ID: sync back even what the mass-deletion guard halts (deletes on the host); past a wiped runtime, " +
          "end with the host intact"
      )
    )
  },
  ({ allOwners, concurrency, config, dryRun, force, id, output }) =>
    Effect.gen(function*() {
      if (force && Option.isNone(id)) {
        return yield* new UsageError({ detail: "--force needs the session to force: sandbox-cli reconcile --force ID" })
      }
      return yield* run({
        scope: "all",
        all_owners: allOwners,
        ...Option.match(id, { onNone: () => ({}), onSome: (only) => ({ only }) }),
        ...(force ? { force: true } : {})
      }, { config, dryRun, output, concurrency })
    })
).pipe(Command.withDescription(
  "After a crash: finish sessions whose supervisor is gone and clean up sandboxes no live session owns"
))

const prune = Command.make(
  "prune",
  {
    ...common,
    dryRun,
    allOwners,
    concurrency,
    backend: Options.text("backend").pipe(Options.optional, Options.withDescription("Only this backend")),
    discard: Options.boolean("discard").pipe(
      Options.withDescription("Also destroy sandboxes whose sync-back left work in them (that work is lost)")
    )
  },
  ({ allOwners, backend, concurrency, config, discard, dryRun, output }) =>
    run({
      scope: "orphans",
      all_owners: allOwners,
      discard,
      ...Option.match(backend, { onNone: () => ({}), onSome: (b) => ({ backend: b }) })
    }, {
      config,
      dryRun,
      output,
      concurrency
    })
).pipe(Command.withDescription("Destroy orphan sandboxes (ours, owned by no live session) and nothing else"))

/** The commands, for the command tree. */
export const commands = [reconcile, prune] as const

// ---- Sessions cut off (see StartupCheck) ------------------------------------------------------------------

/**
 * Finish sessions whose supervisor died (sync back, then persistence, as `reconcile` does), saying so on stderr:
 * one line per session.
 */
export const finishCutOff = (config: Option.Option<string>, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const loaded = yield* AppConfig.load(config)
    const report = yield* withReconciler(
      loaded,
      { config },
      (reconciler) => Effect.flatMap(reconciler.plan({ scope: { sessions: ids } }), reconciler.act)
    )
    for (const a of report.actions) {
      yield* Render.warn(
        `session ${a.session_id} had lost its supervisor; ${
          a.status === "done" ? `finished it (${a.decision}): ${a.detail}` : `could not finish it: ${a.detail}`
        } (see: sandbox-cli reconcile)`
      )
    }
    return report
  })
