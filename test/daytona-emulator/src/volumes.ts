/**
 * Volumes under `/api/volumes` (`VolumeDto`, `CreateVolume`): records only, no storage behind them. As on
 * Daytona a new volume is `pending_create` in the create reply and `ready` from the next read; a delete marks it
 * `pending_delete` (then it is gone from lists and lookups), and a volume a live sandbox mounts cannot be deleted.
 */
import { randomUUID } from "node:crypto"
import type { App } from "./app.js"
import type { Handler, HttpMethod } from "./http.js"
import { boolParam, HttpError, optString, readJsonObject, sendJson } from "./http.js"

export type VolumeState = "creating" | "ready" | "pending_create" | "pending_delete" | "deleting" | "deleted" | "error"

export interface VolumeRecord {
  readonly id: string
  readonly name: string
  readonly organizationId: string
  state: VolumeState
  readonly createdAt: string
  updatedAt: string
  lastUsedAt: string | null
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/

export class VolumeStore {
  private readonly byId = new Map<string, VolumeRecord>()

  constructor(private readonly organizationId: string) {}

  /** Every volume, deleted ones included; a pending state settles as it is read. */
  all(): ReadonlyArray<VolumeRecord> {
    const all = [...this.byId.values()]
    for (const v of all) this.settle(v)
    return all
  }

  private settle(v: VolumeRecord): void {
    const next = v.state === "pending_create" ? "ready" : v.state === "pending_delete" ? "deleted" : undefined
    if (next === undefined) return
    v.state = next
    v.updatedAt = new Date().toISOString()
  }

  create(name: string): VolumeRecord {
    if (!VOLUME_NAME.test(name)) throw new HttpError(400, `Invalid volume name ${name}`)
    if (this.all().some((v) => v.name === name && v.state !== "deleted")) {
      throw new HttpError(409, `Volume with name ${name} already exists`)
    }
    const now = new Date().toISOString()
    const v: VolumeRecord = {
      id: randomUUID(),
      name,
      organizationId: this.organizationId,
      state: "pending_create",
      createdAt: now,
      updatedAt: now,
      lastUsedAt: null
    }
    this.byId.set(v.id, v)
    return v
  }

  get(id: string): VolumeRecord {
    const v = this.byId.get(id)
    if (v !== undefined) this.settle(v)
    if (v === undefined || v.state === "deleted") throw new HttpError(404, `Volume with ID ${id} not found`)
    return v
  }

  byName(name: string): VolumeRecord {
    const v = this.all().find((x) => x.name === name && x.state !== "deleted")
    if (v === undefined) throw new HttpError(404, `Volume with name ${name} not found`)
    return v
  }
}

export const volumeDto = (v: VolumeRecord): Record<string, unknown> => ({
  id: v.id,
  name: v.name,
  organizationId: v.organizationId,
  state: v.state,
  createdAt: v.createdAt,
  updatedAt: v.updatedAt,
  lastUsedAt: v.lastUsedAt,
  errorReason: null
})

export const volumeRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", "/api/volumes", (ctx) => {
    const withDeleted = boolParam(ctx.query.get("includeDeleted")) ?? false
    sendJson(ctx.res, 200, app.volumes.all().filter((v) => withDeleted || v.state !== "deleted").map(volumeDto))
  }],
  ["POST", "/api/volumes", async (ctx) => {
    const name = optString(await readJsonObject(ctx), "name")
    if (name === undefined || name === "") throw new HttpError(400, "name must be a non-empty string")
    sendJson(ctx.res, 200, volumeDto(app.volumes.create(name)))
  }],
  [
    "GET",
    "/api/volumes/by-name/{name}",
    (ctx) => sendJson(ctx.res, 200, volumeDto(app.volumes.byName(ctx.params["name"]!)))
  ],
  [
    "GET",
    "/api/volumes/{volumeId}",
    (ctx) => sendJson(ctx.res, 200, volumeDto(app.volumes.get(ctx.params["volumeId"]!)))
  ],
  ["DELETE", "/api/volumes/{volumeId}", (ctx) => {
    const v = app.volumes.get(ctx.params["volumeId"]!)
    const user = app.store.all().find((sb) =>
      sb.state !== "destroyed" && sb.desiredState !== "destroyed" && sb.volumes.some((m) => m.volumeId === v.id)
    )
    if (user !== undefined) throw new HttpError(409, `Volume ${v.name} is in use by sandbox ${user.id}`)
    if (v.state !== "ready" && v.state !== "error") {
      throw new HttpError(409, `Volume ${v.name} is in state ${v.state} and cannot be deleted`)
    }
    v.state = "pending_delete"
    v.updatedAt = new Date().toISOString()
    sendJson(ctx.res, 200, {})
  }]
]
