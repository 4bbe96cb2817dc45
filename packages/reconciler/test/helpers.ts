/**
 * A memory provider that counts requests, sessions built in one line, and the services the reconciler needs.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Capabilities from "@org/sandbox-core/Capabilities"
import { makeSandboxId, makeSessionId, ProfileName } from "@org/sandbox-core/Ids"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import { ProviderError } from "@org/sandbox-core/SandboxError"
import type { Service } from "@org/sandbox-core/SandboxProvider"
import { Instance, labelsFor } from "@org/sandbox-core/SandboxProvider"
import type { SandboxState, SessionState } from "@org/sandbox-core/Session"
import { SandboxRecord, Session, SyncStatus } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import * as Supervision from "@org/sandbox-core/Supervision"
import type { SyncRequest, SyncResult } from "@org/sandbox-core/WorkspaceSync"
import { WorkspaceSync } from "@org/sandbox-core/WorkspaceSync"
import { DateTime, Effect, Layer, Option, Stream } from "effect"

export const OWNER = "me@here"

export const profile = (name: string, patch: Partial<typeof Profile.Type> = {}) =>
  Profile.make({ ...builtinLocal, name: ProfileName.make(name), backend: "memory", source: "test", ...patch })

export const profiles = {
  transient: profile("transient"),
  archive: profile("archive", { persistence: "archive" }),
  reuse: profile("reuse", { persistence: "reuse" }),
  seedOnly: profile("seed-only", { sync_mode: "seed" })
}

export const notFound = (operation: string, id: string) =>
  ProviderError.of({ provider: "memory", operation, reason: "NotFound", detail: `no ${id}`, instance_id: id })

/** A provider over a map; `requests` counts every call by operation, `calls` lists them in order (`op id`). */
export const makeProvider = () => {
  const instances = new Map<string, Instance>()
  const requests = new Map<string, number>()
  const calls: Array<string> = []
  const count = (op: string) => requests.set(op, (requests.get(op) ?? 0) + 1)
  const get = (op: string, id: string) =>
    Effect.suspend(() => {
      count(op)
      calls.push(`${op} ${id}`)
      const found = instances.get(id)
      return found ? Effect.succeed(found) : Effect.fail(notFound(op, id))
    })
  const setState = (op: string, state: SandboxState) => (i: Instance) =>
    Effect.map(get(op, i.instance_id), (found) => {
      const next = Instance.make({ ...found, state, provider_state_name: state })
      instances.set(i.instance_id, next)
      return next
    })
  const unsupported = (op: string) => () =>
    Effect.fail(ProviderError.of({ provider: "memory", operation: op, reason: "Unsupported", detail: op }))
  const service: Service = {
    name: "memory",
    contract_version: 1,
    capabilities: Capabilities.make({ labels: true, archive: true, reuse: true }),
    create: (spec) =>
      Effect.sync(() => {
        count("create")
        const instance = add({ id: `i-${spec.sandbox_id}`, labels: { ...labelsFor(spec), ...spec.labels } })
        return instance
      }),
    get: (id) => get("get", id),
    list: (filter) =>
      Stream.suspend(() => {
        count("list")
        return Stream.fromIterable(
          [...instances.values()].filter((i) => Object.entries(filter.labels).every(([k, v]) => i.labels[k] === v))
        )
      }),
    start: setState("start", "running"),
    stop: setState("stop", "stopped"),
    archive: setState("archive", "archived"),
    destroy: (i) =>
      Effect.sync(() => {
        count("destroy")
        calls.push(`destroy ${i.instance_id}`)
        instances.delete(i.instance_id)
      }),
    exec: unsupported("exec"),
    execStream: () =>
      Stream.fail(ProviderError.of({ provider: "memory", operation: "execStream", reason: "Unsupported", detail: "" })),
    readFile: unsupported("readFile"),
    writeFile: unsupported("writeFile"),
    stat: unsupported("stat"),
    listDir: unsupported("listDir"),
    remove: unsupported("remove"),
    mkdir: unsupported("mkdir"),
    putArchive: unsupported("putArchive"),
    getArchive: unsupported("getArchive")
  }
  const add = (options: { id: string; labels: Record<string, string>; state?: SandboxState }) => {
    const instance = Instance.make({
      instance_id: options.id,
      state: options.state ?? "running",
      provider_state_name: options.state ?? "running",
      labels: options.labels,
      workdir: "/work",
      provider_state: null
    })
    instances.set(options.id, instance)
    return instance
  }
  return { service, instances, requests, calls, add }
}

export type MemoryProvider = ReturnType<typeof makeProvider>

/** A session record, and (unless `instance: false`) an instance labelled for it. */
export const seedSession = (
  provider: MemoryProvider,
  options: {
    readonly state: SessionState
    readonly profile?: Profile
    readonly owner?: string
    readonly instance?: boolean
    readonly recorded?: boolean
    readonly seeded?: boolean
    readonly sandboxState?: SandboxState
    readonly instanceState?: SandboxState
    readonly workspace?: string
  }
) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const now = yield* DateTime.now
    const id = makeSessionId()
    const sandbox_id = makeSandboxId()
    const owner = options.owner ?? OWNER
    const workspace = options.workspace ?? "ws"
    const p = options.profile ?? profiles.transient
    const instance = options.instance === false
      ? undefined
      : provider.add({
        id: `i-${sandbox_id}`,
        labels: labelsFor({ sandbox_id, session_id: id, workspace, owner }),
        ...(options.instanceState ? { state: options.instanceState } : {})
      })
    const session = Session.make({
      id,
      workspace,
      agent: null,
      command: ["true"],
      state: options.state,
      created_at: now,
      updated_at: now,
      ended_at: null,
      exit_code: null,
      reason: null,
      owner,
      sandbox: SandboxRecord.make({
        sandbox_id,
        backend: p.backend,
        profile: p.name,
        instance_id: instance && options.recorded !== false ? instance.instance_id : null,
        state: options.sandboxState ?? (instance ? "running" : "pending"),
        provider_state: null,
        sync: options.seeded === false
          ? SyncStatus.empty
          : SyncStatus.make({ ...SyncStatus.empty, last_to_runtime_at: now }),
        last_error: null
      })
    })
    yield* store.putSession(session)
    return { session, instance }
  })

const emptyResult: SyncResult = {
  files_to_runtime: 0,
  bytes_to_runtime: 0,
  deleted_in_runtime: 0,
  files_from_runtime: 2,
  bytes_from_runtime: 10,
  deleted_on_host: 0,
  conflicts: [],
  refused: [],
  duration_ms: 1
}

/**
 * A sync engine that records its requests (also in `calls`, as `sync id`, beside a provider's) and fails for
 * sandboxes in `failing`.
 */
export const makeSync = (calls: Array<string> = []) => {
  const requests: Array<SyncRequest> = []
  const failing = new Set<string>()
  const layer = Layer.succeed(WorkspaceSync, {
    seed: () => Effect.succeed(emptyResult),
    sync: (request) =>
      Effect.suspend(() => {
        requests.push(request)
        calls.push(`sync ${request.instance.instance_id}`)
        return failing.has(request.sandbox_id)
          ? Effect.fail(
            ProviderError.of({
              provider: "memory",
              operation: "getArchive",
              reason: "Unavailable",
              detail: "down",
              retryable: false
            })
          )
          : Effect.succeed(emptyResult)
      })
  })
  return { requests, failing, layer }
}

/** Sessions in `alive` have a live supervisor; every other one is gone. */
export const supervision = (alive: Set<string>) =>
  Supervision.layerTest((id) =>
    alive.has(id)
      ? { _tag: "Alive", lock: { pid: 1, session_id: id, started_at: "", heartbeat_at: "" } }
      : { _tag: "Gone", reason: "supervisor pid 4242 is not running", lock: Option.none() }
  )

export const baseLayer = (alive: Set<string>, sync: Layer.Layer<WorkspaceSync>) =>
  Layer.mergeAll(Store.layerMemory, supervision(alive), sync, NodeContext.layer)
