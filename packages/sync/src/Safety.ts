/**
 * Safety halts. A sync stops before touching anything, with `SyncError` reason `MassDeletion`, when:
 * - the runtime was wiped: its manifest is empty (or its root is gone) while the ancestor is not. A reset or
 *   recreated runtime looks like "everything deleted" (mutagen-io/mutagen#275). `force` never propagates those
 *   deletions: it lets the sync pass as if the runtime were new (the host keeps every file), so that a session
 *   whose runtime was wiped can end;
 * - a sync would delete more than half of a host tree of at least 10 tracked files, unless `force`
 *   (Unison's `confirmbigdel`, Mutagen's emptied-root check).
 *
 * @since 0.1.0
 */
import { SyncError } from "@org/sandbox-core/SandboxError"

/**
 * @since 0.1.0
 * @category constants
 */
export const MASS_DELETION_MIN_FILES = 10

/**
 * @since 0.1.0
 * @category checks
 */
export const checkWiped = (options: {
  readonly ancestorEntries: number
  readonly runtimeEntries: number
  readonly rootMissing: boolean
}): SyncError | undefined => {
  if (options.ancestorEntries === 0 || options.runtimeEntries > 0) return undefined
  return new SyncError({
    direction: "from_runtime",
    reason: "MassDeletion",
    detail: `the runtime ${options.rootMissing ? "root is gone" : "is empty"} but ${options.ancestorEntries} path(s) ` +
      "were synced before: it looks reset or recreated, so no deletion is propagated to the host; re-seed it, or " +
      "finish with --force (the host keeps every file)"
  })
}

/**
 * @since 0.1.0
 * @category checks
 */
export const checkMassDeletion = (options: {
  readonly deletions: number
  readonly tracked: number
  readonly force: boolean
}): SyncError | undefined => {
  if (options.force || options.tracked < MASS_DELETION_MIN_FILES || options.deletions * 2 <= options.tracked) {
    return undefined
  }
  return new SyncError({
    direction: "from_runtime",
    reason: "MassDeletion",
    detail: `the sync would delete ${options.deletions} of ${options.tracked} files on the host; ` +
      "nothing was changed; run again with --force if this is intended"
  })
}
