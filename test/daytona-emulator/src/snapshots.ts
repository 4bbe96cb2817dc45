/**
 * Snapshot records. Creation is instant (`state: "active"`), so the SDK's poll of `GET /snapshots/{name}` ends
 * on its first call.
 */
import { randomUUID } from "node:crypto"
import { HttpError } from "./http.js"

export type SnapshotState =
  | "building"
  | "pending"
  | "pulling"
  | "snapshotting"
  | "active"
  | "inactive"
  | "error"
  | "build_failed"
  | "removing"

export interface SnapshotRecord {
  readonly id: string
  organizationId: string | undefined
  readonly general: boolean
  readonly name: string
  readonly imageName: string | undefined
  state: SnapshotState
  readonly entrypoint: ReadonlyArray<string> | null
  readonly cpu: number
  readonly gpu: number
  readonly mem: number
  readonly disk: number
  readonly createdAt: string
  updatedAt: string
  lastUsedAt: string | null
  readonly regionIds: ReadonlyArray<string>
  readonly dockerfileContent: string | undefined
  readonly seq: number
}

/** The snapshot a sandbox gets when create names neither `snapshot` nor an image. */
export const DEFAULT_SNAPSHOT = "daytonaio/sandbox:latest"

export class SnapshotStore {
  private readonly byId = new Map<string, SnapshotRecord>()
  private seq = 0

  constructor(private readonly organizationId: string) {
    this.add({ name: DEFAULT_SNAPSHOT, imageName: DEFAULT_SNAPSHOT, general: true })
  }

  add(input: {
    readonly name: string
    readonly imageName?: string | undefined
    readonly general?: boolean
    readonly entrypoint?: ReadonlyArray<string> | undefined
    readonly cpu?: number | undefined
    readonly gpu?: number | undefined
    readonly memory?: number | undefined
    readonly disk?: number | undefined
    readonly regionId?: string | undefined
    readonly dockerfileContent?: string | undefined
  }): SnapshotRecord {
    if (this.find(input.name) !== undefined) {
      throw new HttpError(409, `Snapshot with name ${input.name} already exists`)
    }
    const now = new Date().toISOString()
    const general = input.general ?? false
    const record: SnapshotRecord = {
      id: randomUUID(),
      organizationId: general ? undefined : this.organizationId,
      general,
      name: input.name,
      imageName: input.imageName,
      state: "active",
      entrypoint: input.entrypoint ?? null,
      cpu: input.cpu ?? 1,
      gpu: input.gpu ?? 0,
      mem: input.memory ?? 1,
      disk: input.disk ?? 3,
      createdAt: now,
      updatedAt: now,
      lastUsedAt: null,
      regionIds: [input.regionId ?? "us"],
      dockerfileContent: input.dockerfileContent,
      seq: this.seq++
    }
    this.byId.set(record.id, record)
    return record
  }

  /** By id first, then by name, as the API does for `{id}` path parameters. */
  find(idOrName: string): SnapshotRecord | undefined {
    const byId = this.byId.get(idOrName)
    if (byId) return byId
    for (const s of this.byId.values()) if (s.name === idOrName) return s
    return undefined
  }

  get(idOrName: string): SnapshotRecord {
    const s = this.find(idOrName)
    if (!s) throw new HttpError(404, `Snapshot ${idOrName} not found`)
    return s
  }

  remove(idOrName: string): void {
    const s = this.get(idOrName)
    if (s.general) throw new HttpError(403, "Cannot delete a general snapshot")
    this.byId.delete(s.id)
  }

  all(): ReadonlyArray<SnapshotRecord> {
    return [...this.byId.values()]
  }
}

export const snapshotDto = (s: SnapshotRecord): Record<string, unknown> => ({
  id: s.id,
  ...(s.organizationId !== undefined ? { organizationId: s.organizationId } : {}),
  general: s.general,
  name: s.name,
  ...(s.imageName !== undefined ? { imageName: s.imageName } : {}),
  state: s.state,
  size: null,
  entrypoint: s.entrypoint === null ? null : [...s.entrypoint],
  cpu: s.cpu,
  gpu: s.gpu,
  mem: s.mem,
  disk: s.disk,
  errorReason: null,
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
  lastUsedAt: s.lastUsedAt,
  ...(s.dockerfileContent !== undefined
    ? {
      buildInfo: {
        dockerfileContent: s.dockerfileContent,
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
        snapshotRef: s.imageName ?? s.name
      }
    }
    : {}),
  regionIds: [...s.regionIds],
  ref: s.imageName ?? s.name,
  sourceSandboxId: null
})
