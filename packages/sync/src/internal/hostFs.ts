/**
 * Synchronous host filesystem primitives: the scanner's walk, `lstat`, hashing and the guarded steps that put
 * files into place on the host.
 *
 * This is the module of the package that does file I/O with `node:fs` (and `node:crypto`); besides it only the
 * copy of one file (`copyFile.ts`) and the worker-thread plumbing (`walkInWorker.ts`, `scanWorker.ts`) import
 * `node:*`. Why: the scan is the hot
 * loop of every sync, and the measured fastest way to scan in Node is a synchronous `readdirSync` +
 * `lstatSync` walk (sync-notes §4: Effect's `FileSystem` sits on async fs, which is 2–4× slower here; it also
 * has no `lstat`, which every safety check needs, since a check must never follow a symlink). Callers run
 * these functions inside one `Effect.sync` per batch, never one Effect per file.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { type Filter, isReservedName, RESERVED_REASON } from "../Filter.js"
import { Entry, type Kind, type Problem, unsafeLinkReason } from "../Manifest.js"

/** What `lstat` says about a host path. */
export interface HostStat {
  readonly kind: Kind | "other"
  readonly size: number
  readonly mtime_ns: string
  readonly ino: number
  readonly mode: number
  readonly dev: number
  /** Hard links to the inode, and 512-byte blocks allocated (a sparse file holds fewer than its size). */
  readonly nlink: number
  readonly blocks: number
}

/**
 * Whether this process's stats carry the file system's full nanosecond times, as `find -printf '%T@'` does.
 * Deno's `node:fs` gives whole milliseconds (`mtimeNs` a multiple of 10^6; `ctimeNs` whole seconds), so one
 * file stated here and by `find` reads as two different stats: records of one side must come from one of them.
 */
export const nanosecondStats: boolean = !("deno" in process.versions)

/** The kind of entry a stat describes. */
export const kindOf = (st: fs.BigIntStats): Kind | "other" =>
  st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other"

const statOrUndefined = (abs: string): fs.BigIntStats | undefined => {
  try {
    return fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false })
  } catch (error) {
    // a path below a non-directory does not exist either
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined
    throw error
  }
}

/** `lstat` without following a symlink; `undefined` when the path does not exist. */
export const lstat = (abs: string): HostStat | undefined => {
  const st = statOrUndefined(abs)
  if (st === undefined) return undefined
  return {
    kind: kindOf(st),
    size: Number(st.size),
    mtime_ns: st.mtimeNs.toString(),
    ino: Number(st.ino),
    mode: Number(st.mode) & 0o7777,
    dev: Number(st.dev),
    nlink: Number(st.nlink),
    blocks: Number(st.blocks)
  }
}

/**
 * What a copy of a file with this stat does not keep, or `undefined`: a sparse file is written out in full, and a
 * file with other hard links becomes a file of its own.
 */
export const lossOf = (st: { readonly size: number; readonly nlink: number; readonly blocks: number }) =>
  st.nlink > 1
    ? "hard link split: copied as a separate file"
    : st.size >= SPARSE_MIN && st.blocks * 512 + SPARSE_MIN <= st.size
    ? "sparse file written out in full"
    : undefined
const SPARSE_MIN = 64 << 10

/** The current wall-clock time in nanoseconds (the racy-clean reference of a scan). */
export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n

/** Why a name cannot be synced (newline, invalid UTF-8, not NFC), or `undefined`. */
export const problemName = (name: string): string | undefined => {
  if (name.includes("\n")) return "newline in name"
  if (name.includes("\uFFFD")) return "name is not valid UTF-8"
  // only names with non-ASCII characters can be non-NFC; skip the normalize call for the rest

  if (/[^\x00-\x7f]/.test(name) && name !== name.normalize("NFC")) return "name is not NFC-normalized"
  return undefined
}

/** Why a FIFO, socket or device is not synced. */
export const specialReason = (dirent: { isFIFO(): boolean; isSocket(): boolean }): string =>
  `special file (${dirent.isFIFO() ? "FIFO" : dirent.isSocket() ? "socket" : "device"}) is not synced`

/** Which half of a split walk lists the files of a directory (a stable hash of its relative path). */
export const halfOf = (name: string): 0 | 1 => {
  let h = 0
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0
  return (h & 1) as 0 | 1
}

interface Frame {
  readonly rel: string
  /** The directory's own entry when it is excluded but may hold re-included paths (a phantom). */
  readonly phantom: Entry | undefined
  readonly parent: Frame | undefined
  emitted: boolean
}

/**
 * A resumable synchronous walker: `step(budget)` scans until about `budget` entries were seen, so a caller
 * may yield to the event loop between steps (letting a concurrent child process drain its pipe).
 */
export class Walker {
  readonly entries = new Map<string, Entry>()
  readonly problems: Array<Problem> = []
  private readonly stack: Array<Frame> = []
  private readonly rootDev: number | undefined

  /**
   * With `part`, only one half of the walk: every directory (both halves descend the whole tree, so each knows
   * which directories exist, are phantoms or cross a filesystem boundary), but the files and links only of the
   * directories whose relative path hashes to `part`. Splitting per directory rather than per top-level name
   * keeps the halves even when one top-level directory holds most of the tree. Directory problems are reported
   * by part 0 only; together the two halves are the whole walk (directories in both).
   * With `start`, only what is below that directory of the tree (relative, not excluded; its own entry is not
   * part of the walk).
   */
  constructor(readonly root: string, readonly filter: Filter, readonly part?: 0 | 1, start = "") {
    const st = lstat(root)
    if (st === undefined || st.kind !== "dir") throw new Error(`not a directory: ${root}`)
    this.rootDev = st.dev
    this.stack.push({ rel: start, phantom: undefined, parent: undefined, emitted: true })
  }

  /** Walks everything that is left, in one go. */
  run(): this {
    while (!this.step(1 << 30)) {
      // one step walks everything
    }
    return this
  }

  /** The device of the root: a directory on another one is not walked. */
  get device(): number | undefined {
    return this.rootDev
  }

  private emitChain(frame: Frame | undefined): void {
    if (frame === undefined || frame.emitted) return
    this.emitChain(frame.parent)
    if (frame.phantom !== undefined) this.entries.set(frame.phantom.path, frame.phantom)
    frame.emitted = true
  }

  /** Scans about `budget` entries; returns true when the walk is complete. */
  step(budget: number): boolean {
    let seen = 0
    const filter = this.filter
    while (this.stack.length > 0 && seen < budget) {
      const frame = this.stack.pop()!
      const dirAbs = frame.rel === "" ? this.root : `${this.root}/${frame.rel}`
      let names: Array<fs.Dirent>
      try {
        names = fs.readdirSync(dirAbs, { withFileTypes: true })
      } catch (error) {
        if (this.part !== 1) {
          this.problems.push({
            path: frame.rel,
            reason: `unreadable directory (${(error as NodeJS.ErrnoException).code})`
          })
        }
        continue
      }
      const prefix = frame.rel === "" ? "" : `${frame.rel}/`
      // in a split walk, the files here belong to one half; the directories to both
      const filesHere = this.part === undefined || halfOf(frame.rel) === this.part
      const reportDirs = this.part !== 1
      for (const dirent of names) {
        seen++
        const name = dirent.name
        const rel = prefix + name
        const isDir = dirent.isDirectory()
        if (!isDir && !filesHere) continue
        const reserved = filter.spec.reserved === "report" && frame.phantom === undefined && isReservedName(name)
        if (reserved || (!isDir && !dirent.isFile() && !dirent.isSymbolicLink())) {
          // a FIFO, socket or device is never synced, nor is a reserved name: said, never silently skipped
          if (!isDir || reportDirs) {
            if (reserved) this.problems.push({ path: rel, reason: RESERVED_REASON })
            else if (!filter.excluded(rel, false)) this.problems.push({ path: rel, reason: specialReason(dirent) })
          }
          continue
        }
        const excluded = filter.excluded(rel, isDir)
        if (excluded && !(isDir && filter.mayIncludeBelow(rel))) continue
        const bad = problemName(name)
        if (bad !== undefined) {
          if (!excluded && (!isDir || reportDirs)) this.problems.push({ path: rel, reason: bad })
          continue
        }
        const abs = `${dirAbs}/${name}`
        const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false })
        if (st === undefined) continue // vanished since readdir
        const kind = kindOf(st)
        if (kind === "other") continue
        let target: string | undefined
        if (kind === "symlink") {
          try {
            target = fs.readlinkSync(abs)
          } catch {
            continue
          }
          const unsafe = unsafeLinkReason(rel, target)
          if (unsafe !== undefined) {
            if (!excluded) this.problems.push({ path: rel, reason: unsafe })
            continue
          }
        }
        const entry = new Entry(
          rel,
          kind,
          kind === "dir" ? 0 : Number(st.size),
          st.mtimeNs.toString(),
          Number(st.mode) & 0o7777,
          Number(st.ino),
          undefined,
          target
        )
        if (kind === "dir") {
          if (Number(st.dev) !== this.rootDev) {
            if (!excluded && reportDirs) this.problems.push({ path: rel, reason: "scan crossed a filesystem boundary" })
            continue
          }
          if (excluded) {
            this.stack.push({ rel, phantom: entry, parent: frame, emitted: false })
            continue
          }
          this.emitChain(frame)
          this.entries.set(rel, entry)
          this.stack.push({ rel, phantom: undefined, parent: frame, emitted: true })
        } else if (!excluded) {
          this.emitChain(frame)
          this.entries.set(rel, entry)
        }
      }
    }
    return this.stack.length === 0
  }
}

/** Entries for an explicit list of files (from `git ls-files`) and the directories above them. */
export const statList = (
  root: string,
  paths: ReadonlyArray<string>,
  filter: Filter
): { readonly entries: Map<string, Entry>; readonly problems: Array<Problem> } => {
  const entries = new Map<string, Entry>()
  const problems: Array<Problem> = []
  const add = (rel: string, wantDir: boolean): boolean => {
    if (entries.has(rel)) return true
    const st = fs.lstatSync(`${root}/${rel}`, { bigint: true, throwIfNoEntry: false })
    if (st === undefined) return false
    const kind = kindOf(st)
    if (kind === "other" || (wantDir && kind !== "dir") || (!wantDir && kind === "dir")) return false
    let target: string | undefined
    if (kind === "symlink") {
      target = fs.readlinkSync(`${root}/${rel}`)
      const unsafe = unsafeLinkReason(rel, target)
      if (unsafe !== undefined) {
        problems.push({ path: rel, reason: unsafe })
        return false
      }
    }
    entries.set(
      rel,
      new Entry(
        rel,
        kind,
        kind === "dir" ? 0 : Number(st.size),
        st.mtimeNs.toString(),
        Number(st.mode) & 0o7777,
        Number(st.ino),
        undefined,
        target
      )
    )
    return true
  }
  outer: for (const rel of paths) {
    const parts = rel.split("/")
    let dir = ""
    for (let i = 0; i < parts.length - 1; i++) {
      dir = dir === "" ? parts[i]! : `${dir}/${parts[i]}`
      if (filter.excluded(dir, true) && !filter.mayIncludeBelow(dir)) continue outer
      if (!add(dir, true)) continue outer
    }
    const bad = problemName(parts[parts.length - 1]!)
    if (bad !== undefined) {
      problems.push({ path: rel, reason: bad })
      continue
    }
    if (!filter.excluded(rel, false)) add(rel, false)
  }
  // drop directories that only held excluded paths
  return { entries, problems }
}

const buffer = Buffer.allocUnsafe(1 << 20)
// never following a symlink; non-blocking, so that a FIFO put in a file's place cannot hang a read
export const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK

/**
 * The hex sha256 of a regular file, read with `O_NOFOLLOW` into one reused buffer; `undefined` when it is not a
 * regular file (any more).
 */
export const hashFile = (abs: string): string | undefined => {
  let fd: number
  try {
    fd = fs.openSync(abs, READ_FLAGS)
  } catch {
    return undefined
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined
    const hash = createHash("sha256")
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) break
      hash.update(n === buffer.length ? buffer : buffer.subarray(0, n))
    }
    return hash.digest("hex")
  } catch {
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}

/** The error code of a failed host operation, or `undefined` on success. */
const attempt = (f: () => void): string | undefined => {
  try {
    f()
    return undefined
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error)
  }
}

export const NS_PER_S = 1_000_000_000n

/** Host mutations used by the apply loops. Each returns an error code, or `undefined` on success. */
export const ops = {
  rename: (from: string, to: string) => attempt(() => fs.renameSync(from, to)),
  copy: (from: string, to: string) => attempt(() => fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE)),
  /**
   * Copies a file to a name that must not exist yet (`O_EXCL`: an existing name, a symlink included, is never
   * written through), as a reflink where the filesystem can, else with `copy_file_range`; the source's mode
   * comes along.
   */
  copyNew: (from: string, to: string) =>
    attempt(() => fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE)),
  /** Sets a file's access and modification times to `mtime_ns` (sub-microsecond digits are lost). */
  setMtime: (abs: string, mtime_ns: string) =>
    attempt(() => {
      const ns = BigInt(mtime_ns)
      const seconds = Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9
      fs.utimesSync(abs, seconds, seconds)
    }),
  unlink: (abs: string) => attempt(() => fs.unlinkSync(abs)),
  /** A new name for an existing file (never replaces one: `EEXIST`). */
  link: (from: string, to: string) => attempt(() => fs.linkSync(from, to)),
  rmdir: (abs: string) => attempt(() => fs.rmdirSync(abs)),
  mkdir: (abs: string, mode: number) => attempt(() => fs.mkdirSync(abs, { mode })),
  mkdirAll: (abs: string) => attempt(() => fs.mkdirSync(abs, { recursive: true })),
  symlink: (target: string, abs: string) => attempt(() => fs.symlinkSync(target, abs)),
  chmod: (abs: string, mode: number) => attempt(() => fs.chmodSync(abs, mode)),
  readlink: (abs: string): string | undefined => {
    try {
      return fs.readlinkSync(abs)
    } catch {
      return undefined
    }
  },
  /** Removes a tree the engine created itself (staging). */
  removeTree: (abs: string) => attempt(() => fs.rmSync(abs, { recursive: true, force: true }))
}

/**
 * Whether the host filesystem at `dir` folds case: creates a probe name there and looks it up with another
 * case. `undefined` when the probe could not be made.
 */
export const probeCaseInsensitive = (dir: string): boolean | undefined => {
  const probe = `${dir}/.sandbox-sync-probe-${process.pid}-${Date.now()}-Aa`
  try {
    fs.writeFileSync(probe, "", { flag: "wx" })
  } catch {
    return undefined
  }
  try {
    return fs.lstatSync(probe.replace(/-Aa$/, "-aA"), { throwIfNoEntry: false }) !== undefined
  } finally {
    fs.rmSync(probe, { force: true })
  }
}
