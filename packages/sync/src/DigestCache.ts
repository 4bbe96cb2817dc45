/**
 * The per-side digest cache: a file's digest is reused iff its kind, size, `mtime_ns` and inode are all
 * unchanged since it was recorded, and the record was not "racy".
 *
 * Racy clean (git's `racy-git.txt`): a file modified in the same timestamp tick as the scan that recorded it
 * can be modified again without its stat changing. Such a record is marked racy and the file is re-hashed by
 * the next scan. The window is generous (2 s) so that coarse filesystems (FAT, HFS+, SMB) are covered too; the
 * only cost is re-hashing files modified in the two seconds before a scan.
 *
 * @since 0.1.0
 */
import { type Entry, SAME_AS_ANCESTOR } from "./Manifest.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface CacheEntry {
  readonly size: number
  readonly mtime_ns: string
  readonly ino: number
  /** Hex sha256, or {@link SAME_AS_ANCESTOR}: "this stat holds the ancestor's content". */
  readonly digest: string
  readonly racy: boolean
}

/**
 * Path → cache record, for regular files only.
 *
 * @since 0.1.0
 * @category models
 */
export type DigestCache = Map<string, CacheEntry>

/**
 * @since 0.1.0
 * @category constants
 */
export const RACY_WINDOW_NS = 2_000_000_000n

/**
 * Whether a file with this mtime, seen by a scan that started at `scan_ns`, may change again unseen.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRacy = (mtime_ns: string, scan_ns: bigint): boolean => {
  // called for every file of a scan: compare decimal strings (no leading zeros) instead of parsing each one
  if (scan_ns !== lastScan) {
    lastScan = scan_ns
    threshold = scan_ns - RACY_WINDOW_NS
    thresholdText = threshold < 0n ? "" : threshold.toString()
  }
  if (thresholdText === "" || mtime_ns.startsWith("-") || (mtime_ns.length > 1 && mtime_ns.startsWith("0"))) {
    return BigInt(mtime_ns) >= threshold
  }
  return mtime_ns.length !== thresholdText.length
    ? mtime_ns.length > thresholdText.length
    : mtime_ns >= thresholdText
}

let lastScan = -1n
let threshold = 0n
let thresholdText = ""

/**
 * The cached digest for a scanned file, or `undefined` when it must be hashed.
 *
 * @since 0.1.0
 * @category lookups
 */
export const lookup = (cache: DigestCache | undefined, entry: Entry): string | undefined => {
  if (cache === undefined || entry.kind !== "file") return undefined
  const hit = cache.get(entry.path)
  if (
    hit === undefined || hit.racy || hit.size !== entry.size || hit.mtime_ns !== entry.mtime_ns ||
    (hit.ino !== 0 && entry.ino !== 0 && hit.ino !== entry.ino)
  ) return undefined
  return hit.digest
}

/**
 * The record for a file whose digest (or ancestor equality) is known.
 *
 * @since 0.1.0
 * @category constructors
 */
export const record = (entry: Entry, digest: string, scan_ns: bigint): CacheEntry => ({
  size: entry.size,
  mtime_ns: entry.mtime_ns,
  ino: entry.ino,
  digest,
  racy: isRacy(entry.mtime_ns, scan_ns)
})

/**
 * Whether a record says "equal to the ancestor" rather than naming a digest.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSameAsAncestor = (entry: CacheEntry): boolean => entry.digest === SAME_AS_ANCESTOR
