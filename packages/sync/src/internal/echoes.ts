/**
 * What live batches wrote, so that the watchers' report of it (the echo of the engine's own writes) does not
 * start another batch that would only read it back.
 *
 * A watcher event is an echo when its path is a file (or an absence) exactly as a recent batch left it: on the
 * host the file's stat now (size, mtime, inode, exec bit), in the runtime the stat the watcher read after the
 * change (`RuntimeWatch`'s keys), equal to what the batch recorded. A real edit after the write changes the
 * mtime (the engine's writes keep the source's, older, mtime) or the inode or the size, so it is never taken for
 * an echo; an event that carries no stat (`inotifywait`) never is either. Directories are never echoes: a
 * directory's event means "read my subtree", which no record of ours can vouch for.
 *
 * @internal
 */
import type { Ancestor } from "../Ancestor.js"
import { parentOf } from "../Manifest.js"
import * as hostFs from "./hostFs.js"

// how long a record is kept: the echo of a write comes within a batch or two
const KEEP_MS = 30_000

/** The key a runtime watcher prints for a file. */
export const fileKey = (e: { size: number; mtime_ns: string; ino: number; mode: number }): string =>
  `f ${e.size} ${e.mtime_ns} ${e.ino} ${e.mode.toString(8)}`

interface Record {
  readonly key: string
  readonly at: number
}

/** The records of one state dir. */
export interface Echoes {
  readonly host: Map<string, Record>
  readonly runtime: Map<string, Record>
}

export const empty = (): Echoes => ({ host: new Map(), runtime: new Map() })

// the roots and, for a directory root, everything the ancestor now has under it
const withSubtrees = (roots: ReadonlyArray<string>, paths: Iterable<string>): Set<string> => {
  const out = new Set(roots)
  if (roots.length === 0) return out
  const set = new Set(roots)
  for (const p of paths) {
    for (let q = parentOf(p); q !== ""; q = parentOf(q)) {
      if (set.has(q)) {
        out.add(p)
        break
      }
    }
  }
  return out
}

/** Records what a batch wrote: runtime records from the ancestor the batch saved, host ones checked on disk. */
export const record = (
  echoes: Echoes,
  o: {
    readonly ancestor: Ancestor
    readonly toRuntime: ReadonlyArray<string>
    readonly toHost: ReadonlyArray<string>
    readonly hostRoot: string
  }
): void => {
  const now = Date.now()
  for (const map of [echoes.host, echoes.runtime]) {
    for (const [p, r] of map) if (now - r.at > KEEP_MS) map.delete(p)
  }
  const runtime = o.ancestor.runtime.entries
  for (const p of withSubtrees(o.toRuntime, o.toRuntime.length > 0 ? runtime.keys() : [])) {
    const e = runtime.get(p)
    if (e === undefined) echoes.runtime.set(p, { key: "-", at: now })
    else if (e.kind === "file") echoes.runtime.set(p, { key: fileKey(e), at: now })
    else echoes.runtime.delete(p)
  }
  for (const p of withSubtrees(o.toHost, o.toHost.length > 0 ? o.ancestor.entries.keys() : [])) {
    const a = o.ancestor.entries.get(p)
    const st = hostFs.lstat(`${o.hostRoot}/${p}`)
    if (a === undefined && st === undefined) {
      echoes.host.set(p, { key: "-", at: now })
      continue
    }
    // only a file as the batch left it (the stat its write was recorded with): an edit that came after the write
    // and before this look is not ours, and is never recorded
    const c = o.ancestor.host.get(p)
    if (
      a?.kind === "file" && st?.kind === "file" && c !== undefined && c.size === st.size &&
      c.mtime_ns === st.mtime_ns && c.ino === st.ino && ((st.mode & 0o111) !== 0) === a.exec
    ) echoes.host.set(p, { key: fileKey(st), at: now })
    else echoes.host.delete(p)
  }
}

/** Whether a watcher's event is the echo of a batch's write. */
export const isEcho = (
  echoes: Echoes,
  side: "host" | "runtime",
  path: string,
  key: string | undefined,
  roots: { readonly host: string; readonly runtime: string | undefined }
): boolean => {
  const r = (side === "host" ? echoes.host : echoes.runtime).get(path)
  if (r === undefined) return false
  // a runtime watcher that reads no stat: a runtime on this host is looked at as the host is, any other never
  if (side === "runtime" && key !== undefined) return r.key === key
  const root = side === "host" ? roots.host : roots.runtime
  if (root === undefined) return false
  const st = hostFs.lstat(`${root}/${path}`)
  if (st === undefined) return r.key === "-"
  return st.kind === "file" && r.key === fileKey(st)
}
