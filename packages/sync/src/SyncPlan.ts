/**
 * The three-way reconcile: ancestor vs host vs runtime, per path, recursively (Mutagen's `core/reconcile.go`,
 * sync-notes §1.1.3).
 *
 * At each path: if the host and the runtime agree (same kind; same content and exec bit for files; same
 * target for symlinks; both directories), the ancestor takes their state and the walk recurses. Otherwise each
 * side's subtree is diffed against the ancestor and the policy decides:
 * - `two-way` (two-way-safe): if one side is unchanged, the other side's subtree is propagated; if both sides
 *   only deleted, the full deletion is propagated; if one side only deleted, the other side's content wins
 *   (modification beats deletion); otherwise it is a conflict.
 * - `sync-back`: the two-way decision applied only to the host: propagations into the runtime are left
 *   undone, so host-only changes are neither copied nor reported.
 * - `seed` (one-way-safe, host → runtime): the host's subtree is propagated unless the runtime created or
 *   modified something there; runtime-only content is left in place (untracked); anything else is a conflict,
 *   so a runtime file that differs is never overwritten.
 * Paths that are problematic on either side (unsafe symlinks, bad names) are skipped with their subtrees.
 *
 * @since 0.1.0
 */
import type { AncestorEntry } from "./Ancestor.js"
import { type Entry, parentOf, SAME_AS_ANCESTOR } from "./Manifest.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Policy = "seed" | "two-way" | "sync-back"

/**
 * @since 0.1.0
 * @category models
 */
export interface Sides {
  readonly ancestor: ReadonlyMap<string, AncestorEntry>
  readonly host: ReadonlyMap<string, Entry>
  readonly runtime: ReadonlyMap<string, Entry>
  /** Paths left alone on both sides because one side reported them as problems. */
  readonly problems: ReadonlySet<string>
  /** Digest of a host file, hashing it on demand. */
  readonly hostDigest: (entry: Entry) => string | undefined
}

/**
 * A conflict found by the reconcile.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlannedConflict {
  readonly path: string
  readonly host_change: string
  readonly runtime_change: string
  /** The runtime's entry at the path (its version is stored beside the host's when it is a file or symlink). */
  readonly runtime: Entry | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  /** Roots of subtrees to make equal to the host's in the runtime. */
  readonly toRuntime: Array<string>
  /** Roots of subtrees to make equal to the runtime's on the host. */
  readonly toHost: Array<string>
  /** Ancestor updates that need no transfer (`undefined` deletes the entry). */
  readonly agreements: Map<string, AncestorEntry | undefined>
  readonly conflicts: Array<PlannedConflict>
  /** Children of every dirty directory in the union of the three trees (the paths the plan covers). */
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
  /** Whether anything differs at all. */
  readonly dirty: boolean
}

/**
 * The resolved content identity of a side's entry, for the ancestor.
 *
 * @since 0.1.0
 * @category constructors
 */
export const identityOf = (
  entry: Entry,
  digest: string | undefined,
  previous: AncestorEntry | undefined
): AncestorEntry => ({
  kind: entry.kind,
  exec: entry.kind === "file" ? entry.exec : false,
  digest: entry.kind !== "file" ? undefined : digest === SAME_AS_ANCESTOR ? previous?.digest : digest,
  link_target: entry.link_target
})

/**
 * Whether a host file and a runtime file hold the same bytes, resolving "same as ancestor" digests.
 *
 * @since 0.1.0
 * @category reconcile
 */
export const sameContent = (
  a: AncestorEntry | undefined,
  hostDigest: string | undefined,
  runtimeDigest: string | undefined
): boolean => {
  if (hostDigest === SAME_AS_ANCESTOR && runtimeDigest === SAME_AS_ANCESTOR) return true
  const dh = hostDigest === SAME_AS_ANCESTOR ? a?.digest : hostDigest
  const dr = runtimeDigest === SAME_AS_ANCESTOR ? a?.digest : runtimeDigest
  return dh !== undefined && dh === dr
}

/**
 * Reconciles three trees under a policy. With `candidates`, only those paths can differ: every other path is
 * known to be unchanged on the runtime and not to matter on the host (a scoped sync-back, where `candidates`
 * holds the runtime's changes and every host path read again); the plan is the one the whole trees would give.
 *
 * @since 0.1.0
 * @category reconcile
 */
export const reconcile = (sides: Sides, policy: Policy, candidates?: Iterable<string>): Plan => {
  const A = sides.ancestor
  const H = sides.host
  const R = sides.runtime
  const digestOf = (side: "host" | "runtime", e: Entry): string | undefined =>
    side === "host" ? sides.hostDigest(e) : e.digest

  // x is unchanged vs the ancestor entry a
  const identEq = (a: AncestorEntry | undefined, x: Entry | undefined, side: "host" | "runtime"): boolean => {
    if (a === undefined || x === undefined) return a === x
    if (a.kind !== x.kind) return false
    if (a.kind === "dir") return true
    if (a.kind === "symlink") return a.link_target === x.link_target
    if (a.exec !== x.exec) return false
    const d = digestOf(side, x)
    return d === SAME_AS_ANCESTOR || (a.digest !== undefined && d === a.digest)
  }
  // host and runtime hold the same thing at this node
  const shallowEqual = (a: AncestorEntry | undefined, h: Entry | undefined, r: Entry | undefined): boolean => {
    if (h === undefined || r === undefined) return h === r
    if (h.kind !== r.kind) return false
    if (h.kind === "dir") return true
    if (h.kind === "symlink") return h.link_target === r.link_target
    if (h.exec !== r.exec) return false
    return sameContent(a, digestOf("host", h), digestOf("runtime", r))
  }

  // pass 1, no index: which paths differ at all (a no-op sync stops here)
  const changed: Array<string> = []
  if (candidates === undefined) {
    for (const [p, a] of A) {
      if (sides.problems.has(p) || !identEq(a, H.get(p), "host") || !identEq(a, R.get(p), "runtime")) changed.push(p)
    }
    for (const p of H.keys()) if (!A.has(p)) changed.push(p)
    for (const p of R.keys()) if (!A.has(p) && !H.has(p)) changed.push(p)
  } else {
    const seen = new Set<string>()
    for (const p of candidates) {
      if (seen.has(p)) continue
      seen.add(p)
      const a = A.get(p)
      if (
        a === undefined
          ? H.has(p) || R.has(p)
          : sides.problems.has(p) || !identEq(a, H.get(p), "host") || !identEq(a, R.get(p), "runtime")
      ) changed.push(p)
    }
  }
  const children = new Map<string, Array<string>>()
  const dirty = new Set<string>()
  const plan: Plan = {
    toRuntime: [],
    toHost: [],
    agreements: new Map(),
    conflicts: [],
    children,
    dirty: changed.length > 0
  }
  if (changed.length === 0) return plan

  // pass 2: dirty marks on every path that differs at or below, and the index of the dirty paths only. That is
  // every path the plan walks: below a path that differs in kind or presence, every path of the three trees
  // differs too (it is missing on one side, or absent from the ancestor), so a transition root's whole subtree
  // is dirty; an unchanged subtree is never visited.
  for (const path of changed) {
    for (let p = path; !dirty.has(p); p = parentOf(p)) {
      dirty.add(p)
      if (p === "") break
    }
  }
  for (const p of dirty) {
    if (p === "") continue
    const parent = parentOf(p)
    const list = children.get(parent)
    if (list === undefined) children.set(parent, [p])
    else list.push(p)
  }

  const dirtyChildren = (path: string): ReadonlyArray<string> => children.get(path) ?? []

  // 0 = unchanged, 1 = only deletions, 2 = creations or modifications
  const diff = (path: string, X: ReadonlyMap<string, Entry>, side: "host" | "runtime"): 0 | 1 | 2 => {
    if (sides.problems.has(path) || !dirty.has(path)) return 0
    const a = A.get(path)
    const x = X.get(path)
    if (a === undefined) return x === undefined ? 0 : 2
    if (x === undefined) return 1
    if (a.kind !== x.kind) return 2
    if (a.kind !== "dir") return identEq(a, x, side) ? 0 : 2
    let result: 0 | 1 | 2 = 0
    for (const c of dirtyChildren(path)) {
      const d = diff(c, X, side)
      if (d === 2) return 2
      if (d === 1) result = 1
    }
    return result
  }

  const describe = (a: AncestorEntry | undefined, x: Entry | undefined, side: "host" | "runtime"): string => {
    if (a === undefined) return x === undefined ? "absent" : `created ${x.kind}`
    if (x === undefined) return `deleted ${a.kind}`
    if (a.kind !== x.kind) return `replaced ${a.kind} with ${x.kind}`
    if (x.kind === "dir") return "changed directory contents"
    if (x.kind === "symlink") return "retargeted symlink"
    if (a.exec !== x.exec && identEq({ ...a, exec: x.exec }, x, side)) {
      return x.exec
        ? "set exec bit"
        : "cleared exec bit"
    }
    return "modified file"
  }

  const untrack = (path: string) => {
    if (A.has(path)) plan.agreements.set(path, undefined)
    for (const c of children.get(path) ?? []) untrack(c)
  }

  const conflict = (path: string, a: AncestorEntry | undefined, h: Entry | undefined, r: Entry | undefined) =>
    plan.conflicts.push({
      path,
      host_change: describe(a, h, "host"),
      runtime_change: describe(a, r, "runtime"),
      runtime: r
    })

  const visit = (path: string): void => {
    if (sides.problems.has(path)) return
    const a = A.get(path)
    const h = H.get(path)
    const r = R.get(path)
    if (shallowEqual(a, h, r)) {
      if (h === undefined || r === undefined) {
        untrack(path)
        return
      }
      if (!identEq(a, h, "host") || !identEq(a, r, "runtime")) {
        const hd = digestOf("host", h)
        plan.agreements.set(path, identityOf(h, hd === SAME_AS_ANCESTOR ? digestOf("runtime", r) : hd, a))
      }
      if (h.kind === "dir") { for (const c of dirtyChildren(path)) visit(c) }
      return
    }
    const hd = policy === "seed" ? 0 : diff(path, H, "host")
    const rd = diff(path, R, "runtime")
    if (policy === "seed") {
      if (rd <= 1) plan.toRuntime.push(path)
      else if (h === undefined && !(a?.kind === "dir" && r?.kind === "dir")) untrack(path)
      else conflict(path, a, h, r)
      return
    }
    const toRuntime = () => {
      if (policy === "two-way") plan.toRuntime.push(path)
    }
    if (hd === 0) plan.toHost.push(path)
    else if (rd === 0) toRuntime()
    else if (hd === 1 && rd === 1) {
      if (h !== undefined) plan.toHost.push(path)
      if (r !== undefined) toRuntime()
      if (h === undefined && r === undefined) untrack(path)
    } else if (hd === 1) plan.toHost.push(path)
    else if (rd === 1) toRuntime()
    else conflict(path, a, h, r)
  }

  for (const c of dirtyChildren("")) visit(c)
  return plan
}

/**
 * The paths where one side differs from the ancestor (an entry changed, added or missing, or a problem), in no
 * particular order; `undefined` as soon as there are more than `limit`.
 *
 * @since 0.1.0
 * @category reconcile
 */
export const sideChanges = (
  ancestor: ReadonlyMap<string, AncestorEntry>,
  side: ReadonlyMap<string, Entry>,
  problems: ReadonlySet<string>,
  limit = Number.POSITIVE_INFINITY
): Array<string> | undefined => {
  const out: Array<string> = [...problems]
  for (const [p, x] of side) {
    const a = ancestor.get(p)
    if (
      a === undefined || a.kind !== x.kind || (a.kind === "symlink" && a.link_target !== x.link_target) ||
      (a.kind === "file" &&
        (a.exec !== x.exec || !(x.digest === SAME_AS_ANCESTOR || (a.digest !== undefined && x.digest === a.digest))))
    ) {
      out.push(p)
      if (out.length > limit) return undefined
    }
  }
  if (side.size !== ancestor.size || out.length > 0) {
    for (const p of ancestor.keys()) {
      if (!side.has(p)) {
        out.push(p)
        if (out.length > limit) return undefined
      }
    }
  }
  return out
}

/**
 * Whether one side holds exactly the ancestor (every entry unchanged, none added or missing).
 *
 * @since 0.1.0
 * @category reconcile
 */
export const sideClean = (
  ancestor: ReadonlyMap<string, AncestorEntry>,
  side: ReadonlyMap<string, Entry>,
  problems: ReadonlySet<string>
): boolean =>
  side.size === ancestor.size && problems.size === 0 && sideChanges(ancestor, side, problems, 0)?.length === 0

/**
 * The paths at and below `root` in a tree, parents before children (children from the union index).
 *
 * @since 0.1.0
 * @category trees
 */
export const subtree = (
  root: string,
  tree: ReadonlyMap<string, unknown>,
  children: ReadonlyMap<string, ReadonlyArray<string>>
): Array<string> => {
  const out: Array<string> = []
  const walk = (path: string) => {
    if (!tree.has(path)) return
    out.push(path)
    for (const c of children.get(path) ?? []) walk(c)
  }
  walk(root)
  return out
}
