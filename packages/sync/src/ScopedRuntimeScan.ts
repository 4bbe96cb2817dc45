/**
 * A scoped scan of a remote runtime (a live batch): ONE `provider.exec` of the runtime scanner's script that walks
 * only the paths the watchers saw change (each with its subtree) and the directories above them, comparing them
 * with the snapshot's keys for those paths only; every other entry is taken from the snapshot. A batch's cost
 * then follows what changed, not the size of the tree: the walk, the keys sent and the reply are all that small.
 *
 * Entries the snapshot cannot vouch for (racy or unhashed files) are read again whatever the scope says, as in a
 * full scan; a directory above the scope that is one no longer takes the snapshot's subtree under it along.
 *
 * @since 0.1.0
 */
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import type { Filter } from "./Filter.js"
import { parentOf } from "./Manifest.js"
import type { Entry } from "./Manifest.js"
import * as RuntimeScan from "./RuntimeScan.js"

/**
 * What a scoped scan reads: the scope's roots (none under another), the directories above them, and the part of
 * the snapshot they cover.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly roots: ReadonlyArray<string>
  readonly above: ReadonlyArray<string>
  readonly sub: RuntimeScan.Snapshot
}

/**
 * A scan's result: the whole manifest, and every path whose entry may differ from the snapshot's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scoped {
  readonly manifest: RuntimeScan.RuntimeManifest
  readonly touched: ReadonlySet<string>
}

/**
 * The plan of a scoped scan; `undefined` when a full scan is as cheap or the only right one (more roots than
 * `limit`, a name a line-oriented list cannot carry).
 *
 * @since 0.1.0
 * @category planning
 */
export const plan = (snapshot: RuntimeScan.Snapshot, paths: ReadonlyArray<string>, limit: number): Plan | undefined => {
  const wanted = new Set<string>()
  for (const p of paths) if (p !== "") wanted.add(p)
  for (const e of snapshot.entries.values()) {
    if (!RuntimeScan.trusted(snapshot, e)) wanted.add(e.path)
  }
  if (wanted.size > limit) return undefined
  const under = (p: string, set: ReadonlySet<string>): boolean => {
    for (let q = parentOf(p); q !== ""; q = parentOf(q)) if (set.has(q)) return true
    return false
  }
  const roots: Array<string> = []
  for (const p of wanted) {
    if (p.includes("\n") || p.includes("\r")) return undefined
    if (!under(p, wanted)) roots.push(p)
  }
  const rootSet = new Set(roots)
  const aboveSet = new Set<string>()
  for (const p of roots) for (let q = parentOf(p); q !== "" && !aboveSet.has(q); q = parentOf(q)) aboveSet.add(q)
  const entries = new Map<string, Entry>()
  for (const [p, e] of snapshot.entries) if (aboveSet.has(p) || rootSet.has(p) || under(p, rootSet)) entries.set(p, e)
  // parents before children: a directory that appeared is listed before what is in it
  const above = [...aboveSet].sort((a, b) => (a < b ? -1 : 1))
  return { roots, above, sub: { entries, racy: snapshot.racy, filter_key: snapshot.filter_key } }
}

/**
 * The script's stdin: the directories above, the roots, then the known keys of the part of the snapshot read.
 *
 * @since 0.1.0
 * @category planning
 */
export const stdinOf = (p: Plan): string => {
  const names = [...p.above, ...p.roots].map((x) => `./${x}\n`).join("")
  return names + RuntimeScan.knownKeys(p.sub)
}

/**
 * The whole manifest from the snapshot and what the scoped scan read.
 *
 * @since 0.1.0
 * @category planning
 */
export const merge = (
  snapshot: RuntimeScan.Snapshot,
  p: Plan,
  read: RuntimeScan.RuntimeManifest
): Scoped => {
  const touched = differences(p.sub, read)
  const entries = new Map(snapshot.entries)
  for (const q of p.sub.entries.keys()) entries.delete(q)
  // a directory above the scope that is no directory now: nothing of the snapshot under it is there any more
  const lost = new Set<string>()
  for (const q of p.above) {
    if (snapshot.entries.get(q)?.kind === "dir" && read.entries.get(q)?.kind !== "dir") lost.add(q)
  }
  if (lost.size > 0) {
    for (const q of [...entries.keys()]) {
      for (let r = parentOf(q); r !== ""; r = parentOf(r)) {
        if (lost.has(r)) {
          entries.delete(q)
          touched.add(q)
          break
        }
      }
    }
  }
  for (const [q, e] of read.entries) entries.set(q, e)
  return { manifest: { ...read, entries }, touched }
}

/**
 * Scans the scope in one exec; `undefined` when a full scan must be made instead (see {@link plan}, or the root
 * gone).
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = Effect.fn("ScopedRuntimeScan.scan")(function*(options: {
  readonly provider: ProviderService
  readonly instance: Instance
  readonly root: string
  readonly filter: Filter
  readonly snapshot: RuntimeScan.Snapshot
  readonly paths: ReadonlyArray<string>
  readonly limit: number
}) {
  const p = plan(options.snapshot, options.paths, options.limit)
  if (p === undefined) return undefined
  const result = yield* options.provider.exec(options.instance, {
    shell: RuntimeScan.script(options.root, options.filter, { above: p.above.length, roots: p.roots.length }),
    stdin: stdinOf(p)
  })
  const parsed = RuntimeScan.parse(result.stdout, options.filter, p.sub)
  if (typeof parsed === "string") {
    return { error: `${parsed}; exit ${result.exit_code}: ${result.stderr.slice(0, 500)}` } as const
  }
  if (parsed.root_missing) return undefined
  return merge(options.snapshot, p, parsed)
})

/**
 * The paths where a scan differs from the snapshot it was taken against.
 *
 * @since 0.1.0
 * @category planning
 */
export const differences = (snapshot: RuntimeScan.Snapshot, manifest: RuntimeScan.RuntimeManifest): Set<string> => {
  const out = new Set<string>(manifest.problems.map((x) => x.path))
  for (const [p, e] of manifest.entries) {
    const s = snapshot.entries.get(p)
    if (
      s !== e && (s === undefined || s.kind !== e.kind || s.mode !== e.mode || s.link_target !== e.link_target ||
        (e.kind === "file" && (s.size !== e.size || s.mtime_ns !== e.mtime_ns || s.ino !== e.ino ||
          s.digest !== e.digest || snapshot.racy.has(p))))
    ) out.add(p)
  }
  for (const p of snapshot.entries.keys()) if (!manifest.entries.has(p)) out.add(p)
  return out
}
