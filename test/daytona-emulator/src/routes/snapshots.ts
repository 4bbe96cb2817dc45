/**
 * Snapshot routes under `/api/snapshots` (daytona-api.md §12, §16 item 8).
 */
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { HttpError, intParam, isObject, optNumber, optString, readJsonObject, sendEmpty, sendJson } from "../http.js"
import { snapshotDto } from "../snapshots.js"
import type { SnapshotRecord } from "../snapshots.js"

const SORTS = ["name", "state", "lastUsedAt", "createdAt"] as const

export const snapshotRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", "/api/snapshots", (ctx) => {
    const page = intParam(ctx.query.get("page"), "page") ?? 1
    const limit = intParam(ctx.query.get("limit"), "limit") ?? 100
    if (page < 1) throw new HttpError(400, "page must not be less than 1")
    if (limit < 1 || limit > 200) throw new HttpError(400, "limit must not be less than 1 and not greater than 200")
    const name = ctx.query.get("name")?.toLowerCase()
    const source = ctx.query.get("sourceSandboxId")
    const sort = ctx.query.get("sort") ?? "lastUsedAt"
    if (!SORTS.includes(sort as typeof SORTS[number])) {
      throw new HttpError(400, `sort must be one of ${SORTS.join(", ")}`)
    }
    const dir = (ctx.query.get("order") ?? "desc") === "asc" ? 1 : -1
    const key = (s: SnapshotRecord): string => {
      switch (sort) {
        case "name":
          return s.name
        case "state":
          return s.state
        case "createdAt":
          return s.createdAt
        default:
          return s.lastUsedAt ?? ""
      }
    }
    const items = app.snapshots.all()
      .filter((s) => (name === undefined || s.name.toLowerCase().includes(name)) && (source === null))
      .sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : (a.seq - b.seq) * dir))
    const total = items.length
    sendJson(ctx.res, 200, {
      items: items.slice((page - 1) * limit, page * limit).map(snapshotDto),
      total,
      page,
      totalPages: Math.max(1, Math.ceil(total / limit))
    })
  }],
  ["GET", "/api/snapshots/{id}", (ctx) => sendJson(ctx.res, 200, snapshotDto(app.snapshots.get(ctx.params["id"]!)))],
  ["POST", "/api/snapshots", async (ctx) => {
    const body = await readJsonObject(ctx)
    const name = optString(body, "name")
    if (name === undefined || name.trim() === "") throw new HttpError(400, "name must be a non-empty string")
    const rawBuild = body["buildInfo"]
    const dockerfileContent = isObject(rawBuild) && typeof rawBuild["dockerfileContent"] === "string"
      ? rawBuild["dockerfileContent"]
      : undefined
    const imageName = optString(body, "imageName")
    if (imageName === undefined && dockerfileContent === undefined) {
      throw new HttpError(400, "Either imageName or buildInfo must be provided")
    }
    const entrypoint = body["entrypoint"]
    const record = app.snapshots.add({
      name,
      imageName,
      entrypoint: Array.isArray(entrypoint) ? entrypoint.map(String) : undefined,
      cpu: optNumber(body, "cpu"),
      gpu: optNumber(body, "gpu"),
      memory: optNumber(body, "memory"),
      disk: optNumber(body, "disk"),
      regionId: optString(body, "regionId"),
      dockerfileContent
    })
    sendJson(ctx.res, 200, snapshotDto(record))
  }],
  ["DELETE", "/api/snapshots/{id}", (ctx) => {
    app.snapshots.remove(ctx.params["id"]!)
    sendJson(ctx.res, 200, {})
  }],
  ["POST", "/api/snapshots/{id}/deactivate", (ctx) => {
    const s = app.snapshots.get(ctx.params["id"]!)
    if (s.general) throw new HttpError(403, "General snapshots cannot be deactivated")
    s.state = "inactive"
    s.updatedAt = new Date().toISOString()
    sendEmpty(ctx.res, 204)
  }],
  ["POST", "/api/snapshots/{id}/activate", (ctx) => {
    const s = app.snapshots.get(ctx.params["id"]!)
    s.state = "active"
    s.updatedAt = new Date().toISOString()
    sendJson(ctx.res, 200, snapshotDto(s))
  }]
]
