/**
 * Copying one host file into the runtime under a new name: the unit of work of a seed, done here or in a worker
 * thread (`walkInWorker.copyInWorker`). The copy never writes through an existing name (`O_EXCL`), keeps the
 * host's mode and modification time, and tells whether what was read is the file as scanned.
 *
 * @internal
 */
import * as fs from "node:fs"
import { type HostStat, kindOf, lossOf, lstat, NS_PER_S, ops, READ_FLAGS } from "./hostFs.js"

/** One file to copy into the runtime: the host file as scanned, and its new name. */
export interface CopyJob {
  readonly from: string
  readonly to: string
  readonly size: number
  readonly mtime_ns: string
  readonly ino: number
}

/**
 * What became of a copy job: `copied` (with the copy's stat; `raced` when the host file changed while it was
 * read), `skipped` (the host file is gone or no longer a regular file: nothing is left at `to`), or `failed`
 * with an error code.
 */
export type CopyResult =
  | {
    readonly status: "copied"
    readonly raced: boolean
    readonly stat: HostStat | undefined
    /** What the copy did not keep (a sparse file written in full, a hard link split), see `hostFs.lossOf`. */
    readonly loss?: string
  }
  | { readonly status: "skipped" }
  | { readonly status: "unreadable"; readonly code: string }
  | { readonly status: "failed"; readonly code: string }

// files up to this size are copied through two descriptors; larger ones by `copyFileSync`, where the kernel
// copies (or clones) the data without passing it through this process
const SMALL_FILE = 256 << 10
const copyBuffer = Buffer.allocUnsafe(SMALL_FILE)
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW

const statOf = (st: fs.BigIntStats): HostStat => ({
  kind: kindOf(st),
  size: Number(st.size),
  mtime_ns: st.mtimeNs.toString(),
  ino: Number(st.ino),
  mode: Number(st.mode) & 0o7777,
  dev: Number(st.dev),
  nlink: Number(st.nlink),
  blocks: Number(st.blocks)
})

const setTimes = (fd: number, mtime_ns: string) => {
  const ns = BigInt(mtime_ns)
  const seconds = Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9
  fs.futimesSync(fd, seconds, seconds)
}

/**
 * Copies a small host file through descriptors: the source is opened without following a symlink and read
 * once; what was read is the scanned file when the descriptor's stat equals the job's before and after the
 * read; a file unlinked meanwhile is skipped. Every step on the two files is one system call on a descriptor,
 * no path walked again (the hot loop of a seed: 20,000 files are 20,000 of these).
 */
const copySmall = (job: CopyJob): CopyResult => {
  let src: number
  try {
    src = fs.openSync(job.from, READ_FLAGS)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    // gone, or a symlink (ELOOP) or a path through a non-directory now: not the workspace's file any more
    return code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR"
      ? { status: "skipped" }
      : code === "EACCES" || code === "EPERM"
      ? { status: "unreadable", code }
      : { status: "failed", code }
  }
  try {
    const before = fs.fstatSync(src, { bigint: true })
    if (!before.isFile()) return { status: "skipped" }
    const mode = Number(before.mode) & 0o7777
    let dst: number
    try {
      // created with the source's mode (the umask may take bits away: set again below)
      dst = fs.openSync(job.to, WRITE_FLAGS, mode)
    } catch (error) {
      return { status: "failed", code: (error as NodeJS.ErrnoException).code ?? String(error) }
    }
    let after: fs.BigIntStats
    let copy: fs.BigIntStats
    try {
      // the size fstat saw, not one more read for the end of the file: a file that grew is raced anyway
      const size = Number(before.size)
      for (let total = 0; total < size;) {
        const n = fs.readSync(src, copyBuffer, 0, Math.min(copyBuffer.length, size - total), null)
        if (n === 0) break
        for (let at = 0; at < n;) at += fs.writeSync(dst, copyBuffer, at, n - at)
        total += n
      }
      setTimes(dst, job.mtime_ns)
      after = fs.fstatSync(src, { bigint: true })
      copy = fs.fstatSync(dst, { bigint: true })
      if ((Number(copy.mode) & 0o7777) !== mode) {
        fs.fchmodSync(dst, mode)
        copy = fs.fstatSync(dst, { bigint: true })
      }
    } catch (error) {
      fs.closeSync(dst)
      ops.unlink(job.to)
      return { status: "failed", code: (error as NodeJS.ErrnoException).code ?? String(error) }
    }
    fs.closeSync(dst)
    if (after.nlink === 0n) {
      // unlinked (or replaced) while it was read: what was read is not the workspace's file any more
      ops.unlink(job.to)
      return { status: "skipped" }
    }
    const raced = Number(before.size) !== job.size || before.mtimeNs.toString() !== job.mtime_ns ||
      Number(before.ino) !== job.ino || after.size !== before.size || after.mtimeNs !== before.mtimeNs ||
      after.ctimeNs !== before.ctimeNs
    const loss = lossOf(statOf(before))
    return { status: "copied", raced, stat: statOf(copy), ...(loss !== undefined ? { loss } : {}) }
  } finally {
    fs.closeSync(src)
  }
}

/** Copies a host file to a new name (`O_EXCL`), keeps its mtime, and checks it did not change meanwhile. */
export const copyJob = (job: CopyJob): CopyResult => {
  if (job.size <= SMALL_FILE) return copySmall(job)
  const copied = ops.copyNew(job.from, job.to)
  if (copied === "ENOENT" && lstat(job.from) === undefined) return { status: "skipped" }
  if ((copied === "EACCES" || copied === "EPERM") && !readable(job.from)) {
    ops.unlink(job.to)
    return { status: "unreadable", code: copied }
  }
  if (copied !== undefined) return { status: "failed", code: copied }
  ops.setMtime(job.to, job.mtime_ns)
  const now = lstat(job.from)
  if (now === undefined || now.kind !== "file") {
    // what was read may not be the workspace's file: do not leave it in the runtime
    ops.unlink(job.to)
    return { status: "skipped" }
  }
  const raced = now.size !== job.size || now.mtime_ns !== job.mtime_ns || now.ino !== job.ino
  const loss = lossOf(now)
  return { status: "copied", raced, stat: lstat(job.to), ...(loss !== undefined ? { loss } : {}) }
}

const readable = (abs: string): boolean => {
  try {
    fs.closeSync(fs.openSync(abs, READ_FLAGS))
    return true
  } catch {
    return false
  }
}
