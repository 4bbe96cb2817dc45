/**
 * Runtime → host transfer: ONE `provider.getArchive` of exactly the files and symlinks needed, extracted by the
 * host's `tar` into a fresh staging directory under `state_dir`, then verified and put into place:
 * - the archive listing is checked first: an absolute or `..` member is refused and reported;
 * - each staged entry must be what the runtime manifest said (kind, size, sha256, symlink target), reached
 *   without crossing a symlink, and a symlink must stay inside the root;
 * - before every host mutation the target is `lstat`ed again and must still equal what the scan saw (kind,
 *   size, mtime, inode; absent for a creation), else the path becomes a conflict and the runtime's version is
 *   kept beside it; every parent component must be a real directory (never write through a symlink);
 * - files go into place by rename (via a temp file in the target directory when staging is on another
 *   filesystem), symlinks via a temp link renamed over the target; the target is `lstat`ed once more
 *   immediately before that rename (after the copy, which may take long), and a creation is linked into place
 *   (`link(2)` never replaces a name), so a host edit made while the copy ran becomes a conflict, never lost;
 * - the temporary names are recorded in `state_dir` first (`internal/temps.ts`): if the process dies mid-copy,
 *   the next sync removes them.
 * When the runtime is a directory on this host ({@link runDirect}) there is no archive and no staging: the same
 * ops and checks apply, the entries are read from the runtime's directory (never through a symlink there), and
 * each file is copied beside its target and checked (size, sha256) before the rename.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { SyncError } from "@org/sandbox-core/SandboxError"
import type { ArchiveFormat, Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import type { Conflict, Held } from "@org/sandbox-core/WorkspaceSync"
import { Effect, Option } from "effect"
import * as Conflicts from "./Conflicts.js"
import { INTERNAL_PREFIX } from "./Filter.js"
import type { Ops } from "./HostOps.js"
import { run as runCommand } from "./internal/command.js"
import * as hostFs from "./internal/hostFs.js"
import * as Progress from "./internal/progress.js"
import * as temps from "./internal/temps.js"
import { Entry, parentOf, unsafeLinkReason } from "./Manifest.js"

/**
 * The ops this module applies (planned in `HostOps`).
 *
 * @since 0.1.0
 */
export { buildOps, type HostOp, type Input, type Ops } from "./HostOps.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Applied {
  /** Host state after the apply for every path an op touched. */
  readonly final: Map<string, Entry>
  /** Paths whose op was not carried out. */
  readonly failed: Set<string>
  readonly conflicts: Array<Conflict>
  /** Changes to protected paths held back. */
  readonly held: Array<Held>
  readonly refused: Array<{ readonly path: string; readonly reason: string }>
  /** Runtime entries whose write failed on the host (an error code): not brought home. */
  readonly errors: Array<{ readonly path: string; readonly reason: string }>
  /** What the transfer did not keep (a sparse file written in full, a hard link split). */
  readonly notices: Array<{ readonly path: string; readonly reason: string }>
  readonly files: number
  readonly bytes: number
  readonly deleted: number
}

const unescapeListing = (name: string): string =>
  name.replace(
    /\\(\\|n|t|[0-7]{3})/g,
    (_, c: string) => c === "\\" ? "\\" : c === "n" ? "\n" : c === "t" ? "\t" : String.fromCharCode(parseInt(c, 8))
  )

/**
 * Why a member name of a runtime archive is refused, or `undefined`.
 *
 * @since 0.1.0
 * @category verification
 */
export const memberRefusal = (name: string): string | undefined => {
  if (name.startsWith("/")) return "absolute path in the runtime archive"
  if (name.split("/").includes("..")) return "'..' in a path of the runtime archive"
  return undefined
}

const sameAsScanned = (st: hostFs.HostStat | undefined, expect: Entry | undefined): boolean => {
  if (expect === undefined) return st === undefined
  if (st === undefined || st.kind !== expect.kind) return false
  return expect.kind === "dir" || (st.size === expect.size && st.mtime_ns === expect.mtime_ns && st.ino === expect.ino)
}

/**
 * Fetches, verifies and applies host ops.
 *
 * @since 0.1.0
 * @category transfer
 */
export const run = Effect.fn("TransferFromRuntime.run")(function*(options: {
  readonly ops: Ops
  readonly hostRoot: string
  readonly stateDir: string
  readonly runtimeRoot: string
  readonly provider: ProviderService
  readonly instance: Instance
  readonly format: ArchiveFormat
  readonly sessionId: string
  readonly hooks?: Hooks
  /** What a copy of each runtime file loses, as the runtime's scan saw it (the archive cannot tell). */
  readonly losses?: ReadonlyMap<string, string>
}) {
  const nonce = temps.nonce()
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const io = (detail: string) => new SyncError({ direction: "from_runtime", reason: "Io", detail })
  const { ops } = options
  const refused: Array<{ path: string; reason: string }> = []
  const refusedPaths = new Set<string>()
  yield* fs.makeDirectory(options.stateDir, { recursive: true }).pipe(Effect.mapError((e) => io(e.message)))
  const staging = yield* fs.makeTempDirectory({ directory: options.stateDir, prefix: `${INTERNAL_PREFIX}in-` }).pipe(
    Effect.mapError((e) => io(e.message))
  )
  const archive = path.join(options.stateDir, `${INTERNAL_PREFIX}in-${nonce}.${options.format}`)
  const marker = temps.begin(options.stateDir, {
    nonce,
    dirs: tempDirs(options.ops, options.hostRoot),
    remove: [archive, staging]
  })
  const cleanup = Effect.all([
    fs.remove(archive, { force: true }),
    Effect.sync(() => hostFs.ops.removeTree(staging))
  ]).pipe(Effect.ignore, Effect.andThen(Effect.sync(() => temps.end(marker))))

  return yield* Effect.gen(function*() {
    if (ops.fetch.length > 0) {
      yield* options.provider.getArchive(options.instance, {
        root: options.runtimeRoot,
        paths: ops.fetch,
        archive_path: archive,
        format: options.format
      })
      const z = options.format === "tar.gz" ? ["-z"] : []
      const listing = yield* runCommand(["tar", ...z, "-tf", archive]).pipe(
        Effect.mapError((e) => io(`tar: ${e.message}`))
      )
      if (listing.exitCode !== 0) return yield* io(`cannot read the runtime archive: ${listing.stderr.trim()}`)
      for (const line of new TextDecoder().decode(listing.stdout).split("\n")) {
        if (line === "") continue
        const name = unescapeListing(line)
        const why = memberRefusal(name)
        if (why !== undefined) {
          refused.push({ path: name, reason: why })
          refusedPaths.add(name.replace(/^\/+/, "").replace(/^(\.\/)+/, "").replace(/\/$/, ""))
        }
      }
      // GNU tar itself refuses `..` members (exit 2) and strips a leading `/`; both are refused above anyway
      yield* runCommand(["tar", ...z, "-xf", archive, "-C", staging, "--no-same-owner"]).pipe(
        Effect.mapError((e) => io(`tar: ${e.message}`))
      )
    }
    const tracker = Option.getOrUndefined(yield* Progress.current)
    return yield* Effect.sync(() => apply(options, { staging, refusedPaths }, nonce, refused, tracker))
  }).pipe(Effect.ensuring(cleanup))
})

/**
 * Applies host ops taking the runtime's entries straight from its directory on this host (a provider with
 * `hostPath`): no archive and no staging. Each file is copied to a temporary name beside its target and checked
 * there (size and sha256 against the runtime manifest) before it is renamed into place, so what lands is what
 * the scan saw even if the runtime changes meanwhile; a runtime path reached through a symlink is refused.
 *
 * @since 0.1.0
 * @category transfer
 */
export const runDirect = (options: {
  readonly ops: Ops
  readonly hostRoot: string
  readonly runtimeDir: string
  readonly sessionId: string
  /** Where the apply records its temporary names (see `internal/temps.ts`). */
  readonly stateDir?: string
  readonly hooks?: Hooks
}): Effect.Effect<Applied> =>
  Effect.flatMap(Progress.current, (tracker) =>
    Effect.sync(() => {
      const nonce = temps.nonce()
      const marker = temps.begin(options.stateDir, { nonce, dirs: tempDirs(options.ops, options.hostRoot) })
      try {
        return apply(options, { direct: options.runtimeDir }, nonce, [], Option.getOrUndefined(tracker))
      } finally {
        temps.end(marker)
      }
    }))

/**
 * Test hooks: `beforeRename` runs after a file's copy is complete and checked, immediately before the guard and
 * the rename that puts it in place (`target` is the host's absolute path).
 *
 * @since 0.1.0
 * @category models
 */
export interface Hooks {
  readonly beforeRename?: (target: string) => void
}

// the host directories where an apply may create temporary names: the parents of the paths it writes
const tempDirs = (ops: Ops, root: string): Array<string> => {
  const dirs = new Set<string>()
  for (const op of ops.ops) {
    if (op.op === "place" || op.op === "keep") {
      const parent = parentOf(op.path)
      dirs.add(parent === "" ? root : `${root}/${parent}`)
    }
  }
  return [...dirs]
}

/** Where the runtime's entries are read from: an extracted archive, or the runtime's own directory. */
type Source =
  | { readonly staging: string; readonly refusedPaths: ReadonlySet<string> }
  | { readonly direct: string }

const apply = (
  options: {
    readonly ops: Ops
    readonly hostRoot: string
    readonly sessionId: string
    readonly hooks?: Hooks
    readonly losses?: ReadonlyMap<string, string>
  },
  source: Source,
  nonce: string,
  refused: Array<{ path: string; reason: string }>,
  tracker: Progress.Tracker | undefined
): Applied => {
  const direct = "direct" in source
  const staging = direct ? source.direct : source.staging
  const refusedPaths: ReadonlySet<string> = direct ? new Set() : source.refusedPaths
  const from = direct ? "the runtime" : "the runtime archive"
  const root = options.hostRoot
  const final = new Map<string, Entry>()
  const failed = new Set<string>()
  const conflicts: Array<Conflict> = [...options.ops.collisions]
  const held: Array<Held> = []
  const errors: Array<{ path: string; reason: string }> = []
  const safeDirs = new Set<string>([""])
  const stagedDirs = new Set<string>([""])
  const notices: Array<{ path: string; reason: string }> = []
  let files = 0
  let bytes = 0
  let deleted = 0
  let tmpCounter = 0
  // a direct source is never moved out of the runtime: it is always copied
  const stagingDev = direct ? undefined : hostFs.lstat(staging)?.dev
  for (const c of options.ops.collisions) failed.add(c.path)

  // every existing component above `rel` must be a real directory; a symlink there is never written through
  const parentIsSafe = (rel: string, base: string, verified: Set<string>): boolean => {
    const parent = parentOf(rel)
    if (verified.has(parent)) return true
    if (!parentIsSafe(parent, base, verified)) return false
    const st = hostFs.lstat(`${base}/${parent}`)
    if (st === undefined || st.kind !== "dir") return false
    verified.add(parent)
    return true
  }
  const refuse = (p: string, reason: string) => {
    refused.push({ path: p, reason })
    failed.add(p)
  }
  // the staged copy of a runtime entry, verified against the runtime manifest (once per path)
  const verified = new Map<string, string | undefined>()
  const staged = (source: Entry): string | undefined => {
    if (!verified.has(source.path)) verified.set(source.path, verify(source))
    return verified.get(source.path)
  }
  const verify = (source: Entry): string | undefined => {
    const p = source.path
    if (refusedPaths.has(p)) {
      failed.add(p)
      return undefined
    }
    if (!parentIsSafe(p, staging, stagedDirs)) return void refuse(p, `${from} reached it through a symlink`)
    const abs = `${staging}/${p}`
    const st = hostFs.lstat(abs)
    if (st === undefined || st.kind !== source.kind) {
      return void refuse(p, `missing or of another kind in ${from}`)
    }
    // a file that shares its inode, or a sparse one, comes home as a plain file: said so (through an archive, as
    // the runtime's scan saw it)
    const loss = source.kind !== "file" ? undefined : direct ? hostFs.lossOf(st) : options.losses?.get(p)
    if (loss !== undefined) notices.push({ path: p, reason: loss })
    if (source.kind === "symlink") {
      const target = hostFs.ops.readlink(abs)
      if (target === undefined || target !== source.link_target) {
        return void refuse(p, "symlink target changed during the transfer")
      }
      const unsafe = unsafeLinkReason(p, target)
      if (unsafe !== undefined) return void refuse(p, unsafe)
      return abs
    }
    if (st.size !== source.size) return void refuse(p, "size changed during the transfer")
    // a direct source is checked on its copy instead (see `putInPlace`): the runtime may change it meanwhile
    if (!direct && !sameDigest(abs, source)) {
      return void refuse(p, "content changed during the transfer (sha256 mismatch)")
    }
    return abs
  }
  const sameDigest = (abs: string, source: Entry): boolean =>
    source.digest === undefined || source.digest.length !== 64 || hostFs.hashFile(abs) === source.digest
  // a direct copy that is not what the scan saw is refused (once) and removed
  const checkCopy = (tmp: string, source: Entry): string | undefined => {
    if (hostFs.lstat(tmp)?.size === source.size && sameDigest(tmp, source)) {
      return hostFs.ops.setMtime(tmp, source.mtime_ns)
    }
    if (!failed.has(source.path)) refuse(source.path, "content changed during the transfer (sha256 mismatch)")
    return "ECHANGED"
  }
  const prefix = temps.tempPrefix(nonce)
  const temp = (target: string) =>
    `${parentOf(target) === "" ? root : `${root}/${parentOf(target)}`}/${prefix}${tmpCounter++}`
  // The last step of every write: `tmp` (complete, checked) becomes `dest` only if `dest` is still what the scan
  // saw, asked immediately before the rename; a creation is linked (never replaces a name that appeared
  // meanwhile). `HOST_CHANGED` when the host changed; on any failure `tmp` is left for the caller.
  const commit = (tmp: string, dest: string, expect: Guard): string | undefined => {
    options.hooks?.beforeRename?.(dest)
    if (expect !== NO_GUARD) {
      if (expect === undefined) {
        const linked = hostFs.ops.link(tmp, dest)
        if (linked === "EEXIST") return HOST_CHANGED
        if (linked === undefined) return void hostFs.ops.unlink(tmp)
        // no hard links here (some filesystems): the check and the rename below
      }
      if (!sameAsScanned(hostFs.lstat(dest), expect)) return HOST_CHANGED
    }
    return hostFs.ops.rename(tmp, dest)
  }
  // puts a verified staged entry at `target` (relative); returns an error code or undefined
  const putInPlace = (
    abs: string,
    source: Entry,
    target: string,
    mode: number | undefined,
    expect: Guard
  ): string | undefined => {
    const dest = `${root}/${target}`
    if (source.kind === "symlink") {
      const tmp = temp(target)
      const made = hostFs.ops.symlink(source.link_target!, tmp) ?? commit(tmp, dest, expect)
      if (made !== undefined) hostFs.ops.unlink(tmp)
      return made
    }
    if (mode !== undefined && !direct) hostFs.ops.chmod(abs, mode)
    const tmp = temp(target)
    const dirDev = hostFs.lstat(parentOf(target) === "" ? root : `${root}/${parentOf(target)}`)?.dev
    // a staged file on the same filesystem is moved to its temporary name (one rename, no copy)
    const moved = dirDev !== undefined && dirDev === stagingDev
    const failure = moved
      ? hostFs.ops.rename(abs, tmp)
      : (direct ? hostFs.ops.copyNew(abs, tmp) ?? checkCopy(tmp, source) : hostFs.ops.copy(abs, tmp)) ??
        (mode !== undefined ? hostFs.ops.chmod(tmp, mode) : undefined)
    const done = failure ?? commit(tmp, dest, expect)
    // a staged file moved to its temporary name goes back to staging (it may still become a conflict copy)
    if (done !== undefined && !(moved && failure === undefined && hostFs.ops.rename(tmp, abs) === undefined)) {
      hostFs.ops.unlink(tmp)
    }
    return done
  }
  // whether the tree at `name` (relative) already holds exactly these runtime entries (then it is reused)
  const holds = (name: string, path: string, entries: ReadonlyArray<Entry>, sources: Map<Entry, string>): boolean =>
    entries.every((e) => {
      const abs = `${root}/${name}${e.path.slice(path.length)}`
      const st = hostFs.lstat(abs)
      if (st === undefined || st.kind !== e.kind) return false
      if (e.kind === "dir") return true
      if (e.kind === "symlink") return hostFs.ops.readlink(abs) === e.link_target
      if (st.size !== e.size) return false
      const digest = e.digest !== undefined && e.digest.length === 64 ? e.digest : hostFs.hashFile(sources.get(e)!)
      return digest !== undefined && hostFs.hashFile(abs) === digest
    })
  /**
   * Keeps the runtime's version of `path` (its entries, parents first) beside it: at `dest`, or at the first
   * `dest-N` free, so that an earlier copy (edited since, perhaps) is never written over; a copy that already
   * holds exactly this version is reused. Returns the copy's path, or `null` when it could not be made.
   */
  const keep = (path: string, dest: string, entries: ReadonlyArray<Entry>): string | null => {
    if (entries.length === 0) return null
    const sources = new Map<Entry, string>()
    for (const e of entries) {
      if (e.kind === "dir") continue
      const abs = staged(e)
      if (abs === undefined) return null
      sources.set(e, abs)
    }
    if (!parentIsSafe(dest, root, safeDirs)) return null
    for (let n = 1; n <= 1000; n++) {
      const name = n === 1 ? dest : `${dest}-${n}`
      if (hostFs.lstat(`${root}/${name}`) !== undefined) {
        if (holds(name, path, entries, sources)) return name
        continue
      }
      let taken = false
      for (const e of entries) {
        const target = `${name}${e.path.slice(path.length)}`
        const made = e.kind === "dir"
          ? hostFs.ops.mkdir(`${root}/${target}`, (e.mode & 0o777) | 0o700)
          : putInPlace(sources.get(e)!, e, target, undefined, undefined)
        taken = target === name && (made === HOST_CHANGED || made === "EEXIST")
        if (taken) break // the name was taken meanwhile: the next one
        if (made !== undefined) return null
      }
      if (!taken) return name
    }
    return null
  }
  const changedDuringSync = (p: string, source: Entry | undefined, runtimeChange: string) => {
    failed.add(p)
    const copy = source === undefined ? null : keep(p, Conflicts.copyPath(p, options.sessionId), [source])
    conflicts.push({
      path: p,
      host_change: "changed during the sync",
      runtime_change: runtimeChange,
      runtime_copy: copy
    })
  }

  const ordered = [
    ...options.ops.ops.filter((o) => o.op === "unlink"),
    ...options.ops.ops.filter((o) => o.op === "rmdir"),
    ...options.ops.ops.filter((o) => o.op === "mkdir"),
    ...options.ops.ops.filter((o) => o.op === "place" || o.op === "chmod" || o.op === "keep")
  ]
  let totalBytes = 0
  for (const op of ordered) if (op.op === "place") totalBytes += op.source.size
  tracker?.phase("transfer", { entries: ordered.length, bytes: totalBytes })
  for (const op of counted(ordered, tracker)) {
    const p = op.path
    if (op.op === "keep") {
      // what is kept beside is never a host mutation of `p` itself: `p` keeps its ancestor entry
      failed.add(p)
      const copy = keep(p, op.dest, op.entries)
      if (op.conflict !== undefined) conflicts.push({ ...op.conflict, runtime_copy: copy })
      if (op.held !== undefined) held.push({ path: p, runtime_change: op.held.runtime_change, copy })
      continue
    }
    if (failed.has(parentOf(p)) && parentOf(p) !== "") {
      failed.add(p)
      continue
    }
    if (!parentIsSafe(p, root, safeDirs)) {
      refuse(p, "a parent directory on the host is not a real directory")
      continue
    }
    const dest = `${root}/${p}`
    const st = hostFs.lstat(dest)
    switch (op.op) {
      case "unlink": {
        if (!sameAsScanned(st, op.expect)) changedDuringSync(p, undefined, "deleted")
        else if (hostFs.ops.unlink(dest) !== undefined) failed.add(p)
        else deleted++
        break
      }
      case "rmdir": {
        if (st?.kind !== "dir") failed.add(p)
        else if (hostFs.ops.rmdir(dest) !== undefined) {
          failed.add(p)
          conflicts.push({
            path: p,
            host_change: "directory holds files the sync does not track",
            runtime_change: "deleted dir",
            runtime_copy: null
          })
        } else safeDirs.delete(p)
        break
      }
      case "mkdir": {
        if (st === undefined) {
          if (hostFs.ops.mkdir(dest, op.mode) !== undefined) failed.add(p)
        } else if (st.kind !== "dir") changedDuringSync(p, undefined, "created dir")
        break
      }
      case "place": {
        const abs = staged(op.source)
        if (abs === undefined) break
        if (!sameAsScanned(st, op.expect)) {
          changedDuringSync(p, op.source, op.expect === undefined ? `created ${op.source.kind}` : "modified")
          break
        }
        const old = op.expect
        const mode = op.source.kind !== "file"
          ? undefined
          : old !== undefined && old.kind === "file"
          ? (old.mode & ~0o111 & 0o7777) | (op.source.exec ? (old.mode & 0o444) >> 2 : 0)
          : op.source.mode & 0o777
        const put = putInPlace(abs, op.source, p, mode, op.expect)
        if (put === HOST_CHANGED) {
          // the host file changed while the runtime's version was copied: that edit stays, the runtime's is beside
          verified.delete(op.source.path)
          changedDuringSync(p, op.source, op.expect === undefined ? `created ${op.source.kind}` : "modified")
          break
        }
        if (put !== undefined) {
          failed.add(p)
          errors.push({ path: p, reason: `cannot write it on the host (${put})` })
        } else {
          files++
          bytes += op.source.size
        }
        break
      }
      case "chmod": {
        if (!sameAsScanned(st, op.expect)) {
          changedDuringSync(p, undefined, op.exec ? "set exec bit" : "cleared exec bit")
        } else {
          const m = op.expect.mode
          const mode = op.exec ? m | ((m & 0o444) >> 2) : m & ~0o111
          if (hostFs.ops.chmod(dest, mode) !== undefined) failed.add(p)
        }
        break
      }
    }
    const now = hostFs.lstat(dest)
    if (now !== undefined && now.kind !== "other") {
      const target = now.kind === "symlink" ? hostFs.ops.readlink(dest) : undefined
      final.set(p, entryFrom(p, now, target))
    }
  }
  return { final, failed, conflicts, held, refused, errors, notices, files, bytes, deleted }
}

/** The ops in order, each counted as done (with the bytes it places) once the loop body over it has finished. */
function* counted(ops: ReadonlyArray<Ops["ops"][number]>, tracker: Progress.Tracker | undefined) {
  for (const op of ops) {
    yield op
    tracker?.add(1, op.op === "place" ? op.source.size : 0)
  }
}

/** What a write expects at its target: the scanned entry, `undefined` (absent), or no check (a conflict copy). */
type Guard = Entry | undefined | typeof NO_GUARD
const NO_GUARD = Symbol("no guard")
const HOST_CHANGED = "HOST_CHANGED"

const entryFrom = (p: string, st: hostFs.HostStat, target: string | undefined): Entry => {
  const kind = st.kind === "other" ? "file" : st.kind
  return new Entry(p, kind, kind === "dir" ? 0 : st.size, st.mtime_ns, st.mode, st.ino, undefined, target)
}
