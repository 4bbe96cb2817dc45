/**
 * The host scanner: a synchronous `readdirSync` + `lstatSync` walk (see `internal/hostFs.ts` for why it is
 * synchronous), run in slices so that a concurrent runtime scan's output keeps flowing, with digests reused
 * from the {@link DigestCache}.
 *
 * Digests are computed lazily: the scan only hashes files whose cache record is missing or stale AND which are
 * racy (modified within the racy window of this scan) or when `hash: "all"` is asked. Everything else is hashed
 * on demand by {@link digestOf}, which the reconcile calls only for paths it must compare.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as DigestCache from "./DigestCache.js"
import type { Filter } from "./Filter.js"
import * as hostFs from "./internal/hostFs.js"
import { Entry, type Manifest } from "./Manifest.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ScanOptions {
  readonly root: string
  readonly filter: Filter
  readonly cache?: DigestCache.DigestCache | undefined
  /** Instead of `cache`: the digest to reuse for a scanned file, or `undefined` when it must be hashed. */
  readonly reuse?: ((entry: Entry) => string | undefined) | undefined
  /** `"lazy"` (default): hash only racy cache misses now; `"all"`: hash every file not served by the cache. */
  readonly hash?: "lazy" | "all"
  /** Scan exactly these files (from `git ls-files`) and the directories above them instead of walking. */
  readonly files?: ReadonlyArray<string> | undefined
  /**
   * The walk done elsewhere (a worker thread, see `internal/scanWorker.ts`): fresh entries and problems, exactly
   * what the walker here would produce; `undefined` when it is not available, then the walk happens here.
   */
  readonly walked?: Effect.Effect<Walked | undefined, Error> | undefined
}

/**
 * The result of a walk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Walked {
  readonly entries: Map<string, Entry>
  readonly problems: Array<Manifest["problems"][number]>
}

/**
 * A host manifest and how many files its scan hashed.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostManifest extends Manifest {
  readonly hashed: number
}

/**
 * Entries scanned per slice before yielding to the event loop.
 *
 * @since 0.1.0
 * @category constants
 */
export const SLICE = 512

const yieldToLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Scans a host tree.
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = Effect.fn("HostScan.scan")(function*(options: ScanOptions) {
  const scan_ns = hostFs.nowNs()
  let walked: Walked | undefined
  if (options.files !== undefined) {
    const files = options.files
    walked = yield* Effect.sync(() => hostFs.statList(options.root, files, options.filter))
  } else if (options.walked !== undefined) {
    walked = yield* options.walked
  }
  if (walked === undefined) {
    const walker = yield* Effect.try({
      try: () => new hostFs.Walker(options.root, options.filter),
      catch: (error) => error as Error
    })
    while (!(yield* Effect.sync(() => walker.step(SLICE)))) yield* yieldToLoop
    walked = { entries: walker.entries, problems: walker.problems }
  }
  const { entries, problems } = walked
  const all = options.hash === "all"
  const reuse = options.reuse
  let hashed = 0
  yield* Effect.sync(() => {
    for (const entry of entries.values()) {
      if (entry.kind !== "file") continue
      const cached = reuse !== undefined ? reuse(entry) : DigestCache.lookup(options.cache, entry)
      if (cached !== undefined) entry.digest = cached
      else if (all || DigestCache.isRacy(entry.mtime_ns, scan_ns)) {
        entry.digest = hostFs.hashFile(`${options.root}/${entry.path}`)
        hashed++
      }
    }
  })
  const manifest: HostManifest = { entries, problems, scan_ns, hashed }
  return manifest
})

/**
 * The digest of a host file entry, hashing it now if the scan did not. `undefined` when the file can no longer
 * be read as a regular file.
 *
 * @since 0.1.0
 * @category scanning
 */
export const digestOf = (root: string, entry: Entry): string | undefined => {
  if (entry.digest === undefined && entry.kind === "file") entry.digest = hostFs.hashFile(`${root}/${entry.path}`)
  return entry.digest
}

/**
 * The current state of one host path, without following symlinks.
 *
 * @since 0.1.0
 * @category scanning
 */
export const lstat = (abs: string): hostFs.HostStat | undefined => hostFs.lstat(abs)

/**
 * Rebuilds an entry from a fresh `lstat` (after the engine wrote a path).
 *
 * @since 0.1.0
 * @category scanning
 */
export const entryAt = (root: string, path: string): Entry | undefined => {
  const st = hostFs.lstat(`${root}/${path}`)
  if (st === undefined || st.kind === "other") return undefined
  const target = st.kind === "symlink" ? hostFs.ops.readlink(`${root}/${path}`) : undefined
  return new Entry(path, st.kind, st.kind === "dir" ? 0 : st.size, st.mtime_ns, st.mode, st.ino, undefined, target)
}
