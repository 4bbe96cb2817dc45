/**
 * A recursive watcher for a directory tree on this host (the workspace, and a runtime that is a host directory):
 * one `fs.watch` per directory (inotify on Linux, FSEvents/kqueue elsewhere through libuv; Deno maps it to
 * `Deno.watchFs`), added as directories appear and closed as they go. Excluded directories (`node_modules/`,
 * `.git/`, …) are never watched, so what the sync ignores costs no watch and wakes nothing.
 *
 * Node's own `fs.watch(dir, { recursive: true })` is not used: on Linux (Node 20) it opens one watch per FILE
 * and stats every file up front, which costs a watch descriptor and memory per file of a large tree, and it
 * cannot skip excluded directories.
 *
 * A watcher reports relative paths; the caller reads each path (with its subtree) again, so a directory that
 * appears is reported once as itself, whatever was written in it before its own watch was set. Anything that
 * leaves the watcher unsure (an event without a name, a watch that cannot be set or fails) is reported as an
 * overflow: the caller then rescans in full.
 *
 * @internal
 */
import * as fs from "node:fs"
import type { Filter } from "../Filter.js"
import { isInternalName } from "../Filter.js"

/** @internal */
export interface Handlers {
  readonly paths: (paths: ReadonlyArray<string>) => void
  readonly overflow: (why: string) => void
}

/** @internal */
export interface TreeWatcher {
  readonly close: () => void
  /** How many directories are watched. */
  readonly size: () => number
}

const join = (dir: string, name: string) => (dir === "" ? name : `${dir}/${name}`)

/** Starts watching `root` (which must exist). */
export const watchTree = (root: string, filter: Filter, handlers: Handlers): TreeWatcher => {
  // each watched directory with the inode it was watched at: a directory replaced by another of the same name
  // (deleted and made again) needs a new watch, the old one watches a directory that is gone
  const watchers = new Map<string, { readonly watcher: fs.FSWatcher; readonly ino: number }>()
  let closed = false

  const unwatch = (rel: string) => {
    const prefix = `${rel}/`
    for (const [dir, w] of watchers) {
      if (dir === rel || dir.startsWith(prefix)) {
        w.watcher.close()
        watchers.delete(dir)
      }
    }
  }

  // the inode of a directory, or undefined when the path is no directory
  const dirIno = (abs: string): number | undefined => {
    try {
      const st = fs.lstatSync(abs)
      return st.isDirectory() ? st.ino : undefined
    } catch {
      return undefined
    }
  }

  const add = (rel: string): void => {
    if (closed || watchers.has(rel)) return
    if (rel !== "" && filter.excluded(rel, true)) return
    const abs = rel === "" ? root : `${root}/${rel}`
    const ino = dirIno(abs)
    if (ino === undefined && rel !== "") return
    let watcher: fs.FSWatcher
    try {
      watcher = fs.watch(abs, { persistent: false }, (event, name) => {
        if (closed) return
        if (name === null || name === undefined) {
          handlers.overflow(`an event without a name in ${rel === "" ? "." : rel}`)
          return
        }
        const n = String(name)
        if (isInternalName(n)) return
        const p = join(rel, n)
        if (event === "rename") {
          const ino = dirIno(`${root}/${p}`)
          const watched = watchers.get(p)
          if (watched !== undefined && watched.ino !== ino) unwatch(p)
          if (ino !== undefined && !watchers.has(p)) add(p)
        }
        handlers.paths([p])
      })
    } catch (error) {
      // gone already (then its parent's event says so), or a watch that cannot be set (the inotify limit)
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && rel !== "") return
      handlers.overflow(`cannot watch ${rel === "" ? "." : rel}: ${(error as Error).message}`)
      return
    }
    watcher.on("error", (error) => {
      watcher.close()
      if (watchers.get(rel)?.watcher === watcher) watchers.delete(rel)
      if (!closed) handlers.overflow(`the watch of ${rel === "" ? "." : rel} failed: ${error.message}`)
    })
    watchers.set(rel, { watcher, ino: ino ?? -1 })
    let children: Array<fs.Dirent>
    try {
      children = fs.readdirSync(abs, { withFileTypes: true })
    } catch {
      return
    }
    for (const c of children) {
      if (c.isDirectory() && !isInternalName(c.name)) add(join(rel, c.name))
    }
  }

  add("")
  return {
    close: () => {
      closed = true
      for (const w of watchers.values()) w.watcher.close()
      watchers.clear()
    },
    size: () => watchers.size
  }
}
