/**
 * Conflicts: both sides changed a path since the ancestor. The host's version stays in place; the runtime's
 * version (a file, a symlink, or a whole directory tree) is stored beside it as `<name>.sandbox-conflict-<session_id>`
 * and the conflict is reported in `SyncResult.conflicts` (with `runtime_copy` relative to the workspace root).
 * A copy is never written over: when that name is taken by a copy that differs (an earlier version, or one the
 * user edited), the next free `<name>.sandbox-conflict-<session_id>-<n>` is used; a copy that already holds this
 * very version is reused.
 *
 * Held changes: a change from the runtime to a protected path ({@link isProtected}: `.sandbox-cli.toml` at any
 * depth, and the paths the caller names, such as the hook scripts of the workspace's config) is never applied to
 * the host, which could make it host-side config or code that runs there. The host keeps its version; the
 * runtime's is kept beside it as `<name>.sandbox-held-<session_id>` (same rules as a conflict copy) and reported
 * in `SyncResult.held`. To take it: a sync with `accept_held: true` (which applies such changes like any other),
 * or move the held copy over the host's file by hand.
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

/**
 * The host path (relative) where the runtime's version of a protected path is held.
 *
 * @since 0.1.0
 * @category naming
 */
export const heldPath = (path: string, sessionId: string): string => `${path}.sandbox-held-${sessionId}`

/**
 * The name of the workspace config: held back wherever it is in the tree.
 *
 * @since 0.1.0
 * @category constants
 */
export const CONFIG_NAME = ".sandbox-cli.toml"

/**
 * Whether runtime changes to `path` are held back: `.sandbox-cli.toml` at any depth, and every path at or below
 * one of `protectedPaths` (workspace-relative).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isProtected = (protectedPaths: ReadonlyArray<string> = []) => {
  const roots = protectedPaths.map((p) => p.replace(/^\.\/+/, "").replace(/\/+$/, "")).filter((p) => p !== "")
  return (path: string): boolean =>
    path.slice(path.lastIndexOf("/") + 1) === CONFIG_NAME ||
    roots.some((r) => path === r || (path.startsWith(r) && path.charCodeAt(r.length) === 47))
}

/**
 * The workspace-relative paths a config's hook commands name (every word of every command, at any depth of
 * `hooks`, that is a path inside `hostRoot`, relative to it or absolute): what a caller passes as
 * `SyncRequest.protected_paths`, so that a runtime edit to a hook script is held back. A word that names nothing
 * is harmless: holding a path that never changes does nothing.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hookFiles = (hostRoot: string, hooks: unknown): Array<string> => {
  const root = hostRoot.replace(/\/+$/, "")
  const out = new Set<string>()
  const visit = (value: unknown): void => {
    if (typeof value === "string") {
      for (const word of value.split(/\s+/)) {
        const w = word.replace(/^['"]|['"]$/g, "")
        if (w === "" || w.startsWith("-")) continue
        const rel = w.startsWith("/")
          ? (w.startsWith(`${root}/`) ? w.slice(root.length + 1) : undefined)
          : w.replace(/^(\.\/)+/, "")
        if (rel === undefined || rel === "" || rel.split("/").some((part) => part === ".." || part === "")) continue
        out.add(rel)
      }
    } else if (Array.isArray(value)) value.forEach(visit)
    else if (typeof value === "object" && value !== null) Object.values(value).forEach(visit)
  }
  visit(hooks)
  return [...out].sort()
}
