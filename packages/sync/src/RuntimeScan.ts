/**
 * The runtime scanner: ONE `provider.exec` running a POSIX shell script that reports what changed in the
 * runtime since the engine's last snapshot of it: a manifest diff, not a full listing, so a no-op scan returns
 * a few bytes whatever the tree size.
 *
 * The script needs `sh`, GNU `find` (`-printf`, `-fprintf`, `-lname`), `awk`, `xargs -0 -P`, `sha256sum` and
 * `date +%s%N` (Debian/Ubuntu-like images; busybox `find` has no `-printf`). It:
 * 1. reads on stdin the keys (`type size mtime inode mode path`, one a line; a directory's is `d 0 0 0 mode
 *    path`, since its size and mtime move with its contents) of the snapshot's trusted entries. Racy or unhashed
 *    files are left out, so the walk reports them afresh and they are re-hashed; they are not carried over from
 *    the snapshot either, so one the walk does not report is a deletion ({@link trusted});
 * 2. walks the root with `find -printf`, pruning simple excluded names; names or symlink targets containing a
 *    newline are listed apart (NUL-separated) as problems, which keeps the rest line-oriented. Each entry is two
 *    lines: its key, then a symlink's target, or a file's link count and 512-byte blocks (what a copy of it
 *    loses: a hard link split, a sparse file written out in full);
 * 3. joins the walk with the known keys in `awk`: new or changed entries are printed with their symlink target,
 *    known keys not seen are printed as gone, and the changed regular files are hashed with `sha256sum`
 *    (two processes in parallel, each into its own file so that their output never interleaves).
 *
 * @since 0.1.0
 */
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import * as DigestCache from "./DigestCache.js"
import { type Filter, filterPreorder, INTERNAL_PREFIX, isReservedName, RESERVED_REASON } from "./Filter.js"
import { lossOf } from "./internal/hostFs.js"
import { findStamp, parseFindStamp, pruneExpression, quote } from "./internal/shell.js"
import { Entry, type Kind, type Manifest, type Problem, unsafeLinkReason, unsafePathReason } from "./Manifest.js"

/**
 * What the engine last knew about the runtime: every tracked entry with its stat and, for files, its digest
 * (hex sha256, or "same as ancestor"). The next scan only reports differences from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly entries: ReadonlyMap<string, Entry>
  /** Files recorded within the racy window of their scan: always re-hashed. */
  readonly racy: ReadonlySet<string>
  /** The filter the snapshot was taken under (`Filter.key`). */
  readonly filter_key: string
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const emptySnapshot: Snapshot = { entries: new Map(), racy: new Set(), filter_key: "" }

/**
 * @since 0.1.0
 * @category models
 */
export interface RuntimeManifest extends Manifest {
  /** The root directory does not exist in the runtime. */
  readonly root_missing: boolean
  /** How many entries the scan reported as new, changed or gone (0: the runtime equals the snapshot). */
  readonly changes: number
  /** How many files the script hashed. */
  readonly hashed: number
  /** `find`'s own mtime text for entries where it is not the canonical form of `mtime_ns` (usually empty). */
  readonly raw_stamps: ReadonlyMap<string, string>
  /** Files of this manifest that are racy. */
  readonly racy: ReadonlySet<string>
  /** Files reported by this scan that a copy does not keep as they are (`hostFs.lossOf`), with the reason. */
  readonly losses?: ReadonlyMap<string, string>
}

/**
 * The paths a scoped scan reads (see `ScopedRuntimeScan`): its stdin starts with `above` lines naming the
 * directories above the scope (each read for itself only) and `roots` lines naming the scope's roots (each read
 * with its subtree), every name relative to the root and starting with `./`; the known keys follow.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScriptScope {
  readonly above: number
  readonly roots: number
}

/**
 * The scan script for a runtime root: the whole tree, or (`scope`) only the paths named on its stdin.
 *
 * @since 0.1.0
 * @category scripts
 */
export const script = (root: string, filter: Filter, scope?: ScriptScope): string => {
  const prune = pruneExpression(filter.pruneNames, [`${INTERNAL_PREFIX}*`])
  // a scoped walk names its starting points (`./x`): `%p` is then relative to the root with a `./` in front,
  // which the join drops from each key (a key's first ` ./` is where its path starts: the fields before are
  // numbers) and `sed` from each refused name
  const at = scope === undefined ? "%P" : "%p"
  const show = (bad: string) =>
    `\\( -name "*$NL*" -o -lname "*$NL*" \\) -fprintf ${bad} '${at}\\0' -prune -o -type d -printf 'd 0 0 0 %m ${at}\\n\\n' -o -type f -printf 'f %s %T@ %i %m ${at}\\n%n %b\\n' -o -printf '%y %s %T@ %i %m ${at}\\n%l\\n'`
  const walk = scope === undefined
    ? [`find . -mindepth 1 ${prune} ${show(`"$T/b"`)} 2>"$T/e" |`]
    : [
      `awk -v a=${scope.above} -v r=${scope.roots} -v d="$T" 'NR <= a { print > (d "/a"); next } NR <= a + r { print > (d "/r"); next } { print > (d "/k") }' "$T/in"`,
      `export T NL`,
      // xargs may split a long list into several `find`s: each keeps its refused names in its own file
      `{ [ -s "$T/a" ] && tr '\\n' '\\0' < "$T/a" | xargs -0 sh -c ${
        quote(`exec find "$@" -maxdepth 0 ${show(`"$T/b.$$"`)}`)
      } sh`,
      `  [ -s "$T/r" ] && tr '\\n' '\\0' < "$T/r" | xargs -0 sh -c ${
        quote(`exec find "$@" ${prune} ${show(`"$T/b.$$"`)}`)
      } sh; } 2>"$T/e" |`
    ]
  return [
    `cd -- ${quote(root)} 2>/dev/null || { cat > /dev/null; printf '@NOROOT\\0'; exit 0; }`,
    `T=$(mktemp -d "\${TMPDIR:-/tmp}/${INTERNAL_PREFIX}scan.XXXXXX") || { cat > /dev/null; printf '@FATAL\\0mktemp failed\\0'; exit 0; }`,
    `trap 'rm -rf -- "$T"' EXIT`,
    scope === undefined ? `cat > "$T/k"` : `cat > "$T/in"`,
    `NL='`,
    `'`,
    `printf '@SCAN\\0%s\\0@DIFF\\0' "$(date +%s%N)"`,
    ...walk,
    `awk -v kf="$T/k" -v hf="$T/h" '`,
    `  BEGIN { while ((getline l < kf) > 0) k[l] = 1 }`,
    `  NR % 2 == 1 { key = $0;${scope === undefined ? "" : " sub(/ \\.\\//, \" \", key);"} next }`,
    `  { if (key in k) { delete k[key]; next }`,
    `    print "+ " key; print $0`,
    `    if (substr(key, 1, 2) == "f ") { p = key; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* /, "", p); printf "%s%c", p, 0 > hf } }`,
    `  END { for (key in k) print "- " key }'`,
    // the tails below only start a process when they have something to print (a no-op scan: `find` and `awk`)
    `printf '\\0@BAD\\0'`,
    scope === undefined ? `[ -s "$T/b" ] && cat "$T/b"` : `cat "$T"/b.* 2>/dev/null | sed -z 's|^\\./||'`,
    `printf '@HASH\\0'`,
    `if [ -s "$T/h" ]; then`,
    `  xargs -0 -r -P 2 -n 512 sh -c 'exec sha256sum -- "$@" > "$0/s.$$"' "$T" < "$T/h" 2>>"$T/e"`,
    `  cat "$T"/s.* 2>/dev/null`,
    `fi`,
    `printf '\\0@ERR\\0'; [ -s "$T/e" ] && head -c 4096 "$T/e"; printf '\\0@END\\0'`
  ].join("\n")
}

/**
 * The key `find` prints for an entry (`%y %s %T@ %i %m %P`; `d 0 0 0 %m %P` for a directory).
 *
 * @since 0.1.0
 * @category scripts
 */
export const keyOf = (e: Entry): string =>
  e.kind === "dir"
    ? `d 0 0 0 ${e.mode.toString(8)} ${e.path}`
    : `${e.kind === "file" ? "f" : "l"} ${e.size} ${findStamp(e.mtime_ns)} ${e.ino} ${e.mode.toString(8)} ${e.path}`

/**
 * Whether the snapshot's record of an entry can be trusted without re-reading it: directories and symlinks
 * always (their whole state is in the key), files only with a digest and outside the racy window. Untrusted
 * entries are not sent as known keys, so the scan reports them in full whenever they exist, and they are NOT
 * carried over from the snapshot: an untrusted entry the scan does not report is gone.
 *
 * @since 0.1.0
 * @category scripts
 */
export const trusted = (snapshot: Snapshot, e: Entry): boolean =>
  e.kind !== "file" || (e.digest !== undefined && !snapshot.racy.has(e.path))

const keysMemo = new WeakMap<Snapshot, string>()
// an entry's fields are readonly and the snapshots of successive cycles share their unchanged entries, so a key
// is built once per entry, not once per cycle
const keyMemo = new WeakMap<Entry, string>()

/**
 * The stdin of the scan script: keys of the snapshot's entries (memoized per snapshot object, so a warm engine
 * with an unchanged snapshot builds it once, and each key per entry object).
 *
 * @since 0.1.0
 * @category scripts
 */
export const knownKeys = (snapshot: Snapshot): string => {
  const memo = keysMemo.get(snapshot)
  if (memo !== undefined) return memo
  const lines: Array<string> = []
  for (const e of snapshot.entries.values()) {
    if (!trusted(snapshot, e)) continue
    let key = keyMemo.get(e)
    if (key === undefined) {
      key = keyOf(e)
      keyMemo.set(e, key)
    }
    lines.push(key)
  }
  const out = lines.length === 0 ? "" : `${lines.join("\n")}\n`
  keysMemo.set(snapshot, out)
  return out
}

const unescapeHashName = (name: string): string =>
  name.replace(/\\(\\|n|r)/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"))

const kindOfLetter = (
  y: string
): Kind | undefined => (y === "f" ? "file" : y === "d" ? "dir" : y === "l" ? "symlink" : undefined)

const plain = /^[\x20-\x7e]*$/

interface Key {
  readonly kind: Kind | undefined
  readonly size: number
  readonly stamp: string
  readonly ino: number
  readonly mode: number
  readonly path: string
}

const parseKey = (line: string): Key | undefined => {
  let at = 0
  const fields: Array<string> = []
  for (let n = 0; n < 5; n++) {
    const sp = line.indexOf(" ", at)
    if (sp < 0) return undefined
    fields.push(line.slice(at, sp))
    at = sp + 1
  }
  return {
    kind: kindOfLetter(fields[0]!),
    size: Number(fields[1]),
    stamp: fields[2]!,
    ino: Number(fields[3]),
    mode: parseInt(fields[4]!, 8) & 0o7777,
    path: line.slice(at)
  }
}

// a directory's key is its kind, mode and path only: its size, mtime and inode change with its contents, which
// the scan reports entry by entry anyway
const dirStamp = { ns: "0", canonical: true } as const

const stampToNs = (t: string): { readonly ns: string; readonly canonical: boolean } => {
  const dot = t.indexOf(".")
  // canonical GNU form: seconds, '.', 9 digits of nanoseconds and a trailing 0
  if (dot > 0 && t.length - dot === 11 && t.endsWith("0") && t.charCodeAt(0) !== 48) {
    return { ns: `${t.slice(0, dot)}${t.slice(dot + 1, dot + 10)}`, canonical: true }
  }
  return { ns: parseFindStamp(t), canonical: false }
}

/**
 * Applies the script's output to the snapshot. Fails (returns a string) when the output is not a complete scan.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (stdout: string, filter: Filter, snapshot: Snapshot): RuntimeManifest | string => {
  if (stdout.startsWith("@NOROOT")) {
    return {
      entries: new Map(),
      problems: [],
      scan_ns: 0n,
      root_missing: true,
      changes: snapshot.entries.size,
      hashed: 0,
      raw_stamps: new Map(),
      racy: new Set()
    }
  }
  const f = stdout.split("\0")
  if (f[0] !== "@SCAN" || f[2] !== "@DIFF" || f[4] !== "@BAD") {
    return `unexpected scan output: ${JSON.stringify(stdout.slice(0, 200))}`
  }
  const hashAt = f.indexOf("@HASH", 5)
  if (hashAt < 0 || f[hashAt + 2] !== "@ERR" || f[hashAt + 4] !== "@END") {
    return "truncated scan output (no @END marker)"
  }
  // an unreadable clock makes every record racy: safe, only slower
  const scan_ns = /^\d+$/.test(f[1] ?? "") ? BigInt(f[1]!) : 0n
  const problems: Array<Problem> = []
  for (let i = 5; i < hashAt; i++) {
    if (f[i] !== "") problems.push({ path: f[i]!, reason: "newline in a name or link target" })
  }
  const hashes = new Map<string, string>()
  for (const line of (f[hashAt + 1] ?? "").split("\n")) {
    if (line.length < 67) continue
    const escaped = line.startsWith("\\")
    const body = escaped ? line.slice(1) : line
    const name = body.slice(66)
    hashes.set(escaped ? unescapeHashName(name) : name, body.slice(0, 64))
  }

  // the snapshot as seen through today's filter
  let base: ReadonlyMap<string, Entry> = snapshot.entries
  if (snapshot.filter_key !== filter.key && base.size > 0) {
    const paths = [...base.keys()].sort((a, b) => (a < b ? -1 : 1))
    const kept = filterPreorder(filter, paths, (p) => base.get(p)?.kind === "dir")
    base = new Map(paths.filter((p) => kept.has(p)).map((p) => [p, snapshot.entries.get(p)!]))
  }
  // Only trusted entries carry over: their keys went to the script, which reports them gone if they are.
  // Untrusted ones (racy or unhashed files) were not sent; the walk reports them afresh when they still exist,
  // and one it does not report was deleted.
  const entries = new Map<string, Entry>()
  const unsent = new Set<string>()
  for (const [p, e] of base) {
    if (trusted(snapshot, e)) entries.set(p, e)
    else unsent.add(p)
  }
  const racy = new Set<string>()
  const rawStamps = new Map<string, string>()
  const losses = new Map<string, string>()
  const lines = (f[3] ?? "").split("\n")
  let changes = 0
  let dirGone = false
  for (const line of lines) {
    if (!line.startsWith("- ")) continue
    changes++
    const key = parseKey(line.slice(2))
    if (key !== undefined) {
      if (key.kind === "dir") dirGone = true
      entries.delete(key.path)
      racy.delete(key.path)
    }
  }
  const phantoms = new Map<string, Entry>()
  const skipped = new Set<string>()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (!line.startsWith("+ ")) continue
    changes++
    const target = lines[++i] ?? ""
    const key = parseKey(line.slice(2))
    if (key === undefined) continue
    const { kind, path: p } = key
    unsent.delete(p)
    const slash = p.lastIndexOf("/")
    const parent = slash < 0 ? "" : p.slice(0, slash)
    const isDir = kind === "dir"
    if (parent !== "" && (skipped.has(parent) || (!entries.has(parent) && !phantoms.has(parent)))) {
      if (isDir) skipped.add(p)
      continue
    }
    if (filter.spec.reserved === "report" && !phantoms.has(parent) && isReservedName(p.slice(slash + 1))) {
      problems.push({ path: p, reason: RESERVED_REASON })
      if (isDir) skipped.add(p)
      continue
    }
    if (kind === undefined) {
      // a FIFO, socket or device: never synced, and said so
      const y = line.charAt(2)
      const what = y === "p" ? "FIFO" : y === "s" ? "socket" : "device"
      if (!filter.excluded(p, false)) problems.push({ path: p, reason: `special file (${what}) is not synced` })
      continue
    }
    const excluded = filter.excluded(p, isDir)
    if (excluded && !(isDir && filter.mayIncludeBelow(p))) {
      if (isDir) skipped.add(p)
      continue
    }
    const unsafe = plain.test(p) ? undefined : unsafePathReason(p)
    const linkUnsafe = unsafe === undefined && kind === "symlink" ? unsafeLinkReason(p, target) : undefined
    if (unsafe !== undefined || linkUnsafe !== undefined) {
      if (!excluded) problems.push({ path: p, reason: (unsafe ?? linkUnsafe)! })
      if (isDir) skipped.add(p)
      continue
    }
    const stamp = isDir ? dirStamp : stampToNs(key.stamp)
    const entry = new Entry(
      p,
      kind,
      isDir ? 0 : key.size,
      stamp.ns,
      key.mode,
      key.ino,
      undefined,
      kind === "symlink" ? target : undefined
    )
    if (excluded) {
      phantoms.set(p, entry)
      continue
    }
    if (kind === "file") {
      const digest = hashes.get(p)
      if (digest === undefined) {
        problems.push({ path: p, reason: "changed while being scanned" })
        continue
      }
      entry.digest = digest
      if (DigestCache.isRacy(entry.mtime_ns, scan_ns)) racy.add(p)
      else racy.delete(p)
      const sp = target.indexOf(" ")
      const loss = sp < 0 ? undefined : lossOf({
        size: entry.size,
        nlink: Number(target.slice(0, sp)),
        blocks: Number(target.slice(sp + 1))
      })
      if (loss !== undefined) losses.set(p, loss)
    }
    if (!stamp.canonical) rawStamps.set(p, key.stamp)
    for (
      let q = parent;
      q !== "" && phantoms.has(q) && !entries.has(q);
      q = q.slice(0, Math.max(0, q.lastIndexOf("/")))
    ) {
      entries.set(q, phantoms.get(q)!)
    }
    entries.set(p, entry)
  }
  // untrusted entries the walk did not report are deletions
  changes += unsent.size
  // defensive: no entry may outlive its parent directory
  if (dirGone) {
    for (const p of [...entries.keys()].sort((a, b) => (a < b ? -1 : 1))) {
      const slash = p.lastIndexOf("/")
      if (slash > 0 && !entries.has(p.slice(0, slash))) {
        entries.delete(p)
        racy.delete(p)
      }
    }
  }
  return {
    entries,
    problems,
    scan_ns,
    root_missing: false,
    changes,
    hashed: hashes.size,
    raw_stamps: rawStamps,
    racy,
    losses
  }
}

/**
 * Scans the runtime root of an instance in one exec.
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = Effect.fn("RuntimeScan.scan")(function*(options: {
  readonly provider: ProviderService
  readonly instance: Instance
  readonly root: string
  readonly filter: Filter
  readonly snapshot: Snapshot
}) {
  const result = yield* options.provider.exec(options.instance, {
    shell: script(options.root, options.filter),
    stdin: knownKeys(options.snapshot)
  })
  const parsed = parse(result.stdout, options.filter, options.snapshot)
  return typeof parsed === "string"
    ? { error: `${parsed}; exit ${result.exit_code}: ${result.stderr.slice(0, 500)}` } as const
    : { manifest: parsed } as const
})
