/**
 * Persisting the ancestor under `state_dir` as a base file plus an append-only journal, so that a cycle that
 * changed ten files writes a few hundred bytes instead of re-encoding and rewriting the whole manifest:
 * - `sync-ancestor.json` holds the whole ancestor (`Ancestor.Encoded`) and a random `generation`; it is written
 *   atomically (temp file, fsync, rename);
 * - `sync-ancestor.journal` holds one JSON line per later save with only what changed (rows set and paths gone,
 *   per table) and the generation of the base it follows; each line is appended and fsynced.
 *
 * Loading reads the base and applies the journal lines of its generation in order, then validates the result and
 * binds it to the runtime's identity. A line of another generation is left over from before a compaction and
 * ignored; a torn last line (a crash while appending) is ignored, which is the state before that save, and makes
 * the next save compact; any other line that does not decode makes the ancestor corrupt: "no ancestor".
 *
 * Saving appends when the previous ancestor is known to be what is on disk and the journal is under
 * {@link JOURNAL_LIMIT}; the append is validated as a delta against that previous ancestor (valid by induction):
 * every row set has a clean path whose parent is a directory entry, a directory removed or replaced leaves no
 * entry below it, and a "same as ancestor" digest still points at a file entry. Otherwise it compacts: a new base
 * with a new generation, fully validated, then the journal is removed.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import type { Ancestor, AncestorEntry, Identity } from "./Ancestor.js"
import { decode, Encoded, encodeText, FILE_NAME, JOURNAL_NAME, row, Rows, validate } from "./Ancestor.js"
import type { CacheEntry } from "./DigestCache.js"
import { type Entry, parentOf, SAME_AS_ANCESTOR, unsafePathReason } from "./Manifest.js"

/**
 * Removes the sync state of a session from `stateDir`: the ancestor (base and journal), their temporary files and
 * the engine's staging leftovers (`.sandbox-sync-*`). Other files there are left alone.
 *
 * @since 0.1.0
 * @category persistence
 */
export const forget = Effect.fn("AncestorStore.forget")(function*(stateDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const names = yield* fs.readDirectory(stateDir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
  for (const name of names) {
    if (
      name === FILE_NAME || name === JOURNAL_NAME || name.startsWith(`${FILE_NAME}.tmp-`) ||
      name.startsWith(".sandbox-sync-")
    ) {
      yield* fs.remove(path.join(stateDir, name), { recursive: true }).pipe(Effect.ignore)
    }
  }
})

/**
 * The journal size above which the next save writes a new base instead of appending.
 *
 * @since 0.1.0
 * @category constants
 */
export const JOURNAL_LIMIT = 1 << 20

/**
 * An ancestor as it is on disk: the generation of its base, `undefined` when the next save must write a new
 * base (none yet, or a torn journal).
 *
 * @since 0.1.0
 * @category models
 */
export interface Persisted {
  readonly ancestor: Ancestor
  readonly generation: string | undefined
}

const Line = Schema.Struct({
  generation: Schema.String,
  entries: Schema.Array(Rows.entry),
  entries_gone: Schema.Array(Schema.String),
  host: Schema.Array(Rows.cache),
  host_gone: Schema.Array(Schema.String),
  runtime: Schema.Array(Rows.snapshot),
  runtime_gone: Schema.Array(Schema.String),
  runtime_filter: Schema.String
})
type Line = typeof Line.Type

const decodeBase = Schema.decodeUnknownEither(Schema.parseJson(Encoded))
const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(Line))

/**
 * Whether a stored ancestor belongs to this sync: same sandbox, instance, host root and runtime root. The
 * session id is not part of it: a reuse session reattached to its sandbox syncs against the real ancestor.
 */
export const sameIdentity = (a: Identity, b: Identity): boolean =>
  a.sandbox_id === b.sandbox_id && a.instance_id === b.instance_id &&
  a.host_root === b.host_root && a.runtime_root === b.runtime_root

/** Applies journal lines to a decoded base (in place: the base is fresh). */
const replay = (ancestor: Ancestor, lines: ReadonlyArray<Line>): Ancestor => {
  const entries = ancestor.entries
  const host = ancestor.host
  const snapshot = new Map(ancestor.runtime.entries)
  const racy = new Set(ancestor.runtime.racy)
  let filter_key = ancestor.runtime.filter_key
  for (const line of lines) {
    for (const p of line.entries_gone) entries.delete(p)
    for (const r of line.entries) entries.set(r[0], row.fromEntry(r))
    for (const p of line.host_gone) host.delete(p)
    for (const r of line.host) {
      const c = row.fromCache(r)
      if (c === undefined) host.delete(r[0])
      else host.set(r[0], c)
    }
    for (const p of line.runtime_gone) {
      snapshot.delete(p)
      racy.delete(p)
    }
    for (const r of line.runtime) {
      snapshot.set(r[0], row.fromSnapshot(r))
      if (r[8] === 1) racy.add(r[0])
      else racy.delete(r[0])
    }
    filter_key = line.runtime_filter
  }
  return { ...ancestor, runtime: { entries: snapshot, racy, filter_key } }
}

/**
 * A stamp of the files on disk (size, mtime and inode of both): equal stamps mean the ancestor in memory is
 * still what is on disk.
 *
 * @since 0.1.0
 * @category persistence
 */
export const stamp = Effect.fn("AncestorStore.stamp")(function*(stateDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const one = (name: string) =>
    fs.stat(path.join(stateDir, name)).pipe(
      Effect.map((st) =>
        `${Option.getOrElse(st.mtime, () => new Date(0)).getTime()}:${st.size}:${Option.getOrElse(st.ino, () => 0)}`
      ),
      Effect.orElseSucceed(() => "")
    )
  const base = yield* one(FILE_NAME)
  return base === "" ? "" : `${base}/${yield* one(JOURNAL_NAME)}`
})

/**
 * Reads the ancestor for `identity`; `None` when missing, corrupt, invalid or bound to another runtime.
 *
 * @since 0.1.0
 * @category persistence
 */
export const load = Effect.fn("AncestorStore.load")(function*(stateDir: string, identity: Identity) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const none = Option.none<Persisted>()
  const text = yield* fs.readFileString(path.join(stateDir, FILE_NAME)).pipe(Effect.option)
  if (Option.isNone(text)) return none
  const decoded = decodeBase(text.value)
  if (decoded._tag === "Left") {
    yield* Effect.logWarning("sync ancestor is corrupt; syncing as if there were none")
    return none
  }
  let ancestor = decode(decoded.right)
  let generation = decoded.right.generation
  if (generation !== undefined) {
    const journal = yield* fs.readFileString(path.join(stateDir, JOURNAL_NAME)).pipe(
      Effect.orElseSucceed(() => "")
    )
    const parts = journal.split("\n")
    const torn = parts.pop() !== ""
    const lines: Array<Line> = []
    for (const part of parts) {
      const line = decodeLine(part)
      if (line._tag === "Left") {
        yield* Effect.logWarning("sync ancestor journal is corrupt; syncing as if there were no ancestor")
        return none
      }
      if (line.right.generation === generation) lines.push(line.right)
    }
    ancestor = replay(ancestor, lines)
    if (torn) generation = undefined
  }
  const broken = validate(ancestor)
  if (broken !== undefined) {
    yield* Effect.logWarning(`sync ancestor is invalid (${broken}); syncing as if there were none`)
    return none
  }
  if (!sameIdentity(ancestor.identity, identity)) return none
  return Option.some<Persisted>({ ancestor, generation })
})

interface Changes<A> {
  readonly set: Array<[string, A]>
  readonly gone: Array<string>
}

/** What changed from `before` to `after`; `same` is only asked for distinct objects. */
const changes = <A>(
  before: ReadonlyMap<string, A>,
  after: ReadonlyMap<string, A>,
  same: (path: string, a: A, b: A) => boolean
): Changes<A> => {
  const set: Array<[string, A]> = []
  let added = 0
  for (const [p, b] of after) {
    const a = before.get(p)
    if (a === undefined) {
      added++
      set.push([p, b])
    } else if (a !== b && !same(p, a, b)) set.push([p, b])
  }
  const gone: Array<string> = []
  if (before.size + added !== after.size) { for (const p of before.keys()) if (!after.has(p)) gone.push(p) }
  return { set, gone }
}

const sameEntry = (_: string, a: AncestorEntry, b: AncestorEntry) =>
  a.kind === b.kind && a.exec === b.exec && a.digest === b.digest && a.link_target === b.link_target

const sameCache = (_: string, a: CacheEntry, b: CacheEntry) =>
  a.size === b.size && a.mtime_ns === b.mtime_ns && a.ino === b.ino && a.digest === b.digest && a.racy === b.racy

/** The first broken invariant of `next`, given that `previous` was valid and these are the differences. */
const validateChanges = (
  previous: Ancestor,
  next: Ancestor,
  d: { readonly entries: Changes<AncestorEntry>; readonly host: Changes<CacheEntry>; readonly runtime: Changes<Entry> }
): string | undefined => {
  const A = next.entries
  const S = next.runtime.entries
  // directories that disappeared or became something else, per tree, and ancestor files that did
  const goneDirs = new Set<string>()
  const goneSnapshotDirs = new Set<string>()
  const goneFiles = new Set<string>()
  for (const p of d.entries.gone) {
    const k = previous.entries.get(p)?.kind
    if (k === "dir") goneDirs.add(p)
    if (k === "file") goneFiles.add(p)
  }
  for (const [p, e] of d.entries.set) {
    const unsafe = unsafePathReason(p)
    if (unsafe !== undefined) return `${p}: ${unsafe}`
    const parent = parentOf(p)
    if (parent !== "" && A.get(parent)?.kind !== "dir") return `${p}: parent is not a directory entry`
    if (e.kind === "symlink" && e.link_target === undefined) return `${p}: symlink without target`
    const k = previous.entries.get(p)?.kind
    if (k === "dir" && e.kind !== "dir") goneDirs.add(p)
    if (k === "file" && e.kind !== "file") goneFiles.add(p)
  }
  for (const p of d.runtime.gone) if (previous.runtime.entries.get(p)?.kind === "dir") goneSnapshotDirs.add(p)
  for (const [p, e] of d.runtime.set) {
    if (e.path !== p) return `${p}: runtime snapshot entry under another path`
    const unsafe = unsafePathReason(p)
    if (unsafe !== undefined) return `${p}: ${unsafe}`
    const parent = parentOf(p)
    if (parent !== "" && S.get(parent)?.kind !== "dir") return `${p}: runtime snapshot parent is not a directory`
    if (e.digest === SAME_AS_ANCESTOR && A.get(p)?.kind !== "file") {
      return `${p}: runtime snapshot claims ancestor content but the ancestor has no file there`
    }
    if (previous.runtime.entries.get(p)?.kind === "dir" && e.kind !== "dir") goneSnapshotDirs.add(p)
  }
  for (const [p, c] of d.host.set) {
    if (c.digest === SAME_AS_ANCESTOR && A.get(p)?.kind !== "file") {
      return `${p}: host cache claims ancestor content but the ancestor has no file there`
    }
  }
  // rows that did not change but lean on one that did
  for (const p of goneFiles) {
    if (next.host.get(p)?.digest === SAME_AS_ANCESTOR) return `${p}: host cache claims ancestor content that is gone`
    if (S.get(p)?.digest === SAME_AS_ANCESTOR) return `${p}: runtime snapshot claims ancestor content that is gone`
  }
  if (goneDirs.size > 0) { for (const p of A.keys()) if (goneDirs.has(parentOf(p))) return `${p}: parent is gone` }
  if (goneSnapshotDirs.size > 0) {
    for (const p of S.keys()) if (goneSnapshotDirs.has(parentOf(p))) return `${p}: runtime snapshot parent is gone`
  }
  return undefined
}

/**
 * Saves `next`: appends its differences from `previous` (the ancestor on disk) to the journal, or writes a new
 * base. Returns what is now on disk.
 *
 * @since 0.1.0
 * @category persistence
 */
export const save = Effect.fn("AncestorStore.save")(function*(
  stateDir: string,
  next: Ancestor,
  previous: Persisted | undefined
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  yield* fs.makeDirectory(stateDir, { recursive: true })
  const journal = path.join(stateDir, JOURNAL_NAME)
  const generation = previous?.generation
  if (previous !== undefined && generation !== undefined) {
    const size = yield* fs.stat(journal).pipe(Effect.map((st) => Number(st.size)), Effect.orElseSucceed(() => 0))
    if (size < JOURNAL_LIMIT) {
      const before = previous.ancestor
      const wasRacy = before.runtime.racy
      const isRacy = next.runtime.racy
      const d = {
        entries: changes(before.entries, next.entries, sameEntry),
        host: changes(before.host, next.host, sameCache),
        runtime: changes(
          before.runtime.entries,
          next.runtime.entries,
          (p, a, b) =>
            a.kind === b.kind && a.size === b.size && a.mtime_ns === b.mtime_ns && a.ino === b.ino &&
            a.mode === b.mode && a.digest === b.digest && a.link_target === b.link_target &&
            wasRacy.has(p) === isRacy.has(p)
        )
      }
      // racy flags can change alone
      for (const p of isRacy) {
        if (!wasRacy.has(p) && before.runtime.entries.get(p) === next.runtime.entries.get(p)) {
          d.runtime.set.push([p, next.runtime.entries.get(p)!])
        }
      }
      for (const p of wasRacy) {
        const e = next.runtime.entries.get(p)
        if (!isRacy.has(p) && e !== undefined && before.runtime.entries.get(p) === e) d.runtime.set.push([p, e])
      }
      const broken = validateChanges(before, next, d)
      if (broken !== undefined) {
        return yield* Effect.dieMessage(`refusing to save an invalid sync ancestor: ${broken}`)
      }
      const filterChanged = before.runtime.filter_key !== next.runtime.filter_key
      const empty = d.entries.set.length + d.entries.gone.length + d.host.set.length + d.host.gone.length +
          d.runtime.set.length + d.runtime.gone.length === 0
      if (!empty || filterChanged) {
        const line: typeof Line.Encoded = {
          generation,
          entries: d.entries.set.map(([p, e]) => row.entry(p, e)),
          entries_gone: d.entries.gone,
          host: d.host.set.map(([p, c]) => row.cache(p, c)),
          host_gone: d.host.gone,
          runtime: d.runtime.set.map(([p, e]) => row.snapshot(e, isRacy.has(p))),
          runtime_gone: d.runtime.gone,
          runtime_filter: next.runtime.filter_key
        }
        yield* Effect.scoped(Effect.gen(function*() {
          const file = yield* fs.open(journal, { flag: "a" })
          yield* file.writeAll(new TextEncoder().encode(`${JSON.stringify(line)}\n`))
          yield* file.sync
        }))
      }
      return { ancestor: next, generation } satisfies Persisted
    }
  }
  const broken = validate(next)
  if (broken !== undefined) return yield* Effect.dieMessage(`refusing to save an invalid sync ancestor: ${broken}`)
  const fresh = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`
  const target = path.join(stateDir, FILE_NAME)
  const temp = `${target}.tmp-${fresh}`
  // written piece by piece through one buffer: neither the text of a large ancestor nor its bytes are ever whole
  // in memory (a new buffer per piece would leave them all to the next collection)
  const encoder = new TextEncoder()
  let buffer = new Uint8Array(0)
  yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(temp, { flag: "w" })
    for (const piece of encodeText(next, fresh)) {
      if (buffer.length < piece.length * 3) buffer = new Uint8Array(piece.length * 3)
      const { written } = encoder.encodeInto(piece, buffer)
      yield* file.writeAll(buffer.subarray(0, written))
    }
    yield* file.sync
  }))
  yield* fs.rename(temp, target).pipe(Effect.tapError(() => fs.remove(temp).pipe(Effect.ignore)))
  // lines of the old generation would be ignored anyway; removing them keeps the next load short
  yield* fs.remove(journal, { force: true }).pipe(Effect.ignore)
  return { ancestor: next, generation: fresh } satisfies Persisted
})
