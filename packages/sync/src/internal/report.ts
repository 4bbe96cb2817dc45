/**
 * What a cycle reports beyond counts: the runtime content it did not bring home (`SyncResult.left_behind`),
 * each with a kind a caller can print one line per.
 *
 * @internal
 */
import type { Conflict, LeftBehind } from "@org/sandbox-core/WorkspaceSync"
import type { Entry } from "../Manifest.js"
import { parentOf } from "../Manifest.js"
import { subtree } from "../SyncPlan.js"

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

/**
 * Verification of a host → runtime transfer: the planned entries (the host's, under the transfer roots) that did
 * not land as sent, leaving out those the apply reported (a runtime path that changed meanwhile, retried at the
 * next sync; a host file the sync cannot read). Returns the count planned and the paths missing.
 */
export const notLanded = (input: {
  readonly roots: ReadonlyArray<string>
  readonly host: ReadonlyMap<string, Entry>
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
  readonly final: ReadonlyMap<string, Entry>
  readonly failed: ReadonlySet<string>
  readonly raced: ReadonlySet<string>
  readonly skipped: ReadonlySet<string>
}): { readonly planned: number; readonly missing: Array<string> } => {
  let planned = 0
  const missing: Array<string> = []
  const failedWithin = (root: string, q: string): boolean => {
    for (let p = q;; p = parentOf(p)) {
      if (input.failed.has(p)) return true
      if (p === root || p === "") return false
    }
  }
  for (const root of input.roots) {
    for (const q of subtree(root, input.host, input.children)) {
      planned++
      if (input.skipped.has(q) || (input.failed.size > 0 && failedWithin(root, q))) continue
      const t = input.host.get(q)!
      const fin = input.final.get(q)
      if (
        fin === undefined || fin.kind !== t.kind || (t.kind === "file" && !input.raced.has(q) && fin.size !== t.size)
      ) {
        missing.push(q)
      }
    }
  }
  return { planned, missing }
}
