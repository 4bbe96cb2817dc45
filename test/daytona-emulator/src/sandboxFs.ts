/**
 * The sandbox filesystem: every sandbox is a host directory that plays the role of `/`. Paths the SDK sends
 * (absolute like `/home/daytona/x`, or relative to the work dir) are resolved as if chrooted there, and a path
 * that leaves the directory through a symlink is refused.
 */
import { constants as fsConstants, promises as fsp } from "node:fs"
import type { Stats } from "node:fs"
import * as nodePath from "node:path"
import { HttpError } from "./http.js"

export interface SandboxPaths {
  /** Host directory that is the sandbox's `/`. */
  readonly root: string
  /** In-sandbox work dir and home, e.g. `/home/daytona`. */
  readonly workDir: string
  readonly homeDir: string
}

/** Normalises an SDK path to an absolute in-sandbox path; `..` cannot climb above `/`, as in a chroot. */
export const virtualPath = (paths: SandboxPaths, input: string): string =>
  nodePath.posix.resolve(paths.workDir, input === "" ? "." : input)

export const hostPath = (paths: SandboxPaths, virtual: string): string =>
  nodePath.join(paths.root, ...virtual.split("/").filter((s) => s.length > 0))

/** Maps a host path back to what the sandbox sees, or undefined if it lies outside the sandbox. */
export const toVirtual = (paths: SandboxPaths, host: string): string | undefined => {
  const rel = nodePath.relative(paths.root, host)
  if (rel.startsWith("..") || nodePath.isAbsolute(rel)) return undefined
  return "/" + rel.split(nodePath.sep).filter((s) => s.length > 0).join("/")
}

const within = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep)

/**
 * Resolves an SDK path to a host path and checks that the deepest existing ancestor, with symlinks resolved,
 * is still inside the sandbox. Commands are real processes that can create symlinks to anywhere, so the lexical
 * check alone is not enough.
 */
export const resolveSandboxPath = async (
  paths: SandboxPaths,
  input: string
): Promise<{ readonly virtual: string; readonly host: string }> => {
  if (input.includes("\0")) throw new HttpError(400, "invalid path", "INVALID_FILE_PATH")
  const virtual = virtualPath(paths, input)
  const host = hostPath(paths, virtual)
  const realRoot = await fsp.realpath(paths.root)
  let probe = host
  for (;;) {
    try {
      const real = await fsp.realpath(probe)
      if (!within(realRoot, real)) {
        throw new HttpError(403, `access denied: ${virtual} resolves outside the sandbox`, "FILE_ACCESS_DENIED")
      }
      break
    } catch (e) {
      if (e instanceof HttpError) throw e
      const parent = nodePath.dirname(probe)
      if (parent === probe) break
      probe = parent
    }
  }
  return { virtual, host }
}

/** Go's `os.FileMode.String()`, which the daemon reports as `mode` (e.g. `-rw-r--r--`, `drwxr-xr-x`). */
export const goModeString = (st: Stats): string => {
  let type = "-"
  if (st.isDirectory()) type = "d"
  else if (st.isSymbolicLink()) type = "L"
  else if (st.isFIFO()) type = "p"
  else if (st.isSocket()) type = "S"
  else if (st.isCharacterDevice()) type = "Dc"
  else if (st.isBlockDevice()) type = "D"
  const bits = "rwxrwxrwx"
  let perm = ""
  for (let i = 0; i < 9; i++) perm += (st.mode & (1 << (8 - i))) !== 0 ? bits[i] : "-"
  return type + perm
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** Go's `time.Time.String()` layout in UTC (`2006-01-02 15:04:05.999999999 +0000 UTC`), used for `modTime`. */
export const goTimeString = (date: Date, nanosWithinSecond: number): string => {
  const frac = nanosWithinSecond === 0 ? "" : "." + String(nanosWithinSecond).padStart(9, "0").replace(/0+$/, "")
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}${frac} +0000 UTC`
}

export interface FileInfo {
  readonly name: string
  readonly isDir: boolean
  readonly size: number
  readonly mode: string
  readonly permissions: string
  readonly owner: string
  readonly group: string
  readonly modTime: string
  readonly modifiedAt: string
  readonly path: string
}

export const fileInfo = async (host: string, virtual: string): Promise<FileInfo> => {
  const st = await fsp.lstat(host, { bigint: false })
  const nanos = Math.round((st.mtimeMs % 1000) * 1e6)
  return {
    name: virtual === "/" ? "/" : nodePath.posix.basename(virtual),
    isDir: st.isDirectory(),
    size: st.size,
    mode: goModeString(st),
    permissions: "0" + (st.mode & 0o777).toString(8).padStart(3, "0"),
    // The daemon reports numeric uid/gid strings (daytona-api.md §8).
    owner: String(st.uid),
    group: String(st.gid),
    modTime: goTimeString(st.mtime, nanos),
    modifiedAt: st.mtime.toISOString(),
    path: virtual
  }
}

/** Maps Node fs errors to the daemon's file error codes. */
export const fsError = (e: unknown, virtual: string): HttpError => {
  if (e instanceof HttpError) return e
  const code = (e as NodeJS.ErrnoException).code
  switch (code) {
    case "ENOENT":
      return new HttpError(404, `file not found: ${virtual}`, "FILE_NOT_FOUND")
    case "EACCES":
    case "EPERM":
      return new HttpError(403, `access denied: ${virtual}`, "FILE_ACCESS_DENIED")
    case "ENOTDIR":
    case "EISDIR":
    case "EINVAL":
      return new HttpError(400, `invalid path: ${virtual}`, "INVALID_FILE_PATH")
    case "ENOTEMPTY":
      return new HttpError(400, `directory not empty: ${virtual}`, "BAD_REQUEST")
    default:
      return new HttpError(500, `file operation failed on ${virtual}: ${(e as Error).message}`, "FILE_READ_FAILED")
  }
}

export const exists = async (host: string): Promise<boolean> => {
  try {
    await fsp.access(host, fsConstants.F_OK)
    return true
  } catch {
    return false
  }
}
