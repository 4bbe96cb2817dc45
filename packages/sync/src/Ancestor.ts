/**
 * The ancestor: the last state both sides agreed on, plus each side's digest cache, persisted per session under
 * `state_dir` by `AncestorStore` after its invariants are checked ({@link validate}). A missing, corrupt or
 * foreign ancestor means "no ancestor": a reconcile without one deletes nothing and turns every difference into
 * a conflict or a copy.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { CacheEntry, DigestCache } from "./DigestCache.js"
import { Entry, type Kind, parentOf, SAME_AS_ANCESTOR, unsafePathReason } from "./Manifest.js"
import type { Snapshot } from "./RuntimeScan.js"

/**
 * The content identity of a path both sides agreed on (no stat: "both made the same change" compares equal).
 *
 * @since 0.1.0
 * @category models
 */
export interface AncestorEntry {
  readonly kind: Kind
  readonly exec: boolean
  /** Hex sha256, or `undefined` when the content was transferred without being hashed. */
  readonly digest: string | undefined
  readonly link_target: string | undefined
}

/**
 * Which runtime and host an ancestor belongs to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Identity {
  readonly session_id: string
  readonly sandbox_id: string
  readonly instance_id: string
  readonly host_root: string
  readonly runtime_root: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Ancestor {
  readonly identity: Identity
  readonly entries: Map<string, AncestorEntry>
  /** The host's digest cache. */
  readonly host: DigestCache
  /** The engine's last view of the runtime (the next runtime scan reports differences from it). */
  readonly runtime: Snapshot
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const empty = (identity: Identity): Ancestor => ({
  identity,
  entries: new Map(),
  host: new Map(),
  runtime: { entries: new Map(), racy: new Set(), filter_key: "" }
})

/**
 * The file name of the ancestor inside `state_dir`.
 *
 * @since 0.1.0
 * @category constants
 */
export const FILE_NAME = "sync-ancestor.json"

/**
 * The file name of the ancestor's journal inside `state_dir` (see `AncestorStore`).
 *
 * @since 0.1.0
 * @category constants
 */
export const JOURNAL_NAME = "sync-ancestor.journal"

const KindCode = Schema.Literal("f", "d", "l")
const Bit = Schema.Literal(0, 1)
const Digest = Schema.String.pipe(Schema.pattern(/^(|=|[0-9a-f]{64})$/))
const Ns = Schema.String.pipe(Schema.pattern(/^-?\d+$/))

/**
 * The row of each table: ancestor entry (path, kind, exec, digest, link target), host cache record (path, size,
 * mtime_ns, inode, digest, racy) and runtime snapshot entry (path, kind, size, mtime_ns, inode, mode, digest,
 * link target, racy).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Rows = {
  entry: Schema.Tuple(Schema.String, KindCode, Bit, Digest, Schema.String),
  cache: Schema.Tuple(Schema.String, Schema.Number, Ns, Schema.Number, Digest, Bit),
  snapshot: Schema.Tuple(
    Schema.String,
    KindCode,
    Schema.Number,
    Ns,
    Schema.Number,
    Schema.Number,
    Digest,
    Schema.String,
    Bit
  )
} as const

/**
 * The persisted form: struct-of-rows, one tuple per path, so 20 000 entries stay a few MB of JSON. `generation`
 * names this base for the journal lines appended after it (see `AncestorStore`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Encoded = Schema.Struct({
  format: Schema.Literal("sandbox-sync-ancestor"),
  version: Schema.Literal(1),
  generation: Schema.optional(Schema.String),
  identity: Schema.Struct({
    session_id: Schema.String,
    sandbox_id: Schema.String,
    instance_id: Schema.String,
    host_root: Schema.String,
    runtime_root: Schema.String
  }),
  entries: Schema.Array(Rows.entry),
  host: Schema.Array(Rows.cache),
  runtime: Schema.Array(Rows.snapshot),
  runtime_filter: Schema.String
})

const kindCode = { file: "f", dir: "d", symlink: "l" } as const
const kindOf = { f: "file", d: "dir", l: "symlink" } as const

/**
 * Row encoders and decoders, shared by the base file and the journal.
 *
 * @since 0.1.0
 * @category encoding
 */
export const row = {
  entry: (
    path: string,
    e: AncestorEntry
  ): typeof Rows.entry.Type => [path, kindCode[e.kind], e.exec ? 1 : 0, e.digest ?? "", e.link_target ?? ""],
  cache: (
    path: string,
    c: CacheEntry
  ): typeof Rows.cache.Type => [path, c.size, c.mtime_ns, c.ino, c.digest, c.racy ? 1 : 0],
  snapshot: (
    e: Entry,
    racy: boolean
  ): typeof Rows.snapshot.Type => [
    e.path,
    kindCode[e.kind],
    e.size,
    e.mtime_ns,
    e.ino,
    e.mode,
    e.digest ?? "",
    e.link_target ?? "",
    racy ? 1 : 0
  ],
  fromEntry: ([, k, exec, digest, target]: typeof Rows.entry.Type): AncestorEntry => ({
    kind: kindOf[k],
    exec: exec === 1,
    digest: digest === "" || digest === SAME_AS_ANCESTOR ? undefined : digest,
    link_target: k === "l" ? target : undefined
  }),
  /** `undefined` for a record without digest (never written, tolerated on read). */
  fromCache: ([, size, mtime_ns, ino, digest, racy]: typeof Rows.cache.Type): CacheEntry | undefined =>
    digest === "" ? undefined : { size, mtime_ns, ino, digest, racy: racy === 1 },
  fromSnapshot: ([path, k, size, mtime, ino, mode, digest, target]: typeof Rows.snapshot.Type): Entry =>
    new Entry(
      path,
      kindOf[k],
      size,
      mtime,
      mode,
      ino,
      digest === "" ? undefined : digest,
      k === "l" ? target : undefined
    )
}

/**
 * Encodes an ancestor for writing. Rows are written in map order (no sort: the file is read back into maps, and
 * a sort of every table would cost more than the rest of the encoding).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (ancestor: Ancestor, generation?: string): typeof Encoded.Encoded => ({
  format: "sandbox-sync-ancestor",
  version: 1,
  ...(generation !== undefined ? { generation } : {}),
  identity: { ...ancestor.identity },
  entries: [...ancestor.entries].map(([path, e]) => row.entry(path, e)),
  host: [...ancestor.host].map(([path, c]) => row.cache(path, c)),
  runtime: [...ancestor.runtime.entries.values()].map((e) => row.snapshot(e, ancestor.runtime.racy.has(e.path))),
  runtime_filter: ancestor.runtime.filter_key
})

/**
 * The JSON text of {@link encode} (exactly `JSON.stringify(encode(ancestor, generation))`) in pieces of about
 * `pieceChars` characters, built as they are asked for: a large ancestor is written without its rows, the whole
 * text or its bytes ever being in memory at once.
 *
 * @since 0.1.0
 * @category encoding
 */
export function* encodeText(ancestor: Ancestor, generation?: string, pieceChars = 1 << 20): Generator<string> {
  const head = JSON.stringify({
    format: "sandbox-sync-ancestor",
    version: 1,
    ...(generation !== undefined ? { generation } : {}),
    identity: { ...ancestor.identity }
  })
  let out = head.slice(0, -1)
  const table = function*<A>(name: string, items: Iterable<A>, toRow: (a: A) => unknown): Generator<string> {
    out += `,${JSON.stringify(name)}:[`
    let first = true
    let rows: Array<unknown> = []
    const flush = () => {
      if (rows.length === 0) return
      out += (first ? "" : ",") + JSON.stringify(rows).slice(1, -1)
      first = false
      rows = []
    }
    for (const item of items) {
      rows.push(toRow(item))
      if (rows.length === 512) {
        flush()
        if (out.length >= pieceChars) {
          yield out
          out = ""
        }
      }
    }
    flush()
    out += "]"
  }
  yield* table("entries", ancestor.entries, ([path, e]) => row.entry(path, e))
  yield* table("host", ancestor.host, ([path, c]) => row.cache(path, c))
  const racy = ancestor.runtime.racy
  yield* table("runtime", ancestor.runtime.entries.values(), (e) => row.snapshot(e, racy.has(e.path)))
  out += `,"runtime_filter":${JSON.stringify(ancestor.runtime.filter_key)}}`
  yield out
}

/**
 * Decodes the persisted form. Invariants are checked by {@link validate}.
 *
 * @since 0.1.0
 * @category encoding
 */
export const decode = (encoded: typeof Encoded.Type): Ancestor => {
  const host: DigestCache = new Map()
  for (const r of encoded.host) {
    const c = row.fromCache(r)
    if (c !== undefined) host.set(r[0], c)
  }
  return {
    identity: encoded.identity,
    entries: new Map(encoded.entries.map((r) => [r[0], row.fromEntry(r)])),
    host,
    runtime: {
      entries: new Map(encoded.runtime.map((r) => [r[0], row.fromSnapshot(r)])),
      racy: new Set(encoded.runtime.filter((r) => r[8] === 1).map((r) => r[0])),
      filter_key: encoded.runtime_filter
    }
  }
}

/**
 * The first broken invariant, or `undefined`: clean relative paths, every entry's parent a directory entry,
 * cache records only for file entries' paths when they claim ancestor equality.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (ancestor: Ancestor): string | undefined => {
  for (const [path, entry] of ancestor.entries) {
    const unsafe = unsafePathReason(path)
    if (unsafe !== undefined) return `${path}: ${unsafe}`
    const parent = parentOf(path)
    if (parent !== "" && ancestor.entries.get(parent)?.kind !== "dir") return `${path}: parent is not a directory entry`
    if (entry.kind === "symlink" && entry.link_target === undefined) return `${path}: symlink without target`
  }
  for (const [path, c] of ancestor.host) {
    if (c.digest === SAME_AS_ANCESTOR && ancestor.entries.get(path)?.kind !== "file") {
      return `${path}: host cache claims ancestor content but the ancestor has no file there`
    }
  }
  for (const [path, e] of ancestor.runtime.entries) {
    if (e.path !== path) return `${path}: runtime snapshot entry under another path`
    // a path of the entries was checked above
    const unsafe = ancestor.entries.has(path) ? undefined : unsafePathReason(path)
    if (unsafe !== undefined) return `${path}: ${unsafe}`
    const parent = parentOf(path)
    if (parent !== "" && ancestor.runtime.entries.get(parent)?.kind !== "dir") {
      return `${path}: runtime snapshot parent is not a directory`
    }
    if (e.digest === SAME_AS_ANCESTOR && ancestor.entries.get(path)?.kind !== "file") {
      return `${path}: runtime snapshot claims ancestor content but the ancestor has no file there`
    }
  }
  return undefined
}

/** The entries of a map that pass `keep`: the map itself when all of them do. */
const keepWhere = <A>(map: Map<string, A>, keep: (path: string, a: A) => boolean): Map<string, A> => {
  for (const [path, a] of map) {
    if (!keep(path, a)) {
      const out = new Map<string, A>()
      for (const [p, x] of map) if (keep(p, x)) out.set(p, x)
      return out
    }
  }
  return map
}

/**
 * Drops entries whose parent is not a directory entry (with their cache records): a partially applied
 * transition leaves the affected paths "unknown", which the next reconcile treats conservatively.
 *
 * @since 0.1.0
 * @category validation
 */
export const repair = (ancestor: Ancestor): Ancestor => {
  const entries = keepRooted(ancestor.entries, (e) => e.kind === "dir")
  const host = keepWhere(
    ancestor.host,
    (path, c) => c.digest !== SAME_AS_ANCESTOR || entries.get(path)?.kind === "file"
  )
  // runtime snapshot: drop orphans, and entries whose digest points at an ancestor that is gone
  const rooted = keepRooted(ancestor.runtime.entries, (e) => e.kind === "dir")
  const snapshot = keepWhere(rooted, (path, e) => e.digest !== SAME_AS_ANCESTOR || entries.get(path)?.kind === "file")
  const racy = [...ancestor.runtime.racy].every((p) => snapshot.has(p))
    ? ancestor.runtime.racy
    : new Set([...ancestor.runtime.racy].filter((p) => snapshot.has(p)))
  return {
    identity: ancestor.identity,
    entries,
    host,
    runtime: { entries: snapshot, racy, filter_key: ancestor.runtime.filter_key }
  }
}

/**
 * The entries all of whose ancestors are present directory entries (no sort: memoized walk up); `map` itself when
 * that is all of them.
 */
const keepRooted = <A>(map: ReadonlyMap<string, A>, isDir: (a: A) => boolean): Map<string, A> => {
  // usual case: every entry's parent is a directory entry, so by induction every entry is rooted
  let whole = true
  for (const path of map.keys()) {
    const parent = parentOf(path)
    if (parent === "") continue
    const e = map.get(parent)
    if (e === undefined || !isDir(e)) {
      whole = false
      break
    }
  }
  if (whole) return map instanceof Map ? map : new Map(map)
  const memo = new Map<string, boolean>([["", true]])
  const rootedDir = (dir: string): boolean => {
    let known = memo.get(dir)
    if (known === undefined) {
      const e = map.get(dir)
      known = e !== undefined && isDir(e) && rootedDir(parentOf(dir))
      memo.set(dir, known)
    }
    return known
  }
  const out = new Map<string, A>()
  for (const [path, e] of map) if (rootedDir(parentOf(path))) out.set(path, e)
  return out
}
