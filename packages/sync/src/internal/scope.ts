/**
 * The scope of a live batch: which paths a scoped two-way cycle reads again, and the scoped scans of both sides.
 */
import { Effect } from "effect"
import type * as Ancestor from "../Ancestor.js"
import * as Filter from "../Filter.js"
import * as HostScan from "../HostScan.js"
import { parentOf } from "../Manifest.js"
import type * as RuntimeSide from "../RuntimeSide.js"

/** The host's last full scan under a state dir, and the paths the engine wrote there since. */
export interface LastHost {
  readonly key: string
  readonly manifest: HostScan.HostManifest
  readonly written: Array<string>
}

// more paths than this: a full scan costs about the same
const SCOPE_LIMIT = 5000

// the paths of a scope that a scan may look at: none of the engine's own names, nothing in an excluded directory
export const inScope = (paths: ReadonlyArray<string>, filter: Filter.Filter): Array<string> => {
  const out = new Set<string>()
  for (const raw of paths) {
    const p = raw.replace(/^\/+|\/+$/g, "")
    if (p === "" || p.split("/").some((n) => n === "" || n === "." || n === ".." || Filter.isInternalName(n))) continue
    let excluded = false
    for (let q = p; q !== ""; q = parentOf(q)) {
      if (filter.excluded(q, true)) {
        excluded = true
        break
      }
    }
    if (!excluded) out.add(p)
  }
  return [...out]
}

// a live batch: both sides read again only where something changed (and where the last cycle wrote on the
// host), everything else taken from the last cycle; `undefined` when there is no earlier scan to build on
export const scanBoth = (o: {
  readonly lastHost: Map<string, LastHost>
  readonly paths: ReadonlyArray<string>
  readonly side: RuntimeSide.RuntimeSide
  readonly hostRoot: string
  readonly hostKey: string
  readonly stateDir: string
  readonly filter: Filter.Filter
  readonly runtimeFilter: Filter.Filter
  readonly ancestor: Ancestor.Ancestor
}) =>
  Effect.gen(function*() {
    const last = o.lastHost.get(o.stateDir)
    if (last === undefined || last.key !== o.hostKey || o.paths.length > SCOPE_LIMIT) return undefined
    const scoped = yield* o.side.scanScope({
      filter: o.runtimeFilter,
      snapshot: o.ancestor.runtime,
      paths: o.paths
    })
    if (scoped === undefined) return undefined
    const host = HostScan.scanScoped({
      root: o.hostRoot,
      filter: o.filter,
      cache: o.ancestor.host,
      previous: last.manifest,
      // the engine's own copies (conflict, held) among what it wrote are excluded names: never scanned
      paths: [...o.paths, ...inScope(last.written, o.filter)]
    })
    if (host?.scope === undefined) {
      // the earlier scan may have been updated in part: it is no base for a later scoped scan
      o.lastHost.delete(o.stateDir)
      return undefined
    }
    const candidates = [...o.paths, ...host.scope.fresh, ...host.scope.dropped, ...scoped.touched]
    return { host, runtime: scoped.manifest, candidates }
  })
