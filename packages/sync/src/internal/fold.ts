/**
 * Folding a cycle's outcome into the next ancestor: only what really happened (the final states reported by
 * both appliers) is recorded; a path whose transition failed keeps its old ancestor entry, so the next cycle
 * sees it again.
 *
 * @internal
 */
import type { Ancestor, AncestorEntry } from "../Ancestor.js"
import { repair } from "../Ancestor.js"
import * as DigestCache from "../DigestCache.js"
import { type Filter, filterPreorder } from "../Filter.js"
import type { HostManifest } from "../HostScan.js"
import { Entry, parentOf, SAME_AS_ANCESTOR } from "../Manifest.js"
import type { RuntimeManifest } from "../RuntimeScan.js"
import type { Plan } from "../SyncPlan.js"
import { identityOf } from "../SyncPlan.js"
import type { Applied as HostApplied } from "../TransferFromRuntime.js"
import type { Applied as RuntimeApplied } from "../TransferToRuntime.js"

/** What the host → runtime transfer reported. */
export interface ToRuntimeOutcome {
  readonly applied: RuntimeApplied
  readonly raced: ReadonlySet<string>
  readonly bytes: number
}

const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The ancestor entries still tracked under the current filter (a copy). `recordedUnder` is the filter key the
 * entries were folded under: when it is the current one, every entry is tracked and the sort is skipped.
 */
export const filterAncestor = (
  entries: ReadonlyMap<string, AncestorEntry>,
  filter: Filter,
  recordedUnder?: string
): Map<string, AncestorEntry> => {
  if (recordedUnder === filter.key) return new Map(entries)
  const paths = [...entries.keys()].sort(byPath)
  const kept = filterPreorder(filter, paths, (p) => entries.get(p)?.kind === "dir")
  if (kept.size === entries.size) return new Map(entries)
  const out = new Map<string, AncestorEntry>()
  for (const p of paths) if (kept.has(p)) out.set(p, entries.get(p)!)
  return out
}

const isHex = (d: string | undefined): d is string => d !== undefined && d.length === 64

/** Whether the final state an applier reported is the transferred entry (same kind, size, exec bit, target). */
const matches = (fin: Entry, t: Entry): boolean =>
  fin.kind === t.kind &&
  (t.kind !== "file" || (fin.size === t.size && fin.exec === t.exec)) &&
  (t.kind !== "symlink" || fin.link_target === t.link_target)

const sameCache = (a: DigestCache.DigestCache, b: DigestCache.DigestCache): boolean => {
  if (a.size !== b.size) return false
  for (const [p, x] of a) {
    const y = b.get(p)
    if (x === y) continue
    if (
      y === undefined || x.size !== y.size || x.mtime_ns !== y.mtime_ns || x.ino !== y.ino || x.digest !== y.digest ||
      x.racy !== y.racy
    ) return false
  }
  return true
}

/** Builds the next ancestor. */
export const fold = (input: {
  readonly previous: Ancestor
  readonly tracked: ReadonlyMap<string, AncestorEntry>
  readonly host: HostManifest
  readonly runtime: RuntimeManifest
  readonly filterKey: string
  readonly plan: Plan
  readonly toRuntime: ToRuntimeOutcome | undefined
  readonly fromRuntime: HostApplied | undefined
}) => {
  const { host, plan, runtime, tracked } = input
  const entries = new Map(tracked)
  // the next runtime snapshot: what the scan saw, then what the apply reported
  const snapshot = new Map(runtime.entries)
  const racy = new Set(runtime.racy)
  // whether an entry was removed or changed kind: only then can an entry be left without its parent, or a
  // record point at an entry of another kind
  let shrunk = false
  const setEntry = (q: string, e: AncestorEntry) => {
    const before = entries.get(q)
    if (before !== undefined && before.kind !== e.kind) shrunk = true
    entries.set(q, e)
  }
  const setRuntime = (q: string, e: Entry, digest: string | undefined, begin: bigint) => {
    const before = snapshot.get(q)
    if (before !== undefined && before.kind !== e.kind) shrunk = true
    snapshot.set(
      q,
      e.digest === digest ? e : new Entry(e.path, e.kind, e.size, e.mtime_ns, e.mode, e.ino, digest, e.link_target)
    )
    if (e.kind === "file" && DigestCache.isRacy(e.mtime_ns, begin)) racy.add(q)
    else racy.delete(q)
  }
  const dropRuntime = (q: string) => {
    if (snapshot.delete(q)) shrunk = true
    racy.delete(q)
  }
  const stats = { files_to_runtime: 0, bytes_to_runtime: 0, deleted_in_runtime: 0 }

  // what each scan learned; an unchanged record is kept as is (a record that was not racy never becomes racy)
  const previousCache = input.previous.host
  let hostCache: DigestCache.DigestCache
  const learn = (e: Entry) => {
    if (e.kind === "file" && e.digest !== undefined) {
      const before = previousCache.get(e.path)
      hostCache.set(
        e.path,
        before !== undefined && !before.racy && before.digest === e.digest && before.size === e.size &&
          before.mtime_ns === e.mtime_ns && before.ino === e.ino
          ? before
          : DigestCache.record(e, e.digest, host.scan_ns)
      )
    }
  }
  if (host.scope !== undefined) {
    // a scoped host scan: only the paths it read again are news; every other record stays as it was (entries
    // taken from an earlier scan must not turn a racy record into a trusted one)
    hostCache = new Map(previousCache)
    for (const p of host.scope.dropped) hostCache.delete(p)
    for (const p of host.scope.fresh) {
      hostCache.delete(p)
      const e = host.entries.get(p)
      if (e !== undefined) learn(e)
    }
  } else {
    hostCache = new Map()
    for (const e of host.entries.values()) learn(e)
  }
  const forget = (p: string) => {
    if (entries.delete(p)) shrunk = true
    hostCache.delete(p)
  }

  for (const [p, e] of plan.agreements) {
    if (e === undefined) {
      forget(p)
      continue
    }
    setEntry(p, e)
    const h = host.entries.get(p)
    if (e.kind === "file" && h !== undefined) {
      hostCache.set(p, DigestCache.record(h, isHex(e.digest) ? e.digest : SAME_AS_ANCESTOR, host.scan_ns))
    } else {
      hostCache.delete(p)
    }
  }

  const subtreeOf = (root: string): Array<string> => {
    const out: Array<string> = []
    const walk = (p: string) => {
      out.push(p)
      for (const c of plan.children.get(p) ?? []) walk(c)
    }
    walk(root)
    return out
  }
  const failedWithin = (failed: ReadonlySet<string>, root: string, q: string): boolean => {
    if (failed.size === 0) return false
    for (let p = q;; p = parentOf(p)) {
      if (failed.has(p)) return true
      if (p === root || p === "") return false
    }
  }

  if (input.toRuntime !== undefined) {
    const { applied, raced } = input.toRuntime
    for (const root of plan.toRuntime) {
      for (const q of subtreeOf(root)) {
        const fin = applied.final.get(q)
        if (failedWithin(applied.failed, root, q)) {
          // what is there now is unknown content: directories and links are plain facts, files get re-hashed
          if (fin !== undefined && fin.kind !== "file") setRuntime(q, fin, undefined, applied.begin_ns)
          else dropRuntime(q)
          continue
        }
        const t = host.entries.get(q)
        const before = runtime.entries.get(q)
        if (t === undefined) {
          if (fin === undefined) {
            if (before !== undefined && before.kind !== "dir") stats.deleted_in_runtime++
            forget(q)
            dropRuntime(q)
          } else if (fin.kind !== "file") setRuntime(q, fin, undefined, applied.begin_ns)
          else dropRuntime(q)
          continue
        }
        if (fin === undefined || !matches(fin, t)) {
          if (fin !== undefined && fin.kind !== "file") setRuntime(q, fin, undefined, applied.begin_ns)
          else dropRuntime(q)
          continue
        }
        const previous = tracked.get(q)
        if (t.kind !== "file") {
          setEntry(q, identityOf(t, undefined, previous))
          hostCache.delete(q)
          setRuntime(q, fin, undefined, applied.begin_ns)
          if (t.kind === "symlink") stats.files_to_runtime++
          continue
        }
        const moved = before === undefined || before.kind !== "file" || before.mtime_ns !== fin.mtime_ns ||
          before.ino !== fin.ino
        if (moved) {
          stats.files_to_runtime++
          stats.bytes_to_runtime += t.size
        }
        if (raced.has(q)) {
          // the host file changed while it was packed: the runtime holds "what was sent", digest unknown
          setEntry(q, { kind: "file", exec: t.exec, digest: undefined, link_target: undefined })
          hostCache.delete(q)
          setRuntime(q, fin, SAME_AS_ANCESTOR, applied.begin_ns)
          continue
        }
        const code = isHex(t.digest) ? t.digest : SAME_AS_ANCESTOR
        setEntry(q, identityOf(t, t.digest, previous))
        hostCache.set(q, DigestCache.record(t, code, host.scan_ns))
        setRuntime(q, fin, code, applied.begin_ns)
      }
    }
  }

  if (input.fromRuntime !== undefined) {
    const applied = input.fromRuntime
    for (const root of plan.toHost) {
      for (const q of subtreeOf(root)) {
        if (failedWithin(applied.failed, root, q)) continue
        const t = runtime.entries.get(q)
        const fin = applied.final.get(q)
        if (t === undefined) {
          if (fin === undefined) forget(q)
          continue
        }
        if (fin === undefined || !matches(fin, t)) continue
        const previous = tracked.get(q)
        setEntry(q, identityOf(t, t.digest, previous))
        if (t.kind === "file") {
          hostCache.set(q, DigestCache.record(fin, isHex(t.digest) ? t.digest : SAME_AS_ANCESTOR, host.scan_ns))
        } else {
          hostCache.delete(q)
        }
      }
    }
  }

  const folded: Ancestor = {
    identity: input.previous.identity,
    entries,
    host: hostCache,
    runtime: { entries: snapshot, racy, filter_key: input.filterKey }
  }
  // nothing removed or changed kind: every entry added has its parent (the plan adds a new directory before what
  // is in it), and the save validates that again; otherwise drop what lost its parent
  const ancestor = shrunk || input.tracked !== input.previous.entries ? repair(folded) : folded
  const changed = plan.dirty || runtime.changes > 0 || ancestor.entries.size !== input.previous.entries.size ||
    input.filterKey !== input.previous.runtime.filter_key || !sameCache(ancestor.host, input.previous.host)
  return { ancestor, changed, stats }
}
