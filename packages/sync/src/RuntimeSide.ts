/**
 * The runtime side of a sync cycle, as one interface with two implementations, so that the one-shot cycle, the
 * sync-back and live sync share one path:
 * - {@link direct}: the runtime is a directory on this host (a provider with `hostPath`, such as the local
 *   provider): it is walked in process (`DirectRuntime.scan`), written with direct file operations
 *   (`DirectRuntime.applyToRuntime`) and read with direct copies (`TransferFromRuntime.runDirect`);
 * - {@link archive}: a remote runtime: one scan exec (`RuntimeScan`), host → runtime as one tar, one `putArchive`
 *   and one apply exec (`TransferToRuntime.run`), runtime → host as one `getArchive` (`TransferFromRuntime.run`).
 *
 * Both decide alike: the steps, checks and reports come from the same planning modules; only the way the bytes
 * move differs.
 *
 * @since 0.1.0
 */
import type { CommandExecutor, FileSystem, Path } from "@effect/platform"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import { SyncError } from "@org/sandbox-core/SandboxError"
import type { ArchiveFormat, Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import * as DigestCache from "./DigestCache.js"
import * as DirectRuntime from "./DirectRuntime.js"
import type { Filter } from "./Filter.js"
import * as HostScan from "./HostScan.js"
import type { ToRuntimeOutcome } from "./internal/fold.js"
import * as hostFs from "./internal/hostFs.js"
import * as Progress from "./internal/progress.js"
import { Entry } from "./Manifest.js"
import type { RuntimeManifest, Snapshot } from "./RuntimeScan.js"
import * as RuntimeScan from "./RuntimeScan.js"
import * as ScopedRuntimeScan from "./ScopedRuntimeScan.js"
import * as TransferFromRuntime from "./TransferFromRuntime.js"
import * as TransferToRuntime from "./TransferToRuntime.js"

/**
 * What a host → runtime apply reports: the transfer's outcome, plus (direct only) what the copies could not read
 * or keep.
 *
 * @since 0.1.0
 * @category models
 */
export type ApplyOutcome = ToRuntimeOutcome & Partial<DirectRuntime.Outcome>

/**
 * @since 0.1.0
 * @category models
 */
export type Requirements = FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor

/**
 * @since 0.1.0
 * @category models
 */
export interface RuntimeSide {
  readonly kind: "direct" | "archive"
  /** The runtime's root: a host directory (direct) or a path inside the sandbox (archive). */
  readonly root: string
  /** Scans the whole runtime tree, reporting differences from the snapshot; `alone`: nothing else scans now. */
  readonly scan: (options: {
    readonly filter: Filter
    readonly snapshot: Snapshot
    readonly alone: boolean
  }) => Effect.Effect<RuntimeManifest, SyncError | ProviderError, Requirements>
  /**
   * Scans only `paths` (each with its subtree, and the directories above it) and takes every other entry from
   * the snapshot; `touched` holds every path whose entry may differ from the snapshot's. `undefined` when that
   * cannot be trusted (too many records to read again, the root gone): then the caller scans in full.
   */
  readonly scanScope: (options: {
    readonly filter: Filter
    readonly snapshot: Snapshot
    readonly paths: ReadonlyArray<string>
  }) => Effect.Effect<Scoped | undefined, SyncError | ProviderError, Requirements>
  /** Right before writing: fails when the runtime is no longer where it was scanned. */
  readonly recheck: Effect.Effect<void, SyncError | ProviderError>
  /** Makes the plan's host → runtime roots equal to the host's in the runtime. */
  readonly apply: (options: {
    readonly input: TransferToRuntime.Input
    readonly hostRoot: string
    readonly stateDir: string
  }) => Effect.Effect<ApplyOutcome, SyncError | ProviderError, Requirements>
  /** Reads what the host ops need from the runtime and applies them on the host. */
  readonly read: (options: {
    readonly ops: TransferFromRuntime.Ops
    readonly hostRoot: string
    readonly stateDir: string
    readonly sessionId: string
    readonly hooks?: TransferFromRuntime.Hooks | undefined
    /** What a copy of each file loses, as the scan saw it: said for what an archive brings (it cannot tell). */
    readonly losses?: ReadonlyMap<string, string>
  }) => Effect.Effect<TransferFromRuntime.Applied, SyncError | ProviderError, Requirements>
}

// more paths to read again than this: a full scan costs about the same
const SCOPE_LIMIT = 5000

/**
 * A scoped runtime scan.
 *
 * @since 0.1.0
 * @category models
 */
export type Scoped = ScopedRuntimeScan.Scoped

const unreachable = (detail: string) => new SyncError({ direction: "from_runtime", reason: "Unreachable", detail })

/**
 * A runtime that is a directory on this host. `locate` finds it again (it must not have moved before a write).
 *
 * @since 0.1.0
 * @category constructors
 */
export const direct = (
  dir: string,
  locate: Effect.Effect<string | undefined, ProviderError>
): RuntimeSide => ({
  kind: "direct",
  root: dir,
  scan: ({ alone, filter, snapshot }) => DirectRuntime.scan({ root: dir, filter, snapshot, alone }),
  scanScope: ({ filter, paths, snapshot }) => Effect.sync(() => scanDirectScope(dir, filter, snapshot, paths)),
  recheck: Effect.flatMap(locate, (again) =>
    again === dir ? Effect.void : Effect.fail(
      new SyncError({
        direction: "from_runtime",
        reason: "Changed",
        detail: `the runtime directory moved during the sync (${dir} → ${again ?? "none"})`
      })
    )),
  apply: ({ hostRoot, input, stateDir }) =>
    Effect.suspend(() => {
      const { steps } = TransferToRuntime.buildSteps(input)
      return DirectRuntime.applyToRuntime({
        steps,
        hostRoot,
        runtimeRoot: dir,
        host: input.host,
        children: input.children,
        stateDir
      })
    }),
  read: ({ hooks, hostRoot, ops, sessionId, stateDir }) =>
    TransferFromRuntime.runDirect({
      ops,
      hostRoot,
      runtimeDir: dir,
      sessionId,
      stateDir,
      ...(hooks !== undefined ? { hooks } : {})
    })
})

/**
 * A remote runtime, reached through the provider's exec and archive transfer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const archive = (options: {
  readonly provider: ProviderService
  readonly instance: Instance
  readonly root: string
  readonly format: ArchiveFormat
}): RuntimeSide => {
  const { format, instance, provider, root } = options
  const scan: RuntimeSide["scan"] = ({ filter, snapshot }) =>
    RuntimeScan.scan({ provider, instance, root, filter, snapshot }).pipe(
      Effect.flatMap((r) =>
        "error" in r ? Effect.fail(unreachable(`cannot scan the runtime: ${r.error}`)) : Effect.succeed(r.manifest)
      )
    )
  return {
    kind: "archive",
    root,
    scan,
    // only the scope is walked, and only its part of the snapshot's keys is sent: one exec whose cost follows the
    // batch, not the tree
    scanScope: ({ filter, paths, snapshot }) =>
      ScopedRuntimeScan.scan({ provider, instance, root, filter, snapshot, paths, limit: SCOPE_LIMIT }).pipe(
        Effect.flatMap((r) =>
          r !== undefined && "error" in r
            ? Effect.fail(unreachable(`cannot scan the runtime: ${r.error}`))
            : Effect.succeed(r)
        )
      ),
    recheck: Effect.void,
    apply: ({ hostRoot, input, stateDir }) =>
      Effect.gen(function*() {
        const ops = TransferToRuntime.buildOps(input)
        yield* Progress.enter("transfer")
        return yield* TransferToRuntime.run({
          ops,
          hostRoot,
          stateDir,
          runtimeRoot: root,
          provider,
          instance,
          format,
          host: input.host
        })
      }),
    read: ({ hooks, hostRoot, losses, ops, sessionId, stateDir }) =>
      TransferFromRuntime.run({
        ops,
        hostRoot,
        stateDir,
        runtimeRoot: root,
        provider,
        instance,
        format,
        sessionId,
        ...(hooks !== undefined ? { hooks } : {}),
        ...(losses !== undefined ? { losses } : {})
      })
  }
}

/**
 * A scoped scan of a runtime directory: the host scanner's scoped walk over a copy of the snapshot, then every
 * file read again gets its digest (the snapshot's when its stat is unchanged and its record trusted, else hashed
 * now), so the manifest is complete as a full scan's is.
 */
const scanDirectScope = (
  root: string,
  filter: Filter,
  snapshot: Snapshot,
  paths: ReadonlyArray<string>
): Scoped | undefined => {
  // a record that must be read again (racy, or with no digest) is read again whether the scope names it or not
  const scope = [...paths]
  for (const e of snapshot.entries.values()) {
    if (RuntimeScan.trusted(snapshot, e)) continue
    if (scope.length > SCOPE_LIMIT) return undefined
    scope.push(e.path)
  }
  const previous: HostScan.HostManifest = {
    entries: new Map(snapshot.entries),
    problems: [],
    scan_ns: 0n,
    hashed: 0
  }
  const scoped = HostScan.scanScoped({ root, filter, previous, paths: scope })
  if (scoped?.scope === undefined) return undefined
  const { entries, scan_ns } = scoped
  const racy = new Set<string>()
  let changes = 0
  let hashed = 0
  const problems = [...scoped.problems]
  for (const p of scoped.scope.fresh) {
    const e = entries.get(p)!
    const before = snapshot.entries.get(p)
    if (
      before !== undefined && before.kind === e.kind && before.mode === e.mode &&
      (e.kind === "dir" || (e.kind === "symlink" ? before.link_target === e.link_target : (
        before.size === e.size && before.mtime_ns === e.mtime_ns && before.ino === e.ino &&
        RuntimeScan.trusted(snapshot, before)
      )))
    ) {
      entries.set(p, before)
      continue
    }
    changes++
    if (e.kind !== "file") continue
    const digest = hostFs.hashFile(`${root}/${p}`)
    hashed++
    if (digest === undefined) {
      entries.delete(p)
      problems.push({ path: p, reason: "changed while being scanned" })
      continue
    }
    entries.set(p, new Entry(p, e.kind, e.size, e.mtime_ns, e.mode, e.ino, digest, e.link_target))
    if (DigestCache.isRacy(e.mtime_ns, scan_ns)) racy.add(p)
  }
  for (const p of scoped.scope.dropped) if (!entries.has(p)) changes++
  return {
    manifest: { entries, problems, scan_ns, root_missing: false, changes, hashed, raw_stamps: new Map(), racy },
    touched: new Set([...scoped.scope.fresh, ...scoped.scope.dropped, ...problems.map((x) => x.path)])
  }
}
