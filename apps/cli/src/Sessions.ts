/**
 * What the session commands share: resolving workspace, profile and agent; building a provider for a
 * profile; the supervisor's lock and control files.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { Agent } from "@org/sandbox-core/Agent"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import { WorkspaceName } from "@org/sandbox-core/Ids"
import * as Locations from "@org/sandbox-core/Locations"
import { type Profile, stopGraceMillis } from "@org/sandbox-core/Profile"
import type * as ProviderRegistry from "@org/sandbox-core/ProviderRegistry"
import { StoreError, UsageError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { isFinal, type Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import { Workspace } from "@org/sandbox-core/Workspace"
import { DateTime, Duration, Effect, Layer, Option, Stream } from "effect"
import { createHash } from "node:crypto"
import { hostname, userInfo } from "node:os"
import * as v8 from "node:v8"
import * as AppConfig from "./AppConfig.js"
import * as Failpoint from "./Failpoint.js"
import * as SmallFileSystem from "./SmallFileSystem.js"
import * as StopSignal from "./StopSignal.js"

/** Host identity: the `owner` label of every sandbox this host creates. */
export const owner = (): string => {
  let user = "user"
  try {
    user = userInfo().username
  } catch {
    // no passwd entry (containers): keep the default
  }
  return `${user}@${hostname()}`
}

/**
 * The `state-dir` label of the sandboxes this state directory creates: a digest of its path, so that the
 * reconciler of one state directory never acts on another's sandboxes.
 */
export const stateDirLabel = Effect.map(
  Locations.stateDir,
  (root) => createHash("sha256").update(root).digest("hex").slice(0, 16)
)

/** The registered workspace whose path is `dir`, or an unregistered one named after the directory. */
export const workspaceForDir = (dir: string) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = yield* fs.realPath(path.resolve(dir)).pipe(
      Effect.mapError(() => new UsageError({ detail: `${dir}: not a readable directory` }))
    )
    const info = yield* fs.stat(absolute).pipe(Effect.orElseSucceed(() => undefined))
    if (info?.type !== "Directory") return yield* new UsageError({ detail: `${dir}: not a directory` })
    const { items } = yield* store.listWorkspaces
    const registered = items.find((w) => w.path === absolute)
    if (registered) return registered
    const base = path.basename(absolute).replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 40) ||
      "dir"
    const digest = createHash("sha256").update(absolute).digest("hex").slice(0, 8)
    const now = yield* DateTime.now
    return Workspace.make({
      name: WorkspaceName.make(`${base}-${digest}`),
      path: absolute,
      created_at: now,
      updated_at: now
    })
  })

export const workspaceByName = (name: string) =>
  Effect.flatMap(Store.Store, (store) =>
    store.getWorkspace(name).pipe(
      Effect.mapError((e) =>
        e.reason === "NotFound"
          ? new UsageError({ detail: `no workspace named "${name}" (see: sandbox-cli workspace list)` })
          : e
      )
    ))

export const agentFor = (config: ConfigFile.ResolvedConfig, name: string | undefined) =>
  Effect.gen(function*() {
    const chosen = name ?? config.defaults.agent
    if (chosen === undefined) return Option.none<Agent>()
    const agent = config.agents.get(chosen)
    if (!agent) {
      const known = [...config.agents.keys()]
      return yield* new UsageError({
        detail: `unknown agent "${chosen}"${
          known.length ? ` (known: ${known.join(", ")})` : " (define it under [agents] in config)"
        }`
      })
    }
    return Option.some(agent)
  })

/** Build the provider for a profile; its resources live as long as the surrounding scope. */
export const providerFor = (registry: ProviderRegistry.Registry, profile: Profile) =>
  Effect.flatMap(registry.get(profile.backend), (definition) => definition.make({ profile }))

export const profileForSession = (loaded: AppConfig.Loaded, session: Session) =>
  ConfigFile.selectProfile(loaded.config, { flag: session.sandbox.profile })

/**
 * Whether a session's runtime is its workspace directory itself: its profile never syncs (`sync_mode = "none"`)
 * and the provider's host directory for the instance (`hostPath`, offered by any provider whose runtime is a
 * directory on this machine) is the workspace the session recorded, compared by real path. What the command did
 * is then home already. A provider without `hostPath`, or one that cannot say for this instance, is not in place.
 */
export const ranInPlace = (
  session: Session,
  profile: Profile,
  provider: ProviderService,
  instance: Option.Option<Instance>
) =>
  Effect.gen(function*() {
    const workspace = session.workspace_path
    if (profile.sync_mode !== "none" || provider.hostPath === undefined) return false
    if (workspace === undefined || Option.isNone(instance)) return false
    const fs = yield* FileSystem.FileSystem
    const runtime = yield* provider.hostPath(instance.value).pipe(Effect.flatMap((dir) => fs.realPath(dir)))
    return runtime === (yield* fs.realPath(workspace))
  }).pipe(Effect.orElseSucceed(() => false))

/**
 * Why a session's runtime may hold work that is not home, or `undefined` when it cannot. The end-of-session rule
 * (`EndOfSession`) records a sync-back that left work behind as `kept: "unsynced"`; a profile that never syncs
 * back leaves all of it there, unless the runtime is the host directory itself (`inPlace`: {@link ranInPlace}).
 */
export const workNotHome = (session: Session, profile: Profile, inPlace: boolean): string | undefined => {
  if (inPlace) return undefined
  if (!isFinal(session.state)) return `session ${session.id} is ${session.state}`
  if (session.sandbox.kept === "unsynced") return `the last sync-back of session ${session.id} left work in it`
  if (profile.sync_mode === "none" || profile.sync_mode === "seed") {
    return `sync_mode "${profile.sync_mode}" never brings changes home`
  }
  return undefined
}

/** The live instance behind a session, or a clear error when it is gone or not started. */
export const instanceOf = (provider: ProviderService, session: Session) =>
  Effect.gen(function*() {
    const id = session.sandbox.instance_id
    if (id === null) {
      return yield* new UsageError({ detail: `session ${session.id} has no sandbox yet (state ${session.state})` })
    }
    return yield* provider.get(id).pipe(
      Effect.mapError((e) =>
        e.reason === "NotFound"
          ? new UsageError({ detail: `the sandbox of session ${session.id} (${id}) no longer exists` })
          : e
      )
    ) as Effect.Effect<Instance, UsageError | import("@org/sandbox-core/SandboxError").ProviderError>
  })

/**
 * Run a command in a session's sandbox with the profile's env, its output streamed to ours; the exit code.
 * Interrupted (Ctrl-C), the command is stopped as `run` stops its own: SIGINT, the profile's grace, then SIGKILL.
 */
export const execInSandbox = (
  config: Option.Option<string>,
  session: Session,
  argv: ReadonlyArray<string>,
  sink: (stream: "stdout" | "stderr", data: Uint8Array | string) => void
) =>
  Effect.gen(function*() {
    const loaded = yield* AppConfig.loadForSession(config, session)
    const profile = yield* profileForSession(loaded, session)
    const provider = yield* providerFor(loaded.registry, profile)
    const instance = yield* instanceOf(provider, session)
    if (instance.state === "archived" || instance.state === "stopped") {
      return yield* new UsageError({
        detail: `sandbox ${session.sandbox.sandbox_id} is ${instance.state}; start it with: ` +
          `sandbox-cli sandbox start ${session.sandbox.sandbox_id}`
      })
    }
    const stop = Effect.sync(() => ({ signal: StopSignal.signal(), grace: Duration.millis(stopGraceMillis(profile)) }))
    return yield* provider.execStream(instance, { argv: [...argv], env: { ...profile.env }, stop }).pipe(
      Stream.runFold(-1, (code, chunk) => {
        if (chunk._tag === "Exit") return chunk.exit_code
        sink(chunk._tag === "Stdout" ? "stdout" : "stderr", chunk.data)
        return code
      })
    )
  }).pipe(Effect.scoped)

/** The store under the state directory, its small files read and written on the calling thread. */
export const storeLayer = SmallFileSystem.storeLayer

/**
 * A process that syncs holds a whole tree's manifests: V8 lets the main thread's young generation grow to 48 MB of
 * them on the way to the old one. A supervisor starts with `--max-semi-space-size=4`; any other process keeps its
 * young generation at the size it starts with (V8 reads the growth factor each time it would grow it).
 */
const keepYoungGenerationSmall = () => {
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") return
  try {
    v8.setFlagsFromString("--semi-space-growth-factor=1")
    // The launcher writes its V8 code cache at exit, and V8 rejects a cache made under other flags than the reader's:
    // every later command would compile the whole bundle again (and write another cache it cannot use). V8's default
    // is back before the launcher's exit listener runs.
    process.prependOnceListener("exit", () => v8.setFlagsFromString("--semi-space-growth-factor=2"))
  } catch {
    // a runtime without V8's flags: nothing to keep small
  }
}

/**
 * The services session commands need: the store and the sync engine. The engine is imported when a session
 * command runs, so that other commands do not pay for loading it.
 */
export const runtimeLayer = Layer.mergeAll(
  storeLayer,
  Layer.unwrapEffect(
    Effect.promise(() => import("@org/sandbox-sync/SyncEngine")).pipe(Effect.map((m) => {
      keepYoungGenerationSmall()
      const hooks = Failpoint.fromEnv()
      return hooks === undefined ? m.layer : m.layerWith({ hooks })
    }))
  )
)

// ---- Supervisor lock and control files: in `Supervisors` (what `session sync` needs, without the rest of this)

export {
  HEARTBEAT_EVERY_MS,
  HEARTBEAT_STALE_MS,
  isAlive,
  liveSupervisor,
  notRunning,
  sessionById,
  supervisionLayer,
  SupervisorLock,
  supervisorPaths
} from "./Supervisors.js"

export { StoreError }
