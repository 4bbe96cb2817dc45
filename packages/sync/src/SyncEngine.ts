/**
 * The sync engine: core's `WorkspaceSync` service.
 *
 * One cycle: load the ancestor (kept warm in memory between cycles) → scan the host (in process) and the
 * runtime concurrently → reconcile three-way under the mode's policy → safety halts → transfer to the runtime
 * → transfer from the runtime (verify, rename into place) → fold what really happened into the ancestor →
 * validate and save it (`AncestorStore`: a journal line per cycle, a new base now and then).
 *
 * How the runtime is reached is a `RuntimeSide`: `direct` when the provider offers `hostPath` (the runtime is a
 * directory on this host, as with the local provider, bubblewrap or not), `archive` otherwise (one scan exec, one
 * tar each way). Both carry out the same plan with the same checks.
 *
 * A two-way request with a `scope` (a live batch: the paths watchers saw change) reads both sides again only
 * there, with the rest taken from this engine's last scans, and applies the same three-way rules, guards and
 * ancestor update as a full cycle; without an earlier scan to build on it is a full cycle.
 *
 * Modes: `none` moves nothing; `seed` seeds at start and `sync` does nothing; `session-bidirectional` and
 * `live` seed at start and sync both ways at a checkpoint (and, live, at every batch); at `stop`/`crash` it syncs
 * back only (runtime → host; host-only changes are left alone). Seeding a runtime that already has content is
 * one-way-safe: a runtime file that differs is never overwritten, it is reported as a conflict.
 *
 * @since 0.1.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import { SyncError } from "@org/sandbox-core/SandboxError"
import type { ArchiveFormat } from "@org/sandbox-core/SandboxProvider"
import type { Conflict, SyncRequest, SyncResult } from "@org/sandbox-core/WorkspaceSync"
import type { LiveOptions } from "@org/sandbox-core/WorkspaceSync"
import { emptyResult as noChange, WorkspaceSync } from "@org/sandbox-core/WorkspaceSync"
import { Effect, Layer, Option } from "effect"
import * as Ancestor from "./Ancestor.js"
import * as AncestorStore from "./AncestorStore.js"
import * as Conflicts from "./Conflicts.js"
import * as Filter from "./Filter.js"
import * as GitSeed from "./GitSeed.js"
import * as HostScan from "./HostScan.js"
import * as Fold from "./internal/fold.js"
import * as hostFs from "./internal/hostFs.js"
import * as Progress from "./internal/progress.js"
import * as report from "./internal/report.js"
import * as Scope from "./internal/scope.js"
import * as temps from "./internal/temps.js"
import * as LiveSync from "./LiveSync.js"
import type { Entry } from "./Manifest.js"
import type * as RuntimeScan from "./RuntimeScan.js"
import * as RuntimeSide from "./RuntimeSide.js"
import * as RuntimeWatch from "./RuntimeWatch.js"
import * as Safety from "./Safety.js"
import * as SyncPlan from "./SyncPlan.js"
import * as TransferFromRuntime from "./TransferFromRuntime.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Archive compression: `"auto"` (default) follows the provider's `archive_format` hint (plain tar for a runtime
   * on this machine, where gzip would only burn CPU) and uses `gzip -1` for a provider that gives none.
   */
  readonly compression?: "auto" | "none" | "gzip"
  /** Test hooks of the runtime → host apply (see `TransferFromRuntime.Hooks`). */
  readonly hooks?: TransferFromRuntime.Hooks
}

// a sync-back that found more runtime changes than this scans the host in full
const SCOPE_LIMIT = 5000

/**
 * A result with nothing moved.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyResult = noChange

/**
 * Builds the engine.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const executor = yield* CommandExecutor.CommandExecutor
    const warm = new Map<string, { readonly stamp: string; readonly persisted: AncestorStore.Persisted }>()
    const caseFolding = new Map<string, boolean>()
    const cleanSnapshots = new WeakMap<Ancestor.Ancestor, boolean>()
    const snapshotClean = (ancestor: Ancestor.Ancestor): boolean => {
      let clean = cleanSnapshots.get(ancestor)
      if (clean === undefined) {
        clean = SyncPlan.sideClean(ancestor.entries, ancestor.runtime.entries, new Set())
        cleanSnapshots.set(ancestor, clean)
      }
      return clean
    }
    // per state dir: the host's last scan, and the paths written there since
    const lastHost = new Map<string, Scope.LastHost>()
    // per state dir: the paths the last cycle left unsettled, which a scoped cycle reads again
    const unsettled = new Map<string, ReadonlyArray<string>>()

    const loadAncestor = (stateDir: string, identity: Ancestor.Identity) =>
      Effect.gen(function*() {
        const stamp = yield* AncestorStore.stamp(stateDir)
        const hit = warm.get(stateDir)
        if (stamp === "") return Option.none<AncestorStore.Persisted>()
        if (hit !== undefined && hit.stamp === stamp) {
          const a = hit.persisted.ancestor.identity
          return AncestorStore.sameIdentity(a, identity)
            ? Option.some(hit.persisted)
            : Option.none<AncestorStore.Persisted>()
        }
        const loaded = yield* AncestorStore.load(stateDir, identity)
        if (Option.isSome(loaded)) warm.set(stateDir, { stamp, persisted: loaded.value })
        return loaded
      })

    // `undefined`: go through exec and archives (a remote runtime, or a provider that cannot this time)
    const hostPathOf = (provider: SyncRequest["provider"], instance: SyncRequest["instance"]) =>
      provider.hostPath === undefined
        ? Effect.succeed(undefined)
        : provider.hostPath(instance).pipe(
          Effect.map((dir): string | undefined => path.resolve(dir)),
          Effect.catchIf((e) => e.reason === "Unsupported", () => Effect.succeed(undefined))
        )

    // the hook scripts the workspace's own config (the host's, never the runtime's) names: held back whoever calls
    const hooksOfWorkspace = (hostRoot: string) =>
      fs.readFileString(path.join(hostRoot, ConfigFile.PROJECT_FILE)).pipe(
        Effect.flatMap((text) => ConfigFile.parseFile(path.join(hostRoot, ConfigFile.PROJECT_FILE), text)),
        Effect.map((doc) => Conflicts.hookFiles(hostRoot, doc.data["hooks"])),
        Effect.orElseSucceed(() => [] as Array<string>)
      )

    const filtersOf = (request: SyncRequest) => {
      const hostRoot = path.resolve(request.host_root)
      const stateDir = path.resolve(request.state_dir)
      const inside = path.relative(hostRoot, stateDir)
      const anchored = inside !== "" && !inside.startsWith("..") && !path.isAbsolute(inside)
        ? [inside.split(path.sep).join("/")]
        : []
      const filter = Filter.make({
        exclude: request.profile.exclude,
        include: request.profile.include,
        extra: request.extra_excludes ?? [],
        anchored
      })
      // the same rules; a name reserved for the engine's copies is reported there, never silently skipped
      const runtimeFilter = Filter.make({ ...filter.spec, reserved: "report" })
      return { hostRoot, stateDir, filter, runtimeFilter }
    }

    const cycle = Effect.fn("SyncEngine.cycle")(function*(request: SyncRequest, policy: SyncPlan.Policy) {
      const started = Date.now()
      const direction = policy === "seed" ? "to_runtime" : "from_runtime"
      const fail = (reason: SyncError["reason"], detail: string) => new SyncError({ direction, reason, detail })
      const { filter, hostRoot, runtimeFilter, stateDir } = filtersOf(request)
      // what an earlier cycle on this state dir that died mid-apply left (temporary names on the host, staging)
      temps.sweep(stateDir)
      const runtimeRoot = request.instance.workdir
      const profile = request.profile
      const provider = request.provider
      const identity: Ancestor.Identity = {
        session_id: request.session_id,
        sandbox_id: request.sandbox_id,
        instance_id: request.instance.instance_id,
        host_root: hostRoot,
        runtime_root: runtimeRoot
      }
      const format: ArchiveFormat = options.compression === "none"
        ? "tar"
        : options.compression === "gzip"
        ? "tar.gz"
        : provider.archive_format ?? "tar.gz"
      // a runtime that is a directory on this host is scanned by a host process and written directly
      const direct = yield* hostPathOf(provider, request.instance)
      const side: RuntimeSide.RuntimeSide = direct !== undefined
        ? RuntimeSide.direct(direct, hostPathOf(provider, request.instance))
        : RuntimeSide.archive({ provider, instance: request.instance, root: runtimeRoot, format })
      const persisted = yield* loadAncestor(stateDir, identity)
      const loaded = Option.map(persisted, (p) => p.ancestor)
      const ancestor = Option.getOrElse(loaded, () => Ancestor.empty(identity))
      const gitFiles = profile.seed === "git" ? Option.getOrUndefined(yield* GitSeed.listFiles(hostRoot)) : undefined
      if (profile.seed === "git" && gitFiles === undefined) {
        yield* Effect.logWarning(`seed = "git" but ${hostRoot} is not a git work tree: syncing the whole tree`)
      }

      // with no ancestor (a first seed), the runtime scan is usually nothing: then the host's walk takes two threads
      const scanHost = HostScan.scan({
        root: hostRoot,
        filter,
        cache: ancestor.host,
        files: gitFiles,
        threads: Option.isNone(loaded) ? "split" : "here"
      }).pipe(
        Effect.mapError((e) => fail("Io", `cannot scan the workspace ${hostRoot}: ${e.message}`))
      )
      const scanRuntimeWith = (alone: boolean) =>
        side.scan({ filter: runtimeFilter, snapshot: ancestor.runtime, alone })
      let host: HostScan.HostManifest
      let runtime: RuntimeScan.RuntimeManifest
      const hostKey = `${hostRoot}\0${filter.key}`
      // a scoped sync-back: the only paths that can differ (see `SyncPlan.reconcile`)
      let candidates: Array<string> | undefined
      const scopedTwoWay = policy === "two-way" && request.scope !== undefined && gitFiles === undefined &&
          Option.isSome(loaded) && !filter.hasIncludes && ancestor.runtime.filter_key === filter.key
        ? yield* Scope.scanBoth({
          lastHost,
          // what the last cycle left unsettled (conflicts, refusals) is read again: it is not as the ancestor says
          paths: Scope.inScope([...request.scope, ...(unsettled.get(stateDir) ?? [])], filter),
          side,
          hostRoot,
          hostKey,
          stateDir,
          filter,
          runtimeFilter,
          ancestor
        })
        : undefined
      if (scopedTwoWay !== undefined) {
        ;({ candidates, host, runtime } = scopedTwoWay)
      } else if (policy === "sync-back" && gitFiles === undefined && Option.isSome(loaded)) {
        // sync-back only acts where the runtime changed: when it equals the ancestor, the host is not even scanned
        runtime = yield* scanRuntimeWith(true)
        // read only here: the copy is needed only when the filter changed
        const trackedNow = ancestor.runtime.filter_key === filter.key
          ? ancestor.entries
          : Fold.filterAncestor(ancestor.entries, filter, ancestor.runtime.filter_key)
        const runtimeProblems = new Set(runtime.problems.map((p) => p.path))
        // with no change since the snapshot, the runtime is the snapshot: whether that equals the ancestor is
        // asked once per ancestor
        const clean = runtime.changes === 0 && (
          ancestor.runtime.filter_key === filter.key && runtimeProblems.size === 0
            ? snapshotClean(ancestor)
            : SyncPlan.sideClean(trackedNow, runtime.entries, runtimeProblems)
        )
        if (clean) return { ...emptyResult(Date.now() - started) }
        // and on the host it reads only the paths the runtime changed (and what this engine wrote there last
        // time), taking the rest from the host's last full scan, when this engine holds one
        const last = lastHost.get(stateDir)
        const changedPaths = last !== undefined && last.key === hostKey
          ? SyncPlan.sideChanges(trackedNow, runtime.entries, runtimeProblems, SCOPE_LIMIT)
          : undefined
        const scoped = changedPaths === undefined ? undefined : HostScan.scanScoped({
          root: hostRoot,
          filter,
          cache: ancestor.host,
          previous: last!.manifest,
          paths: [...changedPaths, ...last!.written]
        })
        if (scoped?.scope !== undefined) candidates = [...changedPaths!, ...scoped.scope.fresh, ...scoped.scope.dropped]
        host = scoped ?? (yield* scanHost)
      } else {
        // the runtime scan first: on the fast path it starts a child process, which then runs beside the host scan
        ;[runtime, host] = yield* Effect.all([scanRuntimeWith(false), scanHost], { concurrency: 2 })
      }
      // the host as scanned, for the next sync-back; the paths this cycle writes there are added below
      const written: Array<string> = []
      if (gitFiles === undefined) lastHost.set(stateDir, { key: hostKey, manifest: host, written })
      else lastHost.delete(stateDir)

      // the ancestor as seen through today's rules: excluded paths are untracked on both sides
      // (read only from here on: under an unchanged filter, the ancestor's own map, not a copy)
      let tracked: ReadonlyMap<string, Ancestor.AncestorEntry> = ancestor.runtime.filter_key === filter.key
        ? ancestor.entries
        : Fold.filterAncestor(ancestor.entries, filter, ancestor.runtime.filter_key)
      let runtimeEntries: Map<string, Entry> = runtime.entries
      if (gitFiles !== undefined) {
        const ask: Array<{ path: string; dir: boolean }> = []
        for (const [p, e] of runtime.entries) if (!host.entries.has(p)) ask.push({ path: p, dir: e.kind === "dir" })
        for (const [p, e] of tracked) {
          if (!host.entries.has(p) && !runtime.entries.has(p)) ask.push({ path: p, dir: e.kind === "dir" })
        }
        const ignored = yield* GitSeed.ignoredAmong(hostRoot, ask)
        if (ignored.size > 0) {
          runtimeEntries = new Map([...runtime.entries].filter(([p]) => !ignored.has(p)))
          const kept = new Map(tracked)
          for (const p of ignored) kept.delete(p)
          tracked = kept
        }
      }

      if (policy !== "seed") {
        const wiped = Safety.checkWiped({
          ancestorEntries: tracked.size,
          runtimeEntries: runtimeEntries.size,
          rootMissing: runtime.root_missing
        })
        // Forced, the session may end: nothing the empty runtime "deleted" reaches the host, which keeps every
        // file; the runtime is synced as one that never had them.
        if (wiped !== undefined && request.force !== true) return yield* wiped
        if (wiped !== undefined) tracked = new Map()
      }

      const problems = new Set<string>()
      const refused: Array<{ path: string; reason: string }> = []
      for (const p of [...host.problems, ...runtime.problems]) {
        problems.add(p.path)
        refused.push({ path: p.path, reason: p.reason })
      }
      let hostHashed = host.hashed
      const hostDigest = (e: Entry) => {
        if (e.digest === undefined && e.kind === "file") hostHashed++
        return HostScan.digestOf(hostRoot, e)
      }
      const sides = { ancestor: tracked, host: host.entries, runtime: runtimeEntries, problems, hostDigest }
      const plan = SyncPlan.reconcile(sides, policy, candidates)
      const runtimeProblems = runtime.problems.map((p) => ({ path: p.path, reason: p.reason }))
      if (!plan.dirty && runtime.changes === 0 && hostHashed === 0 && Option.isSome(loaded)) {
        const left_behind = report.leftBehind({ problems: runtimeProblems, refused: [], errors: [], conflicts: [] })
        return { ...emptyResult(Date.now() - started), refused, left_behind }
      }

      let caseInsensitive = false
      if (plan.toHost.length > 0) {
        let folded = caseFolding.get(hostRoot)
        if (folded === undefined) {
          folded = hostFs.probeCaseInsensitive(hostRoot) ?? false
          caseFolding.set(hostRoot, folded)
        }
        caseInsensitive = folded
      }
      const hostOps = TransferFromRuntime.buildOps({
        roots: plan.toHost,
        conflicts: plan.conflicts.map((c) => ({
          path: c.path,
          host_change: c.host_change,
          runtime_change: c.runtime_change,
          runtime_copy: null,
          runtime: c.runtime
        })),
        ancestor: tracked,
        host: host.entries,
        runtime: runtimeEntries,
        children: plan.children,
        hostDigest,
        caseInsensitive,
        sessionId: request.session_id,
        ...(request.accept_held === true ? {} : {
          protect: Conflicts.isProtected([
            ...(request.protected_paths ?? []),
            ...(plan.toHost.length > 0 ? yield* hooksOfWorkspace(hostRoot) : [])
          ])
        })
      })
      let hostFiles = 0
      for (const e of host.entries.values()) if (e.kind !== "dir") hostFiles++
      const massDeletion = Safety.checkMassDeletion({
        deletions: hostOps.deletions,
        tracked: hostFiles,
        force: request.force === true
      })
      if (massDeletion !== undefined) return yield* massDeletion

      // the runtime may have been archived or moved while it was scanned: look again before writing
      if (plan.toRuntime.length > 0 || hostOps.ops.length > 0) yield* side.recheck
      let toRuntime: RuntimeSide.ApplyOutcome | undefined
      if (plan.toRuntime.length > 0) {
        toRuntime = yield* side.apply({
          input: {
            roots: plan.toRuntime,
            ancestor: tracked,
            host: host.entries,
            runtime: runtimeEntries,
            children: plan.children,
            hostDigest,
            rawStamps: runtime.raw_stamps
          },
          hostRoot,
          stateDir
        })
      }
      // what may be written on the host is read again by the next scoped scan (see above), even if this fails
      written.push(...plan.toHost)
      for (const c of plan.conflicts) written.push(c.path, Conflicts.copyPath(c.path, request.session_id))
      let fromRuntime: TransferFromRuntime.Applied | undefined
      if (hostOps.ops.length > 0 || hostOps.collisions.length > 0) yield* Progress.enter("transfer")
      if (hostOps.ops.length > 0 || hostOps.collisions.length > 0) {
        fromRuntime = yield* side.read({
          ops: hostOps,
          hostRoot,
          stateDir,
          sessionId: request.session_id,
          hooks: options.hooks,
          ...(runtime.losses !== undefined ? { losses: runtime.losses } : {})
        })
      }

      const folded = Fold.fold({
        previous: ancestor,
        tracked,
        host,
        runtime: { ...runtime, entries: runtimeEntries },
        filterKey: filter.key,
        plan,
        toRuntime,
        fromRuntime
      })
      if (folded.changed || Option.isNone(loaded)) {
        const saved = yield* AncestorStore.save(stateDir, folded.ancestor, Option.getOrUndefined(persisted)).pipe(
          Effect.mapError((e) => fail("Io", `cannot save the sync state in ${stateDir}: ${e.message}`))
        )
        warm.set(stateDir, { stamp: yield* AncestorStore.stamp(stateDir), persisted: saved })
      }

      const conflicts: Array<Conflict> = [...(fromRuntime?.conflicts ?? [])]
      const reported = new Set(conflicts.map((c) => c.path))
      for (const c of plan.conflicts) {
        if (!reported.has(c.path)) {
          conflicts.push({
            path: c.path,
            host_change: c.host_change,
            runtime_change: c.runtime_change,
            runtime_copy: null
          })
        }
      }
      const unreadable = toRuntime?.unreadable ?? []
      for (const p of toRuntime?.applied.failed ?? []) {
        if (unreadable.some((u) => u.path === p)) continue
        refused.push({ path: p, reason: "changed in the runtime during the sync; retried at the next sync" })
      }
      refused.push(...unreadable)
      if (toRuntime !== undefined) {
        // what landed is what was sent: anything else the apply did not account for is an error, never success
        const landed = report.notLanded({
          roots: plan.toRuntime,
          host: host.entries,
          children: plan.children,
          final: toRuntime.applied.final,
          failed: toRuntime.applied.failed,
          raced: toRuntime.raced,
          skipped: new Set(unreadable.map((u) => u.path))
        })
        const broken = toRuntime.broken ?? []
        if (request.reason === "live") {
          // live, the runtime is written while we write: what changed as it landed is not in the ancestor (the
          // fold keeps only what matches), and the runtime's watcher brings it to the next batch
          for (const b of broken) refused.push({ path: b.path, reason: `${b.reason}; synced again by the next batch` })
          for (const p of landed.missing) {
            refused.push({
              path: p,
              reason: "changed in the runtime as it was written; synced again by the next batch"
            })
          }
        } else if (landed.missing.length > 0 || broken.length > 0) {
          const paths = [...new Set([...broken.map((b) => b.path), ...landed.missing])]
          return yield* new SyncError({
            direction: "to_runtime",
            reason: "Io",
            path: paths[0]!,
            detail: `${paths.length} of ${landed.planned} entries sent to the runtime did not land ` +
              `(${paths.slice(0, 5).join(", ")}${paths.length > 5 ? ", …" : ""})` +
              (broken.length > 0 ? `: ${broken[0]!.reason}` : "")
          })
        }
      }
      const allRefused = [...refused, ...(fromRuntime?.refused ?? [])]
      unsettled.set(stateDir, [
        ...plan.conflicts.map((c) => c.path),
        ...allRefused.map((r) => r.path),
        ...(toRuntime?.applied.failed ?? []),
        ...(fromRuntime?.failed ?? [])
      ])
      const left_behind = report.leftBehind({
        problems: runtimeProblems,
        refused: fromRuntime?.refused ?? [],
        errors: fromRuntime?.errors ?? [],
        conflicts
      })
      const result: SyncResult = {
        files_to_runtime: folded.stats.files_to_runtime,
        bytes_to_runtime: folded.stats.bytes_to_runtime,
        deleted_in_runtime: folded.stats.deleted_in_runtime,
        files_from_runtime: fromRuntime?.files ?? 0,
        bytes_from_runtime: fromRuntime?.bytes ?? 0,
        deleted_on_host: fromRuntime?.deleted ?? 0,
        conflicts: conflicts.sort((a, b) => (a.path < b.path ? -1 : 1)),
        refused: allRefused,
        held: fromRuntime?.held ?? [],
        left_behind,
        notices: [...(toRuntime?.notices ?? []), ...(fromRuntime?.notices ?? [])].sort((a, b) =>
          a.path < b.path ? -1 : 1
        ),
        duration_ms: Date.now() - started
      }
      return result
    })

    const provideAll = <A, E>(
      effect: Effect.Effect<A, E, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor>
    ): Effect.Effect<A, E> =>
      effect.pipe(
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.provideService(Path.Path, path),
        Effect.provideService(CommandExecutor.CommandExecutor, executor)
      )

    // what a cycle moved, for its last progress event
    const moved = (r: SyncResult) => ({
      entries: r.files_to_runtime + r.deleted_in_runtime + r.files_from_runtime + r.deleted_on_host,
      bytes: r.bytes_to_runtime + r.bytes_from_runtime
    })

    const seed = Effect.fn("SyncEngine.seed")(function*(request: SyncRequest) {
      if (request.profile.sync_mode === "none") return emptyResult()
      return yield* provideAll(Progress.track("seed", request.session_id, cycle(request, "seed"), moved))
    })

    const sync = Effect.fn("SyncEngine.sync")(function*(request: SyncRequest) {
      const mode = request.profile.sync_mode
      if (mode === "none" || mode === "seed") return emptyResult()
      const policy: SyncPlan.Policy = request.reason === "stop" || request.reason === "crash" ? "sync-back" : "two-way"
      const operation = policy === "sync-back" ? "sync_back" : "sync"
      return yield* provideAll(Progress.track(operation, request.session_id, cycle(request, policy), moved))
    })

    // the session ended for good: its sync state goes, on disk and in memory
    const forget = Effect.fn("SyncEngine.forget")(function*(state_dir: string) {
      const stateDir = path.resolve(state_dir)
      warm.delete(stateDir)
      lastHost.delete(stateDir)
      unsettled.delete(stateDir)
      temps.sweep(stateDir)
      yield* provideAll(AncestorStore.forget(stateDir))
    })

    // live sync: a watcher on each side (the runtime's own directory when it is on this host, else a watcher
    // process inside the runtime streaming over one exec), batches run by the caller
    const live = (request: SyncRequest, liveOptions: LiveOptions) =>
      Effect.gen(function*() {
        const { filter, hostRoot, runtimeFilter } = filtersOf(request)
        const direct = yield* hostPathOf(request.provider, request.instance).pipe(
          Effect.orElseSucceed(() => undefined)
        )
        const runtime = direct !== undefined
          ? LiveSync.treeWatch(direct, runtimeFilter)
          : RuntimeWatch.make({
            provider: request.provider,
            instance: request.instance,
            root: request.instance.workdir,
            filter: runtimeFilter
          })
        return yield* LiveSync.run({
          ...liveOptions,
          host: LiveSync.treeWatch(hostRoot, filter),
          runtime
        })
      })

    return WorkspaceSync.of({
      live,
      seed: seed as (request: SyncRequest) => Effect.Effect<SyncResult, SyncError | ProviderError>,
      sync: sync as (request: SyncRequest) => Effect.Effect<SyncResult, SyncError | ProviderError>,
      forget
    })
  })

/**
 * The engine as core's `WorkspaceSync` (requires `FileSystem`, `Path` and `CommandExecutor`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  WorkspaceSync,
  never,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> = Layer.effect(WorkspaceSync, make())

/**
 * The engine with options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<WorkspaceSync, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Layer.effect(WorkspaceSync, make(options))
