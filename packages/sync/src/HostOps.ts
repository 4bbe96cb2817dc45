/**
 * Runtime → host planning: the plan's transition roots become host ops (unlink, rmdir, mkdir, place, chmod) and
 * "keep" ops, which put the runtime's version of a path beside the host's instead of over it: the runtime side of
 * a conflict (`Conflicts.copyPath`, a whole directory tree included) and a change to a protected path
 * (`Conflicts.heldPath`, held back: see `Conflicts`). `TransferFromRuntime` carries them out.
 *
 * @since 0.1.0
 */
import type { Conflict } from "@org/sandbox-core/WorkspaceSync"
import type { AncestorEntry } from "./Ancestor.js"
import * as Conflicts from "./Conflicts.js"
import type { Entry } from "./Manifest.js"
import { sameContent, subtree } from "./SyncPlan.js"

/**
 * One host mutation.
 *
 * @since 0.1.0
 * @category models
 */
export type HostOp =
  | { readonly op: "unlink"; readonly path: string; readonly expect: Entry }
  | { readonly op: "rmdir"; readonly path: string }
  | { readonly op: "mkdir"; readonly path: string; readonly mode: number }
  | { readonly op: "place"; readonly path: string; readonly source: Entry; readonly expect: Entry | undefined }
  | { readonly op: "chmod"; readonly path: string; readonly exec: boolean; readonly expect: Entry }
  | {
    /** The runtime's version of `path` kept beside it, at `dest` (or the first free `dest-N`), never over it. */
    readonly op: "keep"
    readonly path: string
    readonly dest: string
    /** The runtime's entry at `path` and, for a directory, everything below it (parents first). */
    readonly entries: ReadonlyArray<Entry>
    readonly conflict?: Conflict
    readonly held?: { readonly runtime_change: string }
  }

/**
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly roots: ReadonlyArray<string>
  /** Conflicts whose runtime version should be stored beside the host's. */
  readonly conflicts: ReadonlyArray<Conflict & { readonly runtime: Entry | undefined }>
  readonly ancestor: ReadonlyMap<string, AncestorEntry>
  readonly host: ReadonlyMap<string, Entry>
  readonly runtime: ReadonlyMap<string, Entry>
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
  readonly hostDigest: (entry: Entry) => string | undefined
  readonly caseInsensitive: boolean
  readonly sessionId: string
  /** Paths whose runtime changes are held back (kept beside, never applied); see `Conflicts.isProtected`. */
  readonly protect?: (path: string) => boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Ops {
  readonly ops: Array<HostOp>
  readonly fetch: Array<string>
  /** Paths not created because another host path differs from them only by case. */
  readonly collisions: Array<Conflict>
  readonly deletions: number
}

/**
 * Turns transition roots into host ops.
 *
 * @since 0.1.0
 * @category planning
 */
export const buildOps = (input: Input): Ops => {
  const { children, host: H, runtime: R } = input
  const ops: Array<HostOp> = []
  const fetch: Array<string> = []
  const collisions: Array<Conflict> = []
  const lower = new Map<string, string>()
  if (input.caseInsensitive) { for (const p of H.keys()) lower.set(p.toLowerCase(), p) }
  let deletions = 0
  const protect = input.protect ?? (() => false)
  const keepBeside = (
    path: string,
    dest: string,
    runtime: Entry,
    extra: Partial<Pick<HostOp & { op: "keep" }, "conflict" | "held">>
  ) => {
    const entries = runtime.kind === "dir" ? subtree(path, R, children).map((q) => R.get(q)!) : [runtime]
    ops.push({ op: "keep", path, dest, entries, ...extra })
    for (const e of entries) if (e.kind !== "dir" && !fetch.includes(e.path)) fetch.push(e.path)
  }
  // a change to a protected path: the host keeps its version, the runtime's goes beside it (never applied)
  const hold = (path: string) => {
    const t = R.get(path)
    const f = H.get(path)
    const runtime_change = t === undefined
      ? `deleted ${f?.kind ?? "file"}`
      : f === undefined
      ? `created ${t.kind}`
      : f.kind !== t.kind
      ? `replaced ${f.kind} with ${t.kind}`
      : "modified"
    if (t === undefined) {
      ops.push({
        op: "keep",
        path,
        dest: Conflicts.heldPath(path, input.sessionId),
        entries: [],
        held: { runtime_change }
      })
    } else keepBeside(path, Conflicts.heldPath(path, input.sessionId), t, { held: { runtime_change } })
  }
  const remove = (path: string) => {
    const e = H.get(path)
    if (e === undefined) return
    if (protect(path)) return hold(path)
    if (e.kind === "dir") {
      for (const c of children.get(path) ?? []) remove(c)
      ops.push({ op: "rmdir", path })
    } else {
      deletions++
      ops.push({ op: "unlink", path, expect: e })
    }
  }
  const create = (path: string) => {
    const e = R.get(path)
    if (e === undefined) return
    if (protect(path)) return hold(path)
    if (input.caseInsensitive) {
      const other = lower.get(path.toLowerCase())
      if (other !== undefined && other !== path) {
        collisions.push({
          path,
          host_change: `exists as ${other} (case-insensitive filesystem)`,
          runtime_change: `created ${e.kind}`,
          runtime_copy: null
        })
        return
      }
      lower.set(path.toLowerCase(), path)
    }
    if (e.kind === "dir") {
      ops.push({ op: "mkdir", path, mode: e.mode & 0o777 })
      for (const c of children.get(path) ?? []) create(c)
    } else {
      ops.push({ op: "place", path, source: e, expect: undefined })
      fetch.push(path)
    }
  }
  for (const root of input.roots) {
    const t = R.get(root)
    const f = H.get(root)
    if (protect(root)) hold(root)
    else if (t === undefined) remove(root)
    else if (f === undefined) create(root)
    else if (f.kind !== t.kind) {
      remove(root)
      create(root)
    } else if (
      t.kind === "file" && t.exec !== f.exec && sameContent(input.ancestor.get(root), input.hostDigest(f), t.digest)
    ) {
      ops.push({ op: "chmod", path: root, exec: t.exec, expect: f })
    } else {
      ops.push({ op: "place", path: root, source: t, expect: f })
      fetch.push(root)
    }
  }
  for (const c of input.conflicts) {
    const { runtime, ...conflict } = c
    if (runtime === undefined) continue
    keepBeside(c.path, Conflicts.copyPath(c.path, input.sessionId), runtime, { conflict })
  }
  return { ops, fetch, collisions, deletions }
}
