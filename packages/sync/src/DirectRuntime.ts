/**
 * The fast path for a runtime that is a directory on this host (a provider with `hostPath`, such as the local
 * provider, bubblewrap or not): the engine scans it itself, with its walk in worker threads (or with the runtime
 * scanner's script run as a host child process where no worker starts; never through the provider's exec), and
 * applies host → runtime steps with direct file operations, instead of a tar archive and an apply script. The
 * steps and their checks are the archive path's (`TransferToRuntime.buildSteps`), so both paths decide alike:
 * - nothing is done when a directory above a touched path is no longer a directory (`Changed`);
 * - a path is only touched when its state still equals what the scan saw (a created one must still be absent);
 *   a path that changed is reported and retried at the next sync;
 * - every entry is written under a temporary name (`.sandbox-sync-tmp-*`, created with `O_EXCL`, so it is never
 *   written through a symlink) in its target's directory, then renamed into place: a new directory is built
 *   whole under its temporary name and moved with one rename; a replaced file is swapped by one rename;
 * - files are copied by two worker threads (`internal/copyFile.ts`: small ones through descriptors, large ones
 *   with `copyFileSync`, a reflink where the filesystem can), keep the host's mode and modification time (as
 *   `tar -x` does), and a host file that changed while it was copied is reported as raced, exactly like one that
 *   changed while it was packed.
 * A replaced target is checked again right before its rename (the copies take a while); the window between that
 * check and the rename is the same accepted race as in the apply script.
 *
 * @since 0.1.0
 */
import type { CommandExecutor } from "@effect/platform"
import { SyncError } from "@org/sandbox-core/SandboxError"
import { Effect, Option } from "effect"
import * as DigestCache from "./DigestCache.js"
import type { Filter } from "./Filter.js"
import * as HostScan from "./HostScan.js"
import * as command from "./internal/command.js"
import * as copyFile from "./internal/copyFile.js"
import * as hostFs from "./internal/hostFs.js"
import * as Progress from "./internal/progress.js"
import * as temps from "./internal/temps.js"
import * as walkInWorker from "./internal/walkInWorker.js"
import { Entry, parentOf } from "./Manifest.js"
import * as RuntimeScan from "./RuntimeScan.js"
import type { RuntimeManifest, Snapshot } from "./RuntimeScan.js"
import { subtree } from "./SyncPlan.js"
import type { Applied, Steps } from "./TransferToRuntime.js"

// the unit of copy work shared between this thread and the worker thread
const CHUNK_BYTES = 2 << 20
const CHUNK_FILES = 256

const yieldToLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

const unreachable = (detail: string) => new SyncError({ direction: "from_runtime", reason: "Unreachable", detail })

/** Whether the snapshot's record of a path still describes `e` (and, for a file, holds a trusted digest). */
const unchanged = (snapshot: Snapshot, s: Entry | undefined, e: Entry): boolean => {
  if (s === undefined || s.kind !== e.kind || s.mode !== e.mode) return false
  if (e.kind === "dir") return true
  if (e.kind === "symlink") return s.link_target === e.link_target
  return s.size === e.size && s.mtime_ns === e.mtime_ns && s.ino === e.ino && s.digest !== undefined &&
    !snapshot.racy.has(e.path)
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ScanOptions {
  readonly root: string
  readonly filter: Filter
  readonly snapshot: Snapshot
  /** Nothing else is scanned meanwhile: the walk is split in two halves, one per worker thread. */
  readonly alone?: boolean
  /**
   * `"auto"` (default): in process where worker threads can start, else the scan script as a host process where
   * its tools exist, else in process.
   */
  readonly scanner?: "auto" | "in-process"
}

/**
 * Scans the runtime directory. Where worker threads can start, the scan is done in process
 * ({@link scanInProcess}) with the walk in a worker (in two, split, when nothing else is scanned meanwhile), so
 * that it runs beside the host's walk. Elsewhere (a single-file bundle on Node, say), where the host has the scan
 * script's tools (GNU `find`, `awk`, `sha256sum`), the runtime scanner's own script runs as a host child process
 * in the runtime directory (not through the provider's exec), where this process's stats are as fine as
 * `find`'s (`hostFs.nanosecondStats`: not under Deno): it uses another core beside the host scan, and it
 * reports only the differences from the snapshot, parsed exactly as on the archive path. When the tools are
 * missing, the script fails or it reports any error (an unreadable directory, say, whose entries it would
 * otherwise report as gone), the directory is scanned in process instead, which reports such paths as problems.
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = Effect.fn("DirectRuntime.scan")(function*(options: ScanOptions) {
  const { filter, root, snapshot } = options
  // where workers can start, a big tree's walk goes to them (and they take the copies that follow)
  const worker = walkInWorker.available()
  // the script's mtimes are `find`'s nanoseconds: where this process's own stats (those of the files it copies
  // into the runtime) are coarser, the two would never agree and every file would read as changed
  if (
    options.scanner !== "in-process" && !worker && hostFs.nanosecondStats && hostFs.lstat(root)?.kind === "dir" &&
    (yield* hasScanTools)
  ) {
    const scanned = yield* scanByScript(root, filter, snapshot)
    if (scanned !== undefined) return scanned
  }
  return yield* scanInProcess(options)
})

const decoder = new TextDecoder()

// asked once per process: GNU `find` with `-printf`, and the other tools of the scan script
let scanTools: boolean | undefined
const PROBE = [
  `find . -maxdepth 0 -printf '%y'`,
  ...["awk", "xargs", "sha256sum", "mktemp", "head"].map((t) => `command -v ${t} >/dev/null`),
  `date +%s%N`
].join(" && ")

const hasScanTools: Effect.Effect<boolean, never, CommandExecutor.CommandExecutor> = Effect.suspend(() =>
  scanTools !== undefined ? Effect.succeed(scanTools) : command.run(["sh", "-c", PROBE], { cwd: "/" }).pipe(
    Effect.map((out) => out.exitCode === 0 && /^d\d+\n?$/.test(decoder.decode(out.stdout))),
    Effect.orElseSucceed(() => false),
    Effect.tap((usable) => {
      scanTools = usable
    })
  )
)

/** The scan script's manifest, or `undefined` when it did not run cleanly (then the caller scans in process). */
const scanByScript = (
  root: string,
  filter: Filter,
  snapshot: Snapshot
): Effect.Effect<RuntimeManifest | undefined, never, CommandExecutor.CommandExecutor> =>
  command.run(["sh", "-c", RuntimeScan.script(root, filter)], { stdin: RuntimeScan.knownKeys(snapshot) }).pipe(
    Effect.map((out) => {
      if (out.exitCode !== 0 || out.stderr !== "") return undefined
      const stdout = decoder.decode(out.stdout)
      // the script's error section must be empty: `find` says nothing about a directory it could not read, except
      // there, and its entries would read as gone
      const end = stdout.lastIndexOf("\0@END\0")
      if (end < 0 || !stdout.startsWith("\0@ERR\0", end - 6)) return undefined
      const parsed = RuntimeScan.parse(stdout, filter, snapshot)
      if (typeof parsed === "string" || parsed.root_missing) return undefined
      // a changed filter is a change even when no entry moved (as in process)
      return filter.key === snapshot.filter_key ? parsed : { ...parsed, changes: parsed.changes + 1 }
    }),
    Effect.orElseSucceed(() => undefined)
  )

/**
 * Scans the runtime directory in process (the walk itself in a worker thread when one can start, so that it runs
 * beside the host scan): the same walk, filter and problems as the host scan; digests come from
 * the snapshot when a file's stat is unchanged and its record trusted, every other file is hashed now (as the
 * scan script does), so the manifest is complete.
 *
 * @since 0.1.0
 * @category scanning
 */
export const scanInProcess = Effect.fn("DirectRuntime.scanInProcess")(function*(options: ScanOptions) {
  const { filter, root, snapshot } = options
  const known = snapshot.entries
  const top = hostFs.lstat(root)
  if (top === undefined) {
    const manifest: RuntimeManifest = {
      entries: new Map(),
      problems: [],
      scan_ns: hostFs.nowNs(),
      root_missing: true,
      changes: known.size,
      hashed: 0,
      raw_stamps: new Map(),
      racy: new Set()
    }
    return manifest
  }
  if (top.kind !== "dir") return yield* unreachable(`the runtime directory ${root} is not a directory`)
  const reuse = (e: Entry): string | undefined => {
    const s = known.get(e.path)
    return s !== undefined && s.kind === "file" && s.size === e.size && s.mtime_ns === e.mtime_ns &&
        s.ino === e.ino && s.digest !== undefined && !snapshot.racy.has(e.path)
      ? s.digest
      : undefined
  }
  const scan_ns = hostFs.nowNs()
  const walked =
    yield* (options.alone === true ? walkInWorker.walkSplit(root, filter) : walkInWorker.walk(root, filter)).pipe(
      Effect.flatMap((w) => w !== undefined ? Effect.succeed(w) : HostScan.walk(root, filter)),
      Effect.mapError((e) => unreachable(`cannot scan the runtime directory ${root}: ${e.message}`))
    )
  // a walk that found nothing changed since the one that gave a quiet scan against this very snapshot: that scan
  // one per kind of walk (split or whole): each has its own held walks in the workers
  const quietKey = `${options.alone === true ? "split" : "whole"}\0${root}`
  const quiet = quietScans.get(quietKey)
  if (
    quiet !== undefined && walked.version?.sameAs !== undefined && walked.version.sameAs === quiet.token &&
    quiet.snapshot === snapshot && quiet.filterKey === filter.key
  ) {
    quietScans.set(quietKey, { ...quiet, token: walked.version.token })
    return { ...quiet.manifest, scan_ns }
  }
  quietScans.delete(quietKey)
  // the walked entries may be the worker's held view: never mutated, a file gets a new entry with its digest
  const entries = walked.entries
  const problems = [...walked.problems]
  const racy = new Set<string>()
  let changes = filter.key === snapshot.filter_key ? 0 : 1
  let hashed = 0
  for (const [p, e] of entries) {
    const before = known.get(p)
    if (unchanged(snapshot, before, e)) {
      // the snapshot's own (equal) entry: the next ancestor then shares it, and saving it finds no change there
      entries.set(p, before!)
      continue
    }
    changes++
    if (e.kind !== "file") continue
    let digest = reuse(e)
    if (digest === undefined) {
      digest = hostFs.hashFile(`${root}/${p}`)
      hashed++
    }
    if (digest === undefined) {
      // it cannot be read, or it vanished or stopped being a regular file between the walk and the hash
      entries.delete(p)
      const still = hostFs.lstat(`${root}/${p}`)
      problems.push({
        path: p,
        reason: still?.kind === "file" ? "unreadable file (cannot be read by the sync)" : "changed while being scanned"
      })
      continue
    }
    entries.set(p, new Entry(p, e.kind, e.size, e.mtime_ns, e.mode, e.ino, digest, e.link_target))
    if (DigestCache.isRacy(e.mtime_ns, scan_ns)) racy.add(p)
  }
  for (const p of known.keys()) if (!entries.has(p)) changes++
  const manifest: RuntimeManifest = {
    entries,
    problems,
    scan_ns,
    root_missing: false,
    changes,
    hashed,
    raw_stamps: new Map(),
    racy
  }
  // nothing hashed, nothing found: the same walk against the same snapshot will give the same manifest
  if (changes === 0 && problems.length === 0 && walked.version !== undefined) {
    quietScans.set(quietKey, { token: walked.version.token, snapshot, filterKey: filter.key, manifest })
  }
  return manifest
})

// per runtime root and kind of walk: the last scan that found the runtime equal to its snapshot (manifests are
// never mutated)
const quietScans = new Map<
  string,
  {
    readonly token: string
    readonly snapshot: Snapshot
    readonly filterKey: string
    readonly manifest: RuntimeManifest
  }
>()

const entryOf = (path: string, st: hostFs.HostStat, target: string | undefined): Entry | undefined =>
  st.kind === "other"
    ? undefined
    : new Entry(path, st.kind, st.kind === "dir" ? 0 : st.size, st.mtime_ns, st.mode, st.ino, undefined, target)

const sameState = (st: hostFs.HostStat | undefined, expect: Entry | undefined): boolean => {
  if (expect === undefined) return st === undefined
  if (st === undefined || st.kind !== expect.kind) return false
  return expect.kind === "dir" || (st.size === expect.size && st.mtime_ns === expect.mtime_ns && st.ino === expect.ino)
}

/**
 * Applies host → runtime steps directly in the runtime directory. Returns what the apply script would report,
 * plus the host files that changed while they were copied and the bytes sent.
 *
 * @since 0.1.0
 * @category transfer
 */
export const applyToRuntime = (options: {
  readonly steps: Steps
  readonly hostRoot: string
  readonly runtimeRoot: string
  readonly host: ReadonlyMap<string, Entry>
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
  /** Where the apply records its temporary names (see `internal/temps.ts`). */
  readonly stateDir?: string
}): Effect.Effect<Outcome, SyncError> =>
  Effect.gen(function*() {
    const { host, hostRoot, runtimeRoot: root, steps } = options
    const changed = (detail: string) => new SyncError({ direction: "to_runtime", reason: "Changed", detail })
    const io = (detail: string) => new SyncError({ direction: "to_runtime", reason: "Io", detail })
    const begin_ns = hostFs.nowNs()
    const made = hostFs.lstat(root) === undefined ? hostFs.ops.mkdirAll(root) : undefined
    if (made !== undefined) return yield* io(`cannot create the runtime directory ${root}: ${made}`)
    const at = (p: string) => `${root}/${p}`
    for (const p of steps.parents) {
      const st = hostFs.lstat(at(p))
      if (st !== undefined && st.kind !== "dir") {
        return yield* changed("a parent directory in the runtime was replaced during the sync")
      }
    }
    const failed = new Set<string>()
    for (const c of steps.checks) if (!sameState(hostFs.lstat(at(c.path)), c.expect)) failed.add(c.path)
    for (const p of steps.unlinks) if (!failed.has(p)) hostFs.ops.unlink(at(p))
    for (const p of steps.rmdirs) if (!failed.has(p)) hostFs.ops.rmdir(at(p))

    const final = new Map<string, Entry>()
    const raced = new Set<string>()
    const unreadable: Array<{ path: string; reason: string }> = []
    const broken: Array<{ path: string; reason: string }> = []
    const notices: Array<{ path: string; reason: string }> = []
    const modes: Array<{ readonly abs: string; readonly path: string; readonly mode: number }> = []
    let bytes = 0
    const nonce = temps.nonce()
    const tempDirs = new Set<string>()
    for (const put of steps.puts) tempDirs.add(parentOf(put.path) === "" ? root : at(parentOf(put.path)))
    const marker = temps.begin(options.stateDir, { nonce, dirs: [...tempDirs] })
    // 1. every put's directories and symlinks under its temporary name; its files become copy jobs
    const builds: Array<{ readonly put: string; readonly temp: string; readonly paths: Array<string>; ok: boolean }> =
      []
    const jobs: Array<{ readonly build: number; readonly path: string; readonly job: copyFile.CopyJob }> = []
    for (const put of steps.puts) {
      const p = put.path
      if (failed.has(p)) continue
      const dir = parentOf(p) === "" ? root : at(parentOf(p))
      const temp = `${dir}/${temps.tempPrefix(nonce)}${builds.length}`
      const paths = subtree(p, host, options.children)
      const build = { put: p, temp, paths, ok: true }
      builds.push(build)
      for (const q of paths) {
        const e = host.get(q)!
        const abs = q === p ? temp : `${temp}${q.slice(p.length)}`
        if (e.kind === "file") {
          const job = { from: `${hostRoot}/${q}`, to: abs, size: e.size, mtime_ns: e.mtime_ns, ino: e.ino }
          jobs.push({ build: builds.length - 1, path: q, job })
          continue
        }
        // a directory is built writable by its owner (a mode-555 one could not be filled otherwise), and gets its
        // own mode once filled (`modes` below)
        const made = e.kind === "dir"
          ? hostFs.ops.mkdir(abs, (e.mode & 0o777) | 0o700)
          : hostFs.ops.symlink(e.link_target!, abs)
        if (made === undefined && e.kind === "dir" && (e.mode & 0o700) !== 0o700) {
          modes.push({ abs, path: q, mode: e.mode & 0o777 })
        }
        const st = made === undefined ? hostFs.lstat(abs) : undefined
        const fin = st === undefined ? undefined : entryOf(q, st, e.link_target)
        if (fin === undefined) {
          build.ok = false
          break
        }
        final.set(q, fin)
      }
    }
    // 2. the copies, in chunks taken by the two worker threads, whichever is free (the cores may be shared with
    //    other work, so a fixed split would wait for the slower one), or by this thread where no worker starts
    const runnable = jobs.filter((j) => builds[j.build]!.ok)
    let totalBytes = 0
    for (const j of runnable) totalBytes += j.job.size
    const tracker = Option.getOrUndefined(yield* Progress.current)
    tracker?.phase("transfer", { entries: runnable.length, bytes: totalBytes })
    const chunks: Array<typeof runnable> = []
    let chunk: typeof runnable = []
    let size = 0
    for (const j of runnable) {
      chunk.push(j)
      size += j.job.size
      if (size >= CHUNK_BYTES || chunk.length >= CHUNK_FILES) {
        chunks.push(chunk)
        chunk = []
        size = 0
      }
    }
    if (chunk.length > 0) chunks.push(chunk)
    const record = (j: (typeof runnable)[number], result: copyFile.CopyResult) => {
      if (result.status === "failed") {
        builds[j.build]!.ok = false
        broken.push({ path: j.path, reason: `cannot copy it into the runtime (${result.code})` })
      }
      if (result.status === "unreadable") {
        // only this file stays out (the host user cannot read it): the rest of its directory goes
        unreadable.push({ path: j.path, reason: `unreadable on the host (${result.code}): not sent to the runtime` })
        failed.add(j.path)
      }
      tracker?.add(1, result.status === "copied" ? j.job.size : 0)
      if (result.status !== "copied") return
      if (result.loss !== undefined) notices.push({ path: j.path, reason: result.loss })
      bytes += j.job.size
      if (result.raced) raced.add(j.path)
      const fin = result.stat === undefined ? undefined : entryOf(j.path, result.stat, undefined)
      if (fin !== undefined) final.set(j.path, fin)
    }
    const mine = (c: typeof runnable) => {
      for (const j of c) record(j, copyFile.copyJob(j.job))
    }
    // each worker's side: two chunks in flight, so that it never waits for this thread to hand it the next one;
    // a chunk it could not copy is copied here
    const theirs = (slot: 0 | 1): Promise<void> => {
      const c = chunks.shift()
      if (c === undefined) return Promise.resolve()
      const sent = walkInWorker.copyInWorker(c.map((j) => j.job), slot)
      if (sent === undefined) {
        chunks.unshift(c)
        return Promise.resolve()
      }
      return sent.then(
        (results) => c.forEach((j, k) => record(j, results[k]!)),
        () => mine(c)
      ).then(() => theirs(slot))
    }
    const pipes: Array<Promise<void>> = []
    if (chunks.length > 1 && walkInWorker.worthCopying(runnable.length, totalBytes)) {
      walkInWorker.warm(true)
      for (const slot of [0, 1, 0, 1] as const) if (chunks.length > 0) pipes.push(theirs(slot))
    }
    const helper = Promise.all(pipes)
    yield* Effect.gen(function*() {
      // with the workers copying, this thread only takes their results (two cores: a third copier only slows
      // them down); without them, it copies everything
      for (let c = pipes.length > 0 ? undefined : chunks.pop(); c !== undefined; c = chunks.pop()) {
        mine(c)
        yield* yieldToLoop
      }
      yield* Effect.promise(() => helper)
      // what no worker took (none could start, or one stopped)
      for (let c = chunks.pop(); c !== undefined; c = chunks.pop()) {
        mine(c)
        yield* yieldToLoop
      }
    }).pipe(
      // interrupted: the workers stop after their chunks in flight, and nothing half-built is left in the runtime
      Effect.onInterrupt(() =>
        Effect.promise(() => {
          chunks.length = 0
          return helper
        }).pipe(Effect.andThen(() => builds.forEach((b) => hostFs.ops.removeTree(b.temp))))
      )
    )
    // the directories built writable get their own modes, deepest first
    for (let i = modes.length - 1; i >= 0; i--) {
      const m = modes[i]!
      if (!builds.some((b) => b.ok && m.abs.startsWith(b.temp))) continue
      hostFs.ops.chmod(m.abs, m.mode)
      const st = hostFs.lstat(m.abs)
      const fin = st === undefined ? undefined : entryOf(m.path, st, undefined)
      if (fin !== undefined) final.set(m.path, fin)
    }
    // 3. each put into place with one rename, unless it failed, a create found its target taken, or the target
    // changed since it was checked (the copies take a while: the runtime may be written meanwhile, live)
    const expected = new Map(steps.checks.map((c) => [c.path, c.expect]))
    for (const build of builds) {
      const p = build.put
      const taken = steps.puts.find((x) => x.path === p)!.create && hostFs.lstat(at(p)) !== undefined
      // (a target the apply removed itself, for a change of kind, is absent now: nothing to compare)
      const expect = expected.get(p)
      const now = expect === undefined ? undefined : hostFs.lstat(at(p))
      const changedMeanwhile = now !== undefined && !sameState(now, expect)
      if (!build.ok || taken || changedMeanwhile || hostFs.ops.rename(build.temp, at(p)) !== undefined) {
        hostFs.ops.removeTree(build.temp)
        for (const q of build.paths) final.delete(q)
        failed.add(p)
      }
    }
    for (const c of steps.chmods) {
      if (failed.has(c.path)) continue
      const st = hostFs.lstat(at(c.path))
      if (st === undefined || st.kind !== "file") continue
      hostFs.ops.chmod(at(c.path), c.exec ? st.mode | ((st.mode & 0o444) >> 2) : st.mode & ~0o111)
    }
    for (const p of steps.reportOne) {
      const st = hostFs.lstat(at(p))
      const fin = st === undefined
        ? undefined
        : entryOf(p, st, st.kind === "symlink" ? hostFs.ops.readlink(at(p)) : undefined)
      if (fin !== undefined) final.set(p, fin)
    }
    temps.end(marker)
    return { applied: { begin_ns, failed, final, errors: "" }, raced, bytes, unreadable, broken, notices }
  })

/**
 * What a direct host → runtime apply did: the apply's outcome, the host files that changed while they were copied,
 * the bytes sent, the host files left out because they cannot be read (reported, nothing else is left out for
 * them), the writes that failed (an error: what was planned did not land), and what the copies did not keep.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly applied: Applied
  readonly raced: Set<string>
  readonly bytes: number
  readonly unreadable: Array<{ readonly path: string; readonly reason: string }>
  readonly broken: Array<{ readonly path: string; readonly reason: string }>
  readonly notices: Array<{ readonly path: string; readonly reason: string }>
}
