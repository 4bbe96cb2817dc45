/**
 * Control-plane sandbox routes under `/api/sandbox` (daytona-api.md §3, §13, §16 items 1–6 and 10).
 */
import type { App } from "../app.js"
import type { Handler, HttpMethod, JsonObject, RequestContext } from "../http.js"
import {
  HttpError,
  intParam,
  isObject,
  optBoolean,
  optNumber,
  optString,
  optStringRecord,
  readJsonObject,
  sendEmpty,
  sendJson
} from "../http.js"
import { DEFAULT_SNAPSHOT } from "../snapshots.js"
import type { CreateSandboxInput, SandboxRecord, SandboxVolume } from "../state.js"

const SB = "/api/sandbox/{sandboxIdOrName}"

const nonNegativeInt = (body: JsonObject, key: string): number | undefined => {
  const v = optNumber(body, key)
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
    throw new HttpError(400, `${key} must be a non-negative integer`)
  }
  return v
}

const parseVolumes = (body: JsonObject): ReadonlyArray<SandboxVolume> => {
  const raw = body["volumes"]
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw new HttpError(400, "volumes must be an array")
  return raw.map((v: unknown) => {
    if (!isObject(v) || typeof v["volumeId"] !== "string" || typeof v["mountPath"] !== "string") {
      throw new HttpError(400, "each volume needs volumeId and mountPath")
    }
    const subpath = optString(v, "subpath")
    return { volumeId: v["volumeId"], mountPath: v["mountPath"], ...(subpath !== undefined ? { subpath } : {}) }
  })
}

/** Pulls the base image out of `FROM [--platform=...] image [AS name]`, which is what a string `image` becomes. */
export const parseFrom = (dockerfile: string): string | undefined => {
  for (const line of dockerfile.split(/\r?\n/)) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line)
    if (m) return m[1]
  }
  return undefined
}

const parseCreate = (app: App, body: JsonObject): CreateSandboxInput => {
  const snapshotName = optString(body, "snapshot")
  const rawBuild = body["buildInfo"]
  const cpu = nonNegativeInt(body, "cpu")
  const gpu = nonNegativeInt(body, "gpu")
  const memory = nonNegativeInt(body, "memory")
  const disk = nonNegativeInt(body, "disk")
  let buildInfo: CreateSandboxInput["buildInfo"]
  let snapshot: string | undefined
  let resources = { cpu: cpu ?? 1, gpu: gpu ?? 0, memory: memory ?? 1, disk: disk ?? 3 }
  if (rawBuild !== undefined && rawBuild !== null) {
    if (!isObject(rawBuild) || typeof rawBuild["dockerfileContent"] !== "string") {
      throw new HttpError(400, "buildInfo.dockerfileContent must be a string")
    }
    if (snapshotName !== undefined) throw new HttpError(400, "Cannot specify a snapshot when using a build info entry")
    const dockerfileContent = rawBuild["dockerfileContent"]
    const image = parseFrom(dockerfileContent)
    if (image === undefined) throw new HttpError(400, "Invalid build info: the Dockerfile has no FROM instruction")
    const hashes = rawBuild["contextHashes"]
    buildInfo = {
      dockerfileContent,
      image,
      ...(Array.isArray(hashes) ? { contextHashes: hashes.map(String) } : {})
    }
  } else {
    // The real API refuses explicit resources on snapshot-based creates; a provider must learn that here too.
    if (cpu || gpu || memory || disk) throw new HttpError(400, "Cannot specify Sandbox resources when using a snapshot")
    const wanted = snapshotName ?? DEFAULT_SNAPSHOT
    const snap = app.snapshots.find(wanted)
    if (!snap) throw new HttpError(400, `Snapshot ${wanted} not found. Did you add it through the Daytona Dashboard?`)
    if (snap.state !== "active") throw new HttpError(400, `Snapshot ${wanted} is ${snap.state}`)
    snap.lastUsedAt = new Date().toISOString()
    snapshot = snap.name
    resources = { cpu: snap.cpu, gpu: snap.gpu, memory: snap.mem, disk: snap.disk }
  }
  const explicitAutoStop = nonNegativeInt(body, "autoStopInterval")
  const autoPauseInterval = nonNegativeInt(body, "autoPauseInterval") ?? 0
  const autoDeleteInterval = optNumber(body, "autoDeleteInterval") ?? -1
  if (autoPauseInterval > 0 && (explicitAutoStop ?? 0) > 0) {
    throw new HttpError(400, "At most one of autoStopInterval and autoPauseInterval may be non-zero")
  }
  // Auto-pause replaces the default auto-stop rather than conflicting with it.
  const autoStopInterval = explicitAutoStop ?? (autoPauseInterval > 0 ? 0 : 15)
  return {
    name: optString(body, "name"),
    snapshot,
    user: optString(body, "user"),
    env: optStringRecord(body, "env") ?? {},
    labels: optStringRecord(body, "labels") ?? {},
    public: optBoolean(body, "public") ?? false,
    networkBlockAll: optBoolean(body, "networkBlockAll") ?? false,
    networkAllowList: optString(body, "networkAllowList"),
    domainAllowList: optString(body, "domainAllowList"),
    target: optString(body, "target") ?? "us",
    ...resources,
    autoStopInterval,
    autoArchiveInterval: nonNegativeInt(body, "autoArchiveInterval") ?? 10080,
    autoDeleteInterval: Math.trunc(autoDeleteInterval),
    autoPauseInterval,
    volumes: parseVolumes(body),
    buildInfo
  }
}

const SORT_FIELDS = ["name", "cpu", "memoryGib", "diskGib", "lastActivityAt", "createdAt"] as const
type SortField = typeof SORT_FIELDS[number]

const sortValue = (sb: SandboxRecord, field: SortField): string | number => {
  switch (field) {
    case "name":
      return sb.name
    case "cpu":
      return sb.cpu
    case "memoryGib":
      return sb.memory
    case "diskGib":
      return sb.disk
    case "lastActivityAt":
      return sb.lastActivityAt
    case "createdAt":
      return sb.createdAt
  }
}

/** Cursors are opaque to clients; an encoded offset is enough for an in-memory list. */
const encodeCursor = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString("base64url")
const decodeCursor = (cursor: string): number => {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
    if (isObject(parsed) && typeof parsed["offset"] === "number" && parsed["offset"] >= 0) return parsed["offset"]
  } catch {
    // fall through
  }
  throw new HttpError(400, "Invalid cursor")
}

const listSandboxes = (app: App, ctx: RequestContext): void => {
  const q = ctx.query
  const limit = intParam(q.get("limit"), "limit") ?? 100
  if (limit < 1 || limit > 200) throw new HttpError(400, "limit must not be less than 1 and not greater than 200")
  const cursor = q.get("cursor")
  const offset = cursor ? decodeCursor(cursor) : 0
  let labels: Record<string, unknown> | undefined
  const rawLabels = q.get("labels")
  if (rawLabels) {
    try {
      const parsed: unknown = JSON.parse(rawLabels)
      if (!isObject(parsed)) throw new Error("not an object")
      labels = { ...parsed }
    } catch {
      throw new HttpError(400, "labels must be a JSON object")
    }
  }
  const states = q.getAll("states").flatMap((s) => s.split(",")).filter((s) => s !== "")
  const snapshots = q.getAll("snapshots")
  const regions = q.getAll("regionIds")
  const idPrefix = q.get("id")?.toLowerCase()
  const namePrefix = q.get("name")?.toLowerCase()
  const isPublic = q.get("isPublic")
  const range = (key: string): number | undefined => {
    const v = q.get(key)
    return v === null || v === "" ? undefined : Number(v)
  }
  const minCpu = range("minCpu"), maxCpu = range("maxCpu")
  const minMem = range("minMemoryGiB"), maxMem = range("maxMemoryGiB")
  const minDisk = range("minDiskGiB"), maxDisk = range("maxDiskGiB")
  const sortParam = q.get("sort") ?? "createdAt"
  if (!SORT_FIELDS.includes(sortParam as SortField)) {
    throw new HttpError(400, `sort must be one of ${SORT_FIELDS.join(", ")}`)
  }
  const sort = sortParam as SortField
  const order = q.get("order") ?? "desc"
  if (order !== "asc" && order !== "desc") throw new HttpError(400, "order must be one of asc, desc")

  const matching = app.store.all().filter((sb) =>
    sb.state !== "destroyed" &&
    (labels === undefined || Object.entries(labels).every(([k, v]) => sb.labels[k] === v)) &&
    (states.length === 0 || states.includes(sb.state)) &&
    (snapshots.length === 0 || (sb.snapshot !== undefined && snapshots.includes(sb.snapshot))) &&
    (regions.length === 0 || regions.includes(sb.target)) &&
    (idPrefix === undefined || sb.id.toLowerCase().startsWith(idPrefix)) &&
    (namePrefix === undefined || sb.name.toLowerCase().startsWith(namePrefix)) &&
    (isPublic === null || String(sb.public) === isPublic) &&
    (minCpu === undefined || sb.cpu >= minCpu) && (maxCpu === undefined || sb.cpu <= maxCpu) &&
    (minMem === undefined || sb.memory >= minMem) && (maxMem === undefined || sb.memory <= maxMem) &&
    (minDisk === undefined || sb.disk >= minDisk) && (maxDisk === undefined || sb.disk <= maxDisk)
  )
  const dir = order === "asc" ? 1 : -1
  matching.sort((a, b) => {
    const va = sortValue(a, sort), vb = sortValue(b, sort)
    if (va < vb) return -dir
    if (va > vb) return dir
    return (a.seq - b.seq) * dir
  })
  const page = matching.slice(offset, offset + limit)
  const next = offset + limit < matching.length ? encodeCursor(offset + limit) : null
  sendJson(ctx.res, 200, { items: page.map((sb) => app.store.listItem(sb)), nextCursor: next })
}

/** Interval setters: `{n}` minutes, returning the updated DTO (the SDK ignores it). */
const intervalRoute =
  (app: App, key: "autoStopInterval" | "autoArchiveInterval" | "autoDeleteInterval" | "autoPauseInterval"): Handler =>
  (ctx) => {
    const sb = app.store.resolve(ctx.params["sandboxIdOrName"]!)
    const n = intParam(ctx.params["interval"], "interval")!
    if (key !== "autoDeleteInterval" && n < 0) throw new HttpError(400, `${key} must not be negative`)
    sb[key] = n
    sb.updatedAt = new Date().toISOString()
    sendJson(ctx.res, 200, app.store.dto(sb))
  }

export const controlRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => {
  const sandboxOf = (ctx: RequestContext): SandboxRecord => app.store.resolve(ctx.params["sandboxIdOrName"]!)
  return [
    ["POST", "/api/sandbox", async (ctx) => {
      const input = parseCreate(app, await readJsonObject(ctx))
      const sb = await app.store.create(input)
      sendJson(ctx.res, 200, app.store.dto(sb))
    }],
    ["GET", "/api/sandbox", (ctx) => listSandboxes(app, ctx)],
    ["GET", SB, (ctx) => sendJson(ctx.res, 200, app.store.dto(sandboxOf(ctx)))],
    ["DELETE", SB, (ctx) => sendJson(ctx.res, 200, app.store.remove(sandboxOf(ctx)))],
    ["POST", `${SB}/start`, (ctx) => {
      const sb = sandboxOf(ctx)
      app.store.start(sb)
      sendJson(ctx.res, 200, app.store.dto(sb))
    }],
    ["POST", `${SB}/stop`, (ctx) => sendJson(ctx.res, 200, app.store.stop(sandboxOf(ctx)))],
    ["POST", `${SB}/archive`, (ctx) => {
      const sb = sandboxOf(ctx)
      app.store.archive(sb)
      sendJson(ctx.res, 200, app.store.dto(sb))
    }],
    ["PUT", `${SB}/labels`, async (ctx) => {
      const sb = sandboxOf(ctx)
      const labels = optStringRecord(await readJsonObject(ctx), "labels")
      if (labels === undefined) throw new HttpError(400, "labels must be an object of strings")
      sb.labels = labels
      sb.updatedAt = new Date().toISOString()
      sendJson(ctx.res, 200, { labels: { ...sb.labels } })
    }],
    ["POST", `${SB}/autostop/{interval}`, intervalRoute(app, "autoStopInterval")],
    ["POST", `${SB}/autoarchive/{interval}`, intervalRoute(app, "autoArchiveInterval")],
    ["POST", `${SB}/autodelete/{interval}`, intervalRoute(app, "autoDeleteInterval")],
    ["POST", `${SB}/autopause/{interval}`, intervalRoute(app, "autoPauseInterval")],
    ["POST", `${SB}/public/{isPublic}`, (ctx) => {
      const sb = sandboxOf(ctx)
      sb.public = ctx.params["isPublic"] === "true"
      sendJson(ctx.res, 200, app.store.dto(sb))
    }],
    ["POST", "/api/sandbox/{sandboxId}/last-activity", (ctx) => {
      app.store.resolve(ctx.params["sandboxId"]!)
      sendEmpty(ctx.res, 201)
    }],
    ["GET", "/api/sandbox/{sandboxId}/toolbox-proxy-url", (ctx) => {
      app.store.resolve(ctx.params["sandboxId"]!)
      sendJson(ctx.res, 200, { url: `${app.origin()}/toolbox` })
    }]
  ]
}
