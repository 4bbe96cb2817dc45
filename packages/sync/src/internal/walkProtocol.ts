/**
 * Messages between `walkInWorker.ts` and `scanWorker.ts` (walks, and copies of a half of a transfer), and the
 * record encoding of an entry.
 *
 * @internal
 */
import type { Spec } from "../Filter.js"
import { Entry, type Kind, type Problem } from "../Manifest.js"
import type { CopyJob, CopyResult } from "./copyFile.js"

/** Walk `root` under the rules `spec`; `base` names the walk the caller holds. */
export interface WalkRequest {
  readonly _tag: "walk"
  readonly id: number
  readonly root: string
  readonly spec: Spec
  readonly base: string | undefined
  /** Walk only this half of the tree (see `hostFs.Walker`). */
  readonly part: 0 | 1 | undefined
  /** Also hash every regular file walked (the reply's `digests`). */
  readonly hash?: boolean
}

/** Copy these files (see `copyFile.copyJob`). */
export interface CopyRequest {
  readonly _tag: "copy"
  readonly id: number
  readonly jobs: ReadonlyArray<CopyJob>
}

export type Request = WalkRequest | CopyRequest

/** Entries as `path\nrecord`; everything when `full`, else only what changed since `base`, plus paths gone. */
export type Reply =
  | {
    readonly id: number
    readonly token: string
    readonly full: boolean
    readonly set: ReadonlyArray<string>
    readonly gone: ReadonlyArray<string>
    readonly problems: ReadonlyArray<Problem>
    /** With `hash`: `digest + path` of every regular file walked that could still be read as one. */
    readonly digests?: ReadonlyArray<string>
  }
  | { readonly id: number; readonly results: ReadonlyArray<CopyResult> }
  | { readonly id: number; readonly error: string; readonly stopped?: true }

const letters: Record<Kind, string> = { file: "f", dir: "d", symlink: "l" }
const kinds: Record<string, Kind> = { f: "file", d: "dir", l: "symlink" }

/** An entry's stat as one string (no newline: the walker refuses names and link targets with one). */
export const encodeEntry = (e: Entry): string =>
  `${letters[e.kind]} ${e.size} ${e.mtime_ns} ${e.mode} ${e.ino} ${e.link_target ?? ""}`

export const decodeEntry = (path: string, record: string): Entry => {
  const f = record.split(" ", 5)
  const target = record.slice(f.join(" ").length + 1)
  const kind = kinds[f[0]!]!
  return new Entry(
    path,
    kind,
    Number(f[1]),
    f[2]!,
    Number(f[3]),
    Number(f[4]),
    undefined,
    kind === "symlink" ? target : undefined
  )
}
