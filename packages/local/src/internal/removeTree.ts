/**
 * Removing a directory tree that was moved aside. A small tree (a one-file workspace's runtime) is removed here, on
 * the calling thread: starting the system's `rm -rf` (a fork of this process, a new program, waiting for its exit)
 * costs more than removing a few hundred entries. A bigger tree is left to the caller's `rm -rf`: Node's
 * asynchronous recursive remove keeps a request in flight for every entry at once, and a synchronous one would hold
 * the thread for as long as the whole tree takes.
 *
 * @internal
 */
import { readdirSync, rmSync } from "node:fs"
import { join } from "node:path"

/** Entries (files, links and directories, at every depth) up to which a tree is removed on the calling thread. */
export const SMALL_TREE = 512

/** Whether the tree under `dir` holds at most `limit` entries; counting stops past it. Links are not followed. */
export const isSmall = (dir: string, limit: number = SMALL_TREE): boolean => {
  let count = 0
  const pending = [dir]
  while (pending.length > 0) {
    const at = pending.pop()!
    let entries
    try {
      entries = readdirSync(at, { withFileTypes: true })
    } catch {
      return false
    }
    count += entries.length
    if (count > limit) return false
    for (const entry of entries) if (entry.isDirectory()) pending.push(join(at, entry.name))
  }
  return true
}

/** Removes `dir` here when it is small (see {@link isSmall}); false when it is not, or the removal failed. */
export const removeIfSmall = (dir: string, limit: number = SMALL_TREE): boolean => {
  if (!isSmall(dir, limit)) return false
  try {
    rmSync(dir, { recursive: true, force: true })
    return true
  } catch {
    return false
  }
}
