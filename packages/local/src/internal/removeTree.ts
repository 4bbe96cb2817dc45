/**
 * Removing a directory tree that was moved aside. A small tree (a one-file workspace's runtime) is removed at once,
 * on the calling thread: anything more elaborate costs more than removing a few hundred entries. A bigger one is
 * removed a directory at a time with at most 16 removals in flight ({@link removeTree}): Node's asynchronous
 * recursive remove starts a request for every entry of the tree at once (about 100 MB at 100,000 files), a
 * synchronous one holds the thread for as long as the whole tree takes, and the system's `rm -rf`, one entry at a
 * time, took 23.7 s for 20,000 files on a busy disk where parallel requests take 2-3 s.
 *
 * @internal
 */
import { type Dirent, promises as fsp, readdirSync, rmSync } from "node:fs"
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

const gone = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT"

/** Removes `dir` and everything below it without following symbolic links; fails on the first other error. */
export const removeTree = async (dir: string, width = 16): Promise<void> => {
  let names: Array<Dirent>
  try {
    names = await fsp.readdir(dir, { withFileTypes: true })
  } catch (error) {
    if (gone(error)) return
    throw error
  }
  const leaves = names.filter((d) => !d.isDirectory())
  let next = 0
  const unlinkSome = async () => {
    while (next < leaves.length) {
      const name = leaves[next++]!.name
      await fsp.unlink(join(dir, name)).catch((error) => {
        if (!gone(error)) throw error
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, leaves.length) }, unlinkSome))
  for (const d of names) if (d.isDirectory()) await removeTree(join(dir, d.name), width)
  await fsp.rmdir(dir).catch((error) => {
    if (!gone(error)) throw error
  })
}
