/**
 * Conflicts: both sides changed a path since the ancestor. The host's version stays in place; the runtime's
 * version (when it is a file or a symlink) is stored beside it as `<name>.sandbox-conflict-<session_id>` and
 * the conflict is reported in `SyncResult.conflicts` (with `runtime_copy` relative to the workspace root).
 * Conflict copies are never synchronized (see `Filter.isInternalName`). The ancestor keeps its old state for the
 * path, so the conflict is reported again until it is resolved: make both sides equal (for instance copy the
 * conflict copy over the host file to take the runtime's version) or delete one side (the other then wins,
 * since a modification beats a deletion).
 *
 * @since 0.1.0
 */

/**
 * The host path (relative) where the runtime's version of a conflicting path is kept.
 *
 * @since 0.1.0
 * @category naming
 */
export const copyPath = (path: string, sessionId: string): string => `${path}.sandbox-conflict-${sessionId}`
