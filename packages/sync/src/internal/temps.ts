/**
 * The engine's temporary names outside its state directory (`.sandbox-sync-tmp-<nonce>-<n>` beside a target on
 * the host or in a runtime directory, staging under `state_dir`) are recorded before they are made: a marker file
 * `.sandbox-sync-pending-<nonce>` in `state_dir` names the process and the directories holding them. A cycle that
 * ends removes its marker; one that died (a `kill -9` mid-copy) leaves it, and the next cycle on that state
 * directory ({@link sweep}) removes exactly the temporary names the dead one made, then the marker. Nothing else
 * is ever removed: a marker of a process still alive is left alone, and only names with the marker's nonce go.
 *
 * @internal
 */
import * as fs from "node:fs"
import { INTERNAL_PREFIX } from "../Filter.js"

const MARKER = `${INTERNAL_PREFIX}pending-`

/** What a cycle may leave behind if it dies. */
export interface Pending {
  readonly nonce: string
  /** Directories where names `.sandbox-sync-tmp-<nonce>-*` may be created. */
  readonly dirs: ReadonlyArray<string>
  /** Paths (files or trees) to remove whole. */
  readonly remove?: ReadonlyArray<string>
}

/** A fresh nonce for one apply. */
export const nonce = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

/** The temporary name prefix of one apply. */
export const tempPrefix = (n: string): string => `${INTERNAL_PREFIX}tmp-${n}-`

/** Records an apply's temporary names before it makes any; returns the marker's path (`undefined`: no state dir). */
export const begin = (stateDir: string | undefined, pending: Pending): string | undefined => {
  if (stateDir === undefined) return undefined
  const marker = `${stateDir}/${MARKER}${pending.nonce}`
  try {
    fs.mkdirSync(stateDir, { recursive: true })
    fs.writeFileSync(marker, JSON.stringify({ pid: process.pid, ...pending }))
    return marker
  } catch {
    return undefined
  }
}

/** The apply ended (whatever its outcome): its temporary names are gone, so is its marker. */
export const end = (marker: string | undefined): void => {
  if (marker !== undefined) fs.rmSync(marker, { force: true })
}

const alive = (pid: number): boolean => {
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  // A killed process stays a zombie until its parent reaps it (a detached supervisor's parent is init, which
  // may take its time, or never do it in a container): it is dead all the same, as the supervisor check says.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}

/**
 * Removes what dead applies recorded under `stateDir` left behind; returns the temporary paths removed. A
 * marker of this process is stale too: one cycle at a time per state directory.
 */
export const sweep = (stateDir: string): Array<string> => {
  let names: Array<string>
  try {
    names = fs.readdirSync(stateDir)
  } catch {
    return []
  }
  const removed: Array<string> = []
  for (const name of names) {
    if (!name.startsWith(MARKER)) continue
    const marker = `${stateDir}/${name}`
    let pending: (Pending & { readonly pid: number }) | undefined
    try {
      pending = JSON.parse(fs.readFileSync(marker, "utf8"))
    } catch {
      pending = undefined
    }
    if (pending !== undefined && typeof pending.pid === "number" && alive(pending.pid)) continue
    if (pending !== undefined && typeof pending.nonce === "string" && Array.isArray(pending.dirs)) {
      const prefix = tempPrefix(pending.nonce)
      for (const dir of pending.dirs) {
        let inDir: Array<string>
        try {
          inDir = fs.readdirSync(dir)
        } catch {
          continue
        }
        for (const n of inDir) {
          if (!n.startsWith(prefix)) continue
          fs.rmSync(`${dir}/${n}`, { recursive: true, force: true })
          removed.push(`${dir}/${n}`)
        }
      }
      for (const p of pending.remove ?? []) {
        if (fs.existsSync(p)) removed.push(p)
        fs.rmSync(p, { recursive: true, force: true })
      }
    }
    fs.rmSync(marker, { force: true })
  }
  return removed
}
