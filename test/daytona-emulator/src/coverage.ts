/**
 * How many of the OpenAPI documents' operations the emulator serves: a served route covers the operation whose
 * path template (parameter names aside) and method it has.
 */

/** Methods that are operations in an OpenAPI path item. */
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const

const normalize = (template: string): string => template.replace(/\{[^}]+\}/g, "{}")

/** One plane's counts. */
export interface PlaneCoverage {
  readonly served: number
  readonly total: number
}

/** Coverage per plane and in total; `missing` lists the operations not served (`api GET /path`). */
export interface Coverage {
  readonly api: PlaneCoverage
  readonly toolbox: PlaneCoverage
  readonly served: number
  readonly total: number
  readonly missing: ReadonlyArray<string>
}

const operations = (doc: unknown): ReadonlyArray<string> => {
  const paths = (doc as { paths?: Record<string, Record<string, unknown>> }).paths ?? {}
  return Object.entries(paths).flatMap(([path, item]) =>
    METHODS.filter((m) => typeof item[m] === "object" && item[m] !== null).map((m) =>
      `${m.toUpperCase()} ${normalize(path)}`
    )
  )
}

/** Where a served route template lands in the documents: `/api/x` → api `/x`, `/toolbox/{id}/x` → toolbox `/x`. */
const planeOf = (template: string): { readonly plane: "api" | "toolbox"; readonly path: string } | undefined => {
  if (template.startsWith("/api/")) return { plane: "api", path: template.slice("/api".length) }
  const m = /^\/toolbox\/\{[^}]+\}(\/.*)$/.exec(template)
  return m ? { plane: "toolbox", path: m[1]! } : undefined
}

/**
 * @since 0.0.0
 * @category coverage
 */
export const operationCoverage = (
  docs: { readonly api: unknown; readonly toolbox: unknown },
  routes: ReadonlyArray<{ readonly method: string; readonly template: string }>
): Coverage => {
  const served = { api: new Set<string>(), toolbox: new Set<string>() }
  for (const r of routes) {
    const at = planeOf(r.template)
    if (at) served[at.plane].add(`${r.method.toUpperCase()} ${normalize(at.path)}`)
  }
  const plane = (name: "api" | "toolbox") => {
    const ops = operations(docs[name])
    const covered = ops.filter((op) => served[name].has(op))
    return { served: covered.length, total: ops.length, missing: ops.filter((op) => !served[name].has(op)) }
  }
  const api = plane("api")
  const toolbox = plane("toolbox")
  return {
    api: { served: api.served, total: api.total },
    toolbox: { served: toolbox.served, total: toolbox.total },
    served: api.served + toolbox.served,
    total: api.total + toolbox.total,
    missing: [...api.missing.map((m) => `api ${m}`), ...toolbox.missing.map((m) => `toolbox ${m}`)]
  }
}
