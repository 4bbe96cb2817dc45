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
import { Effect, Fiber } from "effect"
import * as DigestCache from "./DigestCache.js"
import type { Filter } from "./Filter.js"
import * as hostFs from "./internal/hostFs.js"
import * as walkInWorker from "./internal/walkInWorker.js"
import { baseName, Entry, type Manifest, parentOf, unsafeLinkReason } from "./Manifest.js"

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
   * `"split"`: half of the walk in this thread, half in a worker thread where one can start (when nothing else
   * is scanned meanwhile, such as a first seed); `"here"` (default): all of it in this thread.
   */
  readonly threads?: "here" | "split"
}

/**
 * The result of a walk (entries without digests).
 *
 * @since 0.1.0
 * @category models
 */
export interface Walked {
  readonly entries: Map<string, Entry>
  readonly problems: Array<Manifest["problems"][number]>
  /** The entries belong to a walk held elsewhere (a worker's): never mutated, a digest goes into a new entry. */
  readonly shared?: boolean
  /** Digests of the walk's regular files, hashed where the walk was done (absent: not hashed). */
  readonly digests?: ReadonlyMap<string, string>
  /** A worker's walk: its version, and the version it found nothing changed since (if so). */
  readonly version?: { readonly token: string; readonly sameAs: string | undefined }
}

/**
 * A host manifest and how many files its scan hashed.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostManifest extends Manifest {
  readonly hashed: number
  /**
   * Set by {@link scanScoped}: the paths read again (`fresh`, present now) and the earlier scan's paths it
   * dropped (gone, or replaced with what is there now); every other entry is the earlier scan's.
   */
  readonly scope?: { readonly fresh: ReadonlySet<string>; readonly dropped: ReadonlySet<string> } | undefined
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
  const files = options.files
  const all = options.hash === "all"
  // hashing everything is the heavy case: the walk and the hashing then go to two worker threads, where they can
  const walked: Walked = files !== undefined
    ? yield* Effect.sync(() => hostFs.statList(options.root, files, options.filter))
    : (all ? yield* walkInWorker.walkSplit(options.root, options.filter, true) : undefined) ??
      (options.threads === "split" ? yield* halfHere(options.root, options.filter) : undefined) ??
      (yield* walk(options.root, options.filter))
  const { entries, problems } = walked
  const reuse = options.reuse
  let hashed = 0
  yield* Effect.sync(() => {
    for (const [p, seen] of entries) {
      if (seen.kind !== "file") continue
      // a shared entry is never mutated: the manifest gets its own
      const entry = walked.shared === true
        ? new Entry(p, "file", seen.size, seen.mtime_ns, seen.mode, seen.ino, undefined, undefined)
        : seen
      if (entry !== seen) entries.set(p, entry)
      const cached = reuse !== undefined ? reuse(entry) : DigestCache.lookup(options.cache, entry)
      if (cached !== undefined) entry.digest = cached
      else if (all || DigestCache.isRacy(entry.mtime_ns, scan_ns)) {
        entry.digest = walked.digests?.get(p) ?? hostFs.hashFile(`${options.root}/${p}`)
        hashed++
      }
    }
  })
  const manifest: HostManifest = { entries, problems, scan_ns, hashed }
  return manifest
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ScopedOptions {
  readonly root: string
  readonly filter: Filter
  readonly cache?: DigestCache.DigestCache | undefined
  /**
   * A full scan of the same root under the same filter, taken earlier: the state assumed outside the scope. Its
   * map of entries is updated in place and becomes the result's.
   */
  readonly previous: HostManifest
  /** The paths to look at again: each of them (with its whole subtree) and the directories above it. */
  readonly paths: Iterable<string>
}

/**
 * Rescans only some paths of a tree and takes everything else from an earlier full scan: each path of `paths`
 * with its subtree is read again (a directory walked), and so are the directories above it; entries and problems
 * of the earlier scan at and below those paths are replaced. Meant for a sync-back, which acts only where the
 * runtime changed: the host's state elsewhere does not decide anything there. `undefined` when a path lies in or
 * at an excluded directory (its rules are the full walker's business): then the caller scans in full.
 *
 * @since 0.1.0
 * @category scanning
 */
export const scanScoped = (options: ScopedOptions): HostManifest | undefined => {
  const { filter, previous, root } = options
  const scan_ns = hostFs.nowNs()
  const top = hostFs.lstat(root)
  if (top === undefined || top.kind !== "dir") return undefined
  const fresh = new Map<string, Entry>()
  const problems: Array<Manifest["problems"][number]> = []
  // paths whose earlier subtree is replaced by what is read now; directories read only for their own entry
  const replaced = new Set<string>()
  const seen = new Set<string>()
  let hashed = 0
  const entryOf = (rel: string, st: hostFs.HostStat): Entry | undefined => {
    if (st.kind === "other") return undefined
    const bad = hostFs.problemName(baseName(rel))
    if (bad !== undefined) {
      problems.push({ path: rel, reason: bad })
      return undefined
    }
    let target: string | undefined
    if (st.kind === "symlink") {
      target = hostFs.ops.readlink(`${root}/${rel}`)
      if (target === undefined) return undefined
      const unsafe = unsafeLinkReason(rel, target)
      if (unsafe !== undefined) {
        problems.push({ path: rel, reason: unsafe })
        return undefined
      }
    }
    if (st.kind === "dir" && st.dev !== top.dev) {
      problems.push({ path: rel, reason: "scan crossed a filesystem boundary" })
      return undefined
    }
    return new Entry(rel, st.kind, st.kind === "dir" ? 0 : st.size, st.mtime_ns, st.mode, st.ino, undefined, target)
  }
  // reads `rel` again: a directory above a scoped path only for itself, unless it is no directory any more
  const look = (rel: string, whole: boolean): boolean => {
    if (filter.excluded(rel, true)) return false
    const st = hostFs.lstat(`${root}/${rel}`)
    const entry = st === undefined ? undefined : entryOf(rel, st)
    if (entry !== undefined && filter.excluded(rel, entry.kind === "dir")) return false
    if (!whole && entry?.kind === "dir") {
      fresh.set(rel, entry)
      return true
    }
    replaced.add(rel)
    if (entry === undefined) return true
    fresh.set(rel, entry)
    if (entry.kind === "dir") {
      const walker = new hostFs.Walker(root, filter, undefined, rel).run()
      for (const [p, e] of walker.entries) fresh.set(p, e)
      problems.push(...walker.problems)
    }
    return true
  }
  for (const path of options.paths) {
    if (seen.has(path)) continue
    const above: Array<string> = []
    for (let q = parentOf(path); q !== "" && !seen.has(q); q = parentOf(q)) above.push(q)
    for (let i = above.length - 1; i >= 0; i--) {
      seen.add(above[i]!)
      if (!look(above[i]!, false)) return undefined
    }
    seen.add(path)
    if (!look(path, true)) return undefined
  }
  // a directory that is no longer one (or gone) takes its earlier subtree along
  const under = (p: string): boolean => {
    for (let q = parentOf(p); q !== ""; q = parentOf(q)) if (replaced.has(q)) return true
    return false
  }
  // the earlier scan's map itself is updated (the engine holds it for this only; copying it would cost more than
  // everything else a scoped scan does)
  const entries = previous.entries
  const dropped = new Set<string>()
  let deep = false
  for (const p of replaced) {
    if (entries.get(p)?.kind === "dir") deep = true
    if (entries.delete(p)) dropped.add(p)
  }
  if (deep) {
    for (const p of entries.keys()) {
      if (under(p)) {
        entries.delete(p)
        dropped.add(p)
      }
    }
  }
  for (const [p, e] of fresh) {
    if (e.kind === "file") {
      const cached = DigestCache.lookup(options.cache, e)
      if (cached !== undefined) e.digest = cached
      else if (DigestCache.isRacy(e.mtime_ns, scan_ns)) {
        e.digest = hostFs.hashFile(`${root}/${p}`)
        hashed++
      }
    }
    entries.set(p, e)
  }
  const kept = previous.problems.filter((x) => !replaced.has(x.path) && !under(x.path))
  const manifest: HostManifest = {
    entries,
    problems: [...kept, ...problems],
    scan_ns,
    hashed,
    scope: { fresh: new Set(fresh.keys()), dropped }
  }
  return manifest
}

/** Half of the walk here, half in a worker: its files copied into entries of this manifest's own. */
const halfHere = (root: string, filter: Filter): Effect.Effect<Walked | undefined, Error> =>
  Effect.gen(function*() {
    if (!walkInWorker.available()) return undefined
    const theirs = yield* Effect.fork(walkInWorker.walk(root, filter, 1))
    const walker = yield* Effect.try({
      try: () => new hostFs.Walker(root, filter, 0),
      catch: (error) => error as Error
    })
    while (!(yield* Effect.sync(() => walker.step(SLICE)))) yield* yieldToLoop
    const other = yield* Fiber.join(theirs)
    if (other === undefined) return undefined
    const entries = walker.entries
    for (const [p, e] of other.entries) {
      entries.set(
        p,
        e.kind === "file" ? new Entry(p, "file", e.size, e.mtime_ns, e.mode, e.ino, undefined, undefined) : e
      )
    }
    return { entries, problems: [...walker.problems, ...other.problems] }
  })

/**
 * Walks a tree in this thread (fresh entries, no digests), in slices of {@link SLICE} entries with the event loop
 * served in between. Fails when the root is not a directory.
 *
 * @since 0.1.0
 * @category scanning
 */
export const walk = (root: string, filter: Filter): Effect.Effect<Walked, Error> =>
  Effect.gen(function*() {
    const walker = yield* Effect.try({
      try: () => new hostFs.Walker(root, filter),
      catch: (error) => error as Error
    })
    while (!(yield* Effect.sync(() => walker.step(SLICE)))) yield* yieldToLoop
    return { entries: walker.entries, problems: walker.problems }
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
