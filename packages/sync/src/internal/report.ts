/**
 * What a cycle reports beyond counts: the runtime content it did not bring home (`SyncResult.left_behind`),
 * each with a kind a caller can print one line per.
 *
 * @internal
 */
import type { Conflict, LeftBehind } from "@org/sandbox-core/WorkspaceSync"

type Kind = LeftBehind["kind"]

/** The kind of a refusal or problem reason (the reasons are the engine's own sentences). */
export const kindOf = (reason: string): Kind => {
  if (reason.startsWith("special file")) return "special"
  if (reason.startsWith("name reserved")) return "reserved"
  if (reason.startsWith("unreadable") || reason.startsWith("cannot read")) return "unreadable"
  if (reason.includes("symlink") || reason.includes("reached it through")) return "symlink"
  if (/name|path|'\.\.'|NUL/.test(reason) && !reason.includes("parent directory")) return "name"
  if (reason.includes("changed") || reason.includes("missing or of another kind")) return "changed"
  if (reason.includes("filesystem boundary")) return "special"
  return "failed"
}

/**
 * Runtime content not brought home: the runtime's problems (refused names and links, unreadable and special
 * files, reserved names), the refusals and failed writes of the runtime → host apply, and conflicts whose
 * runtime side had content but could not be kept beside.
 */
export const leftBehind = (input: {
  readonly problems: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly errors: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly conflicts: ReadonlyArray<Conflict>
}): Array<LeftBehind> => {
  const out: Array<LeftBehind> = []
  const seen = new Set<string>()
  const add = (path: string, kind: Kind, reason: string) => {
    const key = `${path}\0${reason}`
    if (seen.has(key)) return
    seen.add(key)
    out.push({ path, kind, reason })
  }
  for (const p of input.problems) add(p.path, kindOf(p.reason), p.reason)
  for (const p of input.refused) add(p.path, kindOf(p.reason), p.reason)
  for (const p of input.errors) add(p.path, "failed", p.reason)
  for (const c of input.conflicts) {
    if (c.runtime_copy === null && !c.runtime_change.startsWith("deleted")) {
      add(
        c.path,
        "conflict",
        `conflict (${c.host_change} on the host); the runtime's version could not be kept beside it`
      )
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
