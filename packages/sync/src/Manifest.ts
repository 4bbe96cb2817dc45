/**
 * Manifests: what one side of a sync holds, one compact entry per path.
 *
 * Paths are relative to the side's root, POSIX-separated, NFC, never absolute and never containing `..`.
 * Entries are instances of one class so that V8 keeps a single hidden class for tens of thousands of them.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export type Kind = "file" | "dir" | "symlink"

/**
 * A file's digest that is not known but equals the ancestor's content: the file's stat has not changed since
 * the engine last saw it hold the ancestor's content.
 *
 * @since 0.1.0
 * @category constants
 */
export const SAME_AS_ANCESTOR = "="

/**
 * One path on one side.
 *
 * @since 0.1.0
 * @category models
 */
export class Entry {
  constructor(
    readonly path: string,
    readonly kind: Kind,
    /** Bytes for files, target length for symlinks, 0 for directories. */
    readonly size: number,
    /** Modification time in nanoseconds since the epoch, as a decimal string (exact, no float rounding). */
    readonly mtime_ns: string,
    /** Permission bits (`0o7777` mask), without the file type. */
    readonly mode: number,
    /** Inode number, 0 when unknown. */
    readonly ino: number,
    /** Hex sha256 of the content, {@link SAME_AS_ANCESTOR}, or `undefined` when not computed (files only). */
    public digest: string | undefined,
    /** Symlink target, verbatim (symlinks only). */
    readonly link_target: string | undefined
  ) {}

  /** Whether any execute bit is set: the only permission the engine propagates. */
  get exec(): boolean {
    return (this.mode & 0o111) !== 0
  }
}

/**
 * A path the engine will not touch on either side, and why.
 *
 * @since 0.1.0
 * @category models
 */
export interface Problem {
  readonly path: string
  readonly reason: string
}

/**
 * A scanned side.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  readonly entries: Map<string, Entry>
  /** Paths seen but unsafe or unsynchronizable; their subtrees are left alone on both sides. */
  readonly problems: Array<Problem>
  /** Wall-clock time (ns) when the scan started, on the scanned side's clock: the racy-clean reference. */
  readonly scan_ns: bigint
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const empty = (scan_ns: bigint = 0n): Manifest => ({ entries: new Map(), problems: [], scan_ns })

/**
 * The parent of a relative path, `""` for a top-level entry.
 *
 * @since 0.1.0
 * @category paths
 */
export const parentOf = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i < 0 ? "" : path.slice(0, i)
}

/**
 * The last component of a relative path.
 *
 * @since 0.1.0
 * @category paths
 */
export const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

/**
 * Whether `path` is `dir` or lies under it (`dir` = `""` is the root).
 *
 * @since 0.1.0
 * @category paths
 */
export const isWithin = (path: string, dir: string): boolean =>
  dir === "" || path === dir || (path.length > dir.length && path.startsWith(dir) && path.charCodeAt(dir.length) === 47)

/** Printable ASCII, relative, and no empty, "." or ".." component (one pass, no regular expression). */
const cleanAscii = (path: string): boolean => {
  const n = path.length
  let start = 0
  for (let i = 0; i <= n; i++) {
    const c = i < n ? path.charCodeAt(i) : 47
    if (c === 47) {
      const len = i - start
      if (len === 0) return false
      if (path.charCodeAt(start) === 46 && (len === 1 || (len === 2 && path.charCodeAt(start + 1) === 46))) {
        return false
      }
      start = i + 1
    } else if (c < 0x20 || c > 0x7e) return false
  }
  return true
}

/**
 * Why a relative path from outside (a runtime manifest or archive, an ancestor file) is unacceptable, or
 * `undefined` when it is a clean relative path.
 *
 * @since 0.1.0
 * @category paths
 */
export const unsafePathReason = (path: string): string | undefined => {
  // the common case, decided by one scan: printable ASCII, relative, no empty, "." or ".." component
  if (cleanAscii(path)) return undefined
  if (path.length === 0) return "empty path"
  if (path.startsWith("/")) return "absolute path"
  if (path.includes("\0")) return "NUL in path"
  if (path.includes("\n")) return "newline in path"
  if (path.includes("\uFFFD")) return "name is not valid UTF-8"
  for (const part of path.split("/")) {
    if (part === "..") return "path contains '..'"
    if (part === "" || part === ".") return "path is not normalized"
  }
  if (path !== path.normalize("NFC")) return "name is not NFC-normalized"
  return undefined
}

/**
 * Why a symlink at `path` with `target` is unsafe to synchronize, or `undefined` when it is portable: a
 * relative target that, resolved lexically from the link's directory, stays inside the root (the depth
 * counter of Mutagen's `normalizeSymbolicLinkAndEnsurePortable`).
 *
 * @since 0.1.0
 * @category paths
 */
export const unsafeLinkReason = (path: string, target: string): string | undefined => {
  if (target.length === 0) return "empty symlink target"
  if (target.startsWith("/")) return "symlink with an absolute target"
  if (target.includes("\\") || target.includes(":")) return "symlink target is not portable"
  if (target.includes("\n") || target.includes("\uFFFD")) return "symlink target is not clean text"
  let depth = path.split("/").length - 1
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") {
      depth--
      if (depth < 0) return "symlink escapes the root"
    } else {
      depth++
    }
  }
  return undefined
}
