/**
 * The rest of the control plane's sandbox operations the SDK sends: resize, recover, and the deprecated paginated
 * list (`PaginatedSandboxes_deprecated`) that older SDKs and the dashboard use.
 */
import type { App } from "../app.js"
import type { Handler, HttpMethod, JsonObject } from "../http.js"
import { boolParam, HttpError, intParam, isObject, optNumber, readJsonObject, sendJson } from "../http.js"
import type { SandboxRecord } from "../state.js"

const SB = "/api/sandbox/{sandboxIdOrName}"

const positiveInt = (body: JsonObject, key: string): number | undefined => {
  const v = optNumber(body, key)
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new HttpError(400, `${key} must not be less than 1`)
  return v
}

/**
 * Daytona resizes a stopped sandbox freely (disk only upwards) and a started one only by adding CPU or memory
 * (a hot resize); the emulator applies it at once, so the SDK's wait for the end of `resizing` ends at once too.
 */
const resize = (sb: SandboxRecord, body: JsonObject): void => {
  const cpu = positiveInt(body, "cpu")
  const memory = positiveInt(body, "memory")
  const disk = positiveInt(body, "disk")
  if (cpu === undefined && memory === undefined && disk === undefined) {
    throw new HttpError(400, "At least one of cpu, memory or disk must be specified")
  }
  if (sb.deletePending) throw new HttpError(409, "Sandbox state change in progress")
  if (sb.state !== "started" && sb.state !== "stopped") {
    throw new HttpError(400, `Sandbox must be started or stopped to resize (state: ${sb.state})`)
  }
  if (disk !== undefined && disk < sb.disk) throw new HttpError(400, "Disk size can only be increased")
  if (sb.state === "started") {
    if (disk !== undefined && disk !== sb.disk) {
      throw new HttpError(400, "The sandbox must be stopped to resize its disk")
    }
    if ((cpu !== undefined && cpu < sb.cpu) || (memory !== undefined && memory < sb.memory)) {
      throw new HttpError(400, "A started sandbox can only be resized upwards; stop it to reduce CPU or memory")
    }
  }
  if (cpu !== undefined) sb.cpu = cpu
  if (memory !== undefined) sb.memory = memory
  if (disk !== undefined) sb.disk = disk
  sb.updatedAt = new Date().toISOString()
}

const PAGINATED_SORTS = ["id", "name", "state", "snapshot", "region", "updatedAt", "createdAt", "lastActivityAt"]

const paginated = (app: App, q: URLSearchParams) => {
  const page = intParam(q.get("page"), "page") ?? 1
  const limit = intParam(q.get("limit"), "limit") ?? 100
  if (page < 1) throw new HttpError(400, "page must not be less than 1")
  if (limit < 1 || limit > 200) throw new HttpError(400, "limit must not be less than 1 and not greater than 200")
  let labels: Record<string, unknown> = {}
  const rawLabels = q.get("labels")
  if (rawLabels) {
    try {
      const parsed: unknown = JSON.parse(rawLabels)
      if (!isObject(parsed)) throw new Error("not an object")
      labels = parsed
    } catch {
      throw new HttpError(400, "labels must be a JSON object")
    }
  }
  const list = (key: string) => q.getAll(key).flatMap((s) => s.split(",")).filter((s) => s !== "")
  const states = list("states")
  const snapshots = list("snapshots")
  const regions = list("regions")
  const id = q.get("id")?.toLowerCase()
  const name = q.get("name")?.toLowerCase()
  const withErroredDeleted = boolParam(q.get("includeErroredDeleted")) ?? false
  const sort = q.get("sort") ?? "createdAt"
  if (!PAGINATED_SORTS.includes(sort)) throw new HttpError(400, `sort must be one of ${PAGINATED_SORTS.join(", ")}`)
  const dir = (q.get("order") ?? "desc") === "asc" ? 1 : -1
  const key = (sb: SandboxRecord): string =>
    sort === "snapshot" ? sb.snapshot ?? "" : sort === "region" ? sb.target : String(sb[sort as keyof SandboxRecord])
  const items = app.store.all().filter((sb) =>
    sb.state !== "destroyed" &&
    (withErroredDeleted || !(sb.state === "error" && sb.desiredState === "destroyed")) &&
    Object.entries(labels).every(([k, v]) => sb.labels[k] === v) &&
    (states.length === 0 || states.includes(sb.state)) &&
    (snapshots.length === 0 || (sb.snapshot !== undefined && snapshots.includes(sb.snapshot))) &&
    (regions.length === 0 || regions.includes(sb.target)) &&
    (id === undefined || sb.id.toLowerCase().includes(id)) &&
    (name === undefined || sb.name.toLowerCase().includes(name))
  ).sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : (a.seq - b.seq) * dir))
  return {
    items: items.slice((page - 1) * limit, page * limit).map((sb) => app.store.dto(sb)),
    total: items.length,
    page,
    totalPages: Math.max(1, Math.ceil(items.length / limit))
  }
}

export const sandboxOpRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", "/api/sandbox/paginated", (ctx) => sendJson(ctx.res, 200, paginated(app, ctx.query))],
  ["POST", `${SB}/resize`, async (ctx) => {
    const sb = app.store.resolve(ctx.params["sandboxIdOrName"]!)
    resize(sb, await readJsonObject(ctx))
    sendJson(ctx.res, 200, app.store.dto(sb))
  }],
  ["POST", `${SB}/recover`, (ctx) => {
    const sb = app.store.resolve(ctx.params["sandboxIdOrName"]!)
    app.store.recover(sb, boolParam(ctx.query.get("skipStart")) ?? false)
    sendJson(ctx.res, 200, app.store.dto(sb))
  }]
]
