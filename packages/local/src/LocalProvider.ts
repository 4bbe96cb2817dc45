/**
 * The local provider: every sandbox is a directory on the host, optionally run under bubblewrap.
 *
 * A sandbox lives in `<runtime_root or <stateDir>/runtimes>/<sandbox_id>/workspace/`, its workdir, the only
 * directory its processes may write. Its metadata (labels, state, env; written atomically) is kept apart in
 * `<runtimes>/.meta/<sandbox_id>.json`, out of the sandbox's reach: nothing a sandboxed process writes
 * decides what the host binds, scans or deletes. The instance id is our own sandbox id.
 * `archive` packs the runtime directory into `<stateDir>/archives/<sandbox_id>.tar.gz` with its metadata
 * beside it, so `get` and `list` still find it, and `start` unpacks it again. Processes are real host processes,
 * each in its own process group, killed as a group on timeout, interruption, `stop`, `archive` and
 * `destroy`.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Capabilities from "@org/sandbox-core/Capabilities"
import * as Locations from "@org/sandbox-core/Locations"
import { type Profile, stopGraceMillis } from "@org/sandbox-core/Profile"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { CONTRACT_VERSION, Label, labelsFor, SandboxProvider } from "@org/sandbox-core/SandboxProvider"
import { Config, DateTime, Effect, Layer, Option, Stream } from "effect"
import * as Bwrap from "./internal/bubblewrap.js"
import { fromPlatform, PROVIDER, providerError } from "./internal/errors.js"
import { collect, execStream, type Runner } from "./internal/exec.js"
import * as Files from "./internal/files.js"
import * as Groups from "./internal/groups.js"
import {
  isSafeId,
  liveIds,
  type Located,
  located,
  makeLayout,
  Metadata,
  METADATA_FILE,
  paths,
  readMetadata,
  tempSuffix,
  toInstance,
  writeMetadata
} from "./internal/layout.js"
import * as RemoveTree from "./internal/removeTree.js"
import { getArchive, packRuntime, putArchive, unpackRuntime } from "./internal/transfer.js"
import { settingsOf } from "./LocalConfig.js"

/**
 * The label that makes a sandbox run in a host directory itself instead of `<runtime>/workspace`: the
 * session lifecycle sets it to the workspace path when `sync_mode = "none"`. `destroy` never deletes that
 * directory, only the sandbox's own metadata directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const WORKSPACE_PATH_LABEL = Label.workspacePath

/** One directory is the other or holds it. */
const overlaps = (path: Path.Path, a: string, b: string) => {
  const inside = (outer: string, inner: string) => {
    const rel = path.relative(outer, inner)
    return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
  }
  return inside(a, b) || inside(b, a)
}

/**
 * @since 0.1.0
 * @category constants
 */
export const capabilities: Capabilities.Capabilities = Capabilities.make({
  exec: true,
  exec_stream: true,
  fs: true,
  archive_transfer: true,
  reuse: true,
  archive: true,
  labels: true,
  idle_model: "none"
})

/**
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly profile: Profile
  /** Overrides `Locations.stateDir` (`$SANDBOX_CLI_HOME`), e.g. a temp dir in tests. */
  readonly stateDir?: string
  /** Overrides the host variables commands inherit (PATH, HOME, LANG, TERM), read through `Config` by default. */
  readonly hostEnv?: Readonly<Record<string, string>>
}

const INHERITED = ["PATH", "HOME", "LANG", "TERM"] as const
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const hostEnvConfig: Config.Config<Record<string, string>> = Config.all(
  INHERITED.map((name) =>
    Config.option(Config.string(name)).pipe(Config.map(Option.map((value) => [name, value] as const)))
  )
).pipe(Config.map((entries) => Object.fromEntries(entries.flatMap(Option.toArray))))

/**
 * Build the provider for one profile. The scope owns the processes it starts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("LocalProvider.make")(function*(options: MakeOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const profile = options.profile
  const init = (detail: string) => providerError("init", "InvalidState", detail)

  const stateDir = options.stateDir ??
    (yield* Effect.mapError(Locations.stateDir, (e) => init(`cannot find the state directory: ${e.message}`)))
  const hostEnv: Readonly<Record<string, string>> = options.hostEnv ??
    (yield* Effect.orElseSucceed(hostEnvConfig, () => ({})))
  const inherited = Object.fromEntries(INHERITED.flatMap((k) => (hostEnv[k] !== undefined ? [[k, hostEnv[k]]] : [])))
  const baseEnv: Record<string, string> = { PATH: DEFAULT_PATH, ...inherited, ...profile.env }
  const layout = makeLayout(
    path,
    path.resolve(profile.runtime_root ?? path.join(stateDir, "runtimes")),
    path.resolve(stateDir, "archives")
  )
  yield* Effect.forEach(
    [layout.runtimesDir, layout.metadataDir, layout.archivesDir],
    (dir) => fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(fromPlatform("init", undefined, dir)))
  )
  // Directories set aside by an interrupted destroy or archive.
  const leftovers = yield* Effect.orElseSucceed(fs.readDirectory(layout.runtimesDir), () => [])
  yield* Effect.forEach(
    leftovers.filter((name) => name.startsWith(".") && name.includes(".deleting-")),
    (name) => Effect.ignore(fs.remove(path.join(layout.runtimesDir, name), { recursive: true, force: true }))
  )

  const processesDir = path.resolve(stateDir, "processes")
  // Process groups we started, per sandbox, so stop/archive/destroy can kill them; also recorded on disk, so
  // that another process (the reconciler, after the one that started them died) can kill them too.
  const processes = new Map<string, Set<Effect.Effect<void>>>()
  const track = (id: string, pgid: number, killGroup: Effect.Effect<void>) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const set = processes.get(id) ?? new Set()
        set.add(killGroup)
        processes.set(id, set)
        return Groups.record(processesDir, id, pgid)
      }),
      (forget) =>
        Effect.sync(() => {
          processes.get(id)?.delete(killGroup)
          forget()
        })
    ).pipe(Effect.asVoid)
  /** The groups this provider started (its own, never another process's). */
  const killOwn = (id: string) =>
    Effect.suspend(() => Effect.all([...(processes.get(id) ?? [])], { concurrency: "unbounded", discard: true }))
  /** For stop/archive/destroy: every group of the sandbox, also those a process that died left running. */
  const killAll = (id: string) => Effect.zipRight(killOwn(id), Effect.sync(() => Groups.killRecorded(processesDir, id)))
  yield* Effect.addFinalizer(() => Effect.forEach([...processes.keys()], killOwn, { discard: true }))

  const settings = settingsOf(profile)
  const isolation: Effect.Effect<Option.Option<Bwrap.Bubblewrap>, ProviderError> = settings.isolation === "bubblewrap"
    ? yield* Effect.cached(Effect.map(Bwrap.probe(fs, path, baseEnv["PATH"]!, settings.network), Option.some))
    : Effect.succeed(Option.none())
  const runner: Effect.Effect<Runner, ProviderError> = Effect.map(isolation, (iso) => ({
    fs,
    path,
    baseEnv,
    isolation: iso,
    track,
    stopGrace: stopGraceMillis(profile)
  }))
  const hostRunner: Runner = { fs, path, baseEnv, isolation: Option.none(), track, stopGrace: stopGraceMillis(profile) }

  const now = Effect.map(DateTime.now, DateTime.formatIso)
  const instanceOf = (found: Located): Instance => toInstance(path, layout, found)

  const locate = (operation: string, id: string): Effect.Effect<Located, ProviderError> =>
    Effect.gen(function*() {
      // built only when it is the answer: a ProviderError validates its fields and captures a stack
      const gone = () => providerError(operation, "NotFound", `no local sandbox ${id}`, id)
      if (!isSafeId(id)) return yield* gone()
      const at = paths(path, layout, id)
      // A runtime directory wins over an archive: it is what an interrupted archive or restore left intact.
      const live = yield* readMetadata(fs, at.metadata, operation, id)
      if (Option.isSome(live) && (yield* fs.exists(at.runtimeDir).pipe(Effect.orElseSucceed(() => false)))) {
        return located(path, layout, live.value, "runtime")
      }
      const archived = yield* readMetadata(fs, at.archiveMetadata, operation, id)
      if (Option.isSome(archived)) {
        return located(path, layout, Metadata.make({ ...archived.value, state: "archived" }), "archive")
      }
      return yield* gone()
    })

  /** On disk (running or stopped): file operations work. */
  const onDisk = (operation: string, instance: Instance) =>
    Effect.filterOrFail(
      locate(operation, instance.instance_id),
      (found) => found.where === "runtime",
      () => providerError(operation, "InvalidState", "the sandbox is archived; start it first", instance.instance_id)
    )

  /** Running: commands may start. */
  const runnable = (operation: string, instance: Instance) =>
    Effect.filterOrFail(
      locate(operation, instance.instance_id),
      (found) => found.where === "runtime" && found.meta.state === "running",
      (found) =>
        providerError(
          operation,
          "InvalidState",
          `the sandbox is ${found.meta.state}; start it first`,
          instance.instance_id
        )
    )

  const save = (operation: string, found: Located, state: Metadata["state"]) =>
    Effect.gen(function*() {
      const meta = Metadata.make({ ...found.meta, state, updated_at: yield* now })
      yield* writeMetadata(fs, paths(path, layout, meta.sandbox_id).metadata, meta, operation)
      return located(path, layout, meta, "runtime")
    })

  /** Move a directory aside (atomically, so nothing sees half of it) and delete it; gone counts as done. */
  const discard = (operation: string, id: string, dir: string) =>
    Effect.gen(function*() {
      const aside = path.join(path.dirname(dir), `.${id}.deleting-${yield* tempSuffix}`)
      const moved = yield* fs.rename(dir, aside).pipe(
        Effect.as(true),
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(false)),
        Effect.mapError(fromPlatform(operation, id, dir))
      )
      if (moved) {
        // A small tree at once, a bigger one a directory at a time (internal/removeTree.ts); what that cannot
        // remove, Node's recursive remove tries again
        if (yield* Effect.sync(() => RemoveTree.removeIfSmall(aside))) return
        const removed = yield* Effect.tryPromise(() => RemoveTree.removeTree(aside)).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false)
        )
        if (!removed) {
          yield* fs.remove(aside, { recursive: true, force: true }).pipe(
            Effect.mapError(fromPlatform(operation, id, aside))
          )
        }
      }
    })

  const removeFile = (operation: string, id: string, file: string) =>
    fs.remove(file, { force: true }).pipe(Effect.mapError(fromPlatform(operation, id, file)))

  const removeArchive = (operation: string, id: string) => {
    const at = paths(path, layout, id)
    return Effect.forEach([at.archive, at.archiveMetadata], (file) => removeFile(operation, id, file), {
      discard: true
    })
  }

  const restore = (found: Located) =>
    Effect.gen(function*() {
      const id = found.meta.sandbox_id
      const at = paths(path, layout, id)
      const staging = path.join(layout.runtimesDir, `.${id}.restoring-${yield* tempSuffix}`)
      const unpack = Effect.gen(function*() {
        yield* fs.makeDirectory(staging)
        yield* unpackRuntime(hostRunner, id, at.archive, staging)
        // A runtime dir without metadata is what an interrupted create or restore leaves behind.
        yield* fs.remove(at.runtimeDir, { recursive: true, force: true })
        yield* fs.rename(path.join(staging, id), at.runtimeDir)
      }).pipe(Effect.catchTag("SystemError", "BadArgument", fromPlatform("start", id, staging)))
      yield* Effect.ensuring(unpack, Effect.ignore(fs.remove(staging, { recursive: true, force: true })))
      const restored = yield* save("start", found, "running")
      yield* removeArchive("start", id)
      return restored
    })

  const start = Effect.fn("LocalProvider.start")(function*(instance: Instance) {
    const found = yield* locate("start", instance.instance_id)
    if (found.where === "archive") return instanceOf(yield* restore(found))
    if (found.meta.state === "running") return instanceOf(found)
    return instanceOf(yield* save("start", found, "running"))
  })

  const create: Service["create"] = Effect.fn("LocalProvider.create")(function*(spec) {
    const id = spec.sandbox_id
    if (!isSafeId(id)) return yield* providerError("create", "InvalidState", `${id} is not a usable sandbox id`, id)
    yield* isolation
    const labels = { ...labelsFor(spec), ...spec.labels }
    const existing = yield* locate("create", id).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none<Located>()))
    )
    if (Option.isSome(existing)) {
      const clash = Object.entries(labels).find(([key, value]) => existing.value.meta.labels[key] !== value)
      if (clash !== undefined) {
        const [key, value] = clash
        const theirs = existing.value.meta.labels[key] ?? "(unset)"
        return yield* providerError(
          "create",
          "Conflict",
          `sandbox ${id} exists with ${key}=${theirs}, not ${value}`,
          id
        )
      }
      // Create promises a running sandbox; a retried create finds the first one, whatever its state.
      return yield* start(instanceOf(existing.value))
    }
    const workspacePath = labels[WORKSPACE_PATH_LABEL] ?? null
    if (workspacePath !== null) {
      const isDirectory = yield* fs.stat(workspacePath).pipe(
        Effect.map((info) => info.type === "Directory"),
        Effect.orElseSucceed(() => false)
      )
      if (!path.isAbsolute(workspacePath) || !isDirectory) {
        return yield* providerError(
          "create",
          "InvalidState",
          `${WORKSPACE_PATH_LABEL} ${workspacePath} is not an absolute directory`,
          id
        )
      }
      // Bound writable, the workspace must not hold what the host keeps about its sandboxes.
      const real = (p: string) => Effect.orElseSucceed(fs.realPath(p), () => path.resolve(p))
      const workspace = yield* real(workspacePath)
      for (const [what, dir] of [["state", stateDir], ["runtime", layout.runtimesDir]] as const) {
        const kept = yield* real(dir)
        if (overlaps(path, workspace, kept)) {
          return yield* providerError(
            "create",
            "InvalidState",
            `${WORKSPACE_PATH_LABEL} ${workspacePath} overlaps the ${what} directory ${dir}; ` +
              "a sandbox must never reach the host's own records",
            id
          )
        }
      }
    }
    const at = paths(path, layout, id)
    const dir = workspacePath === null ? path.join(at.runtimeDir, "workspace") : at.runtimeDir
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(fromPlatform("create", id, dir)))
    const timestamp = yield* now
    const meta = Metadata.make({
      version: 1,
      sandbox_id: id,
      state: "running",
      labels,
      env: { ...spec.env },
      workspace_path: workspacePath,
      created_at: timestamp,
      updated_at: timestamp
    })
    yield* writeMetadata(fs, at.metadata, meta, "create")
    return instanceOf(located(path, layout, meta, "runtime"))
  })

  const service: Service = {
    name: PROVIDER,
    contract_version: CONTRACT_VERSION,
    capabilities,
    // the runtime is on this machine: archives (a runtime the sync engine cannot reach directly) go uncompressed
    archive_format: "tar",
    create,
    get: Effect.fn("LocalProvider.get")(function*(instance_id) {
      return instanceOf(yield* locate("get", instance_id))
    }),
    list: (filter) =>
      Stream.unwrap(Effect.gen(function*() {
        const names = (dir: string) => Effect.orElseSucceed(fs.readDirectory(dir), () => [])
        const live = liveIds(yield* names(layout.metadataDir))
        const archived = (yield* names(layout.archivesDir))
          .filter((name) => name.endsWith(METADATA_FILE))
          .map((name) => name.slice(0, -METADATA_FILE.length))
        const ids = [...new Set([...live, ...archived])].filter(isSafeId).sort()
        return Stream.fromIterable(ids).pipe(
          // Unreadable or corrupt metadata is not a sandbox we can manage: skip it, never fail the listing.
          Stream.mapEffect((id) => Effect.option(locate("list", id))),
          Stream.filterMap((found) => found),
          Stream.filter((found) => Object.entries(filter.labels).every(([k, v]) => found.meta.labels[k] === v)),
          Stream.map(instanceOf)
        )
      })).pipe(Stream.withSpan("LocalProvider.list")),
    start,
    stop: Effect.fn("LocalProvider.stop")(function*(instance) {
      const found = yield* locate("stop", instance.instance_id)
      yield* killAll(found.meta.sandbox_id)
      if (found.where === "archive" || found.meta.state === "stopped") return instanceOf(found)
      return instanceOf(yield* save("stop", found, "stopped"))
    }),
    archive: Effect.fn("LocalProvider.archive")(function*(instance) {
      const found = yield* locate("archive", instance.instance_id)
      if (found.where === "archive") return instanceOf(found)
      const id = found.meta.sandbox_id
      yield* killAll(id)
      const at = paths(path, layout, id)
      const tmp = `${at.archive}.tmp-${yield* tempSuffix}`
      yield* packRuntime(hostRunner, id, layout.runtimesDir, tmp).pipe(
        Effect.zipRight(Effect.mapError(fs.rename(tmp, at.archive), fromPlatform("archive", id, at.archive))),
        Effect.onError(() => Effect.ignore(fs.remove(tmp, { force: true })))
      )
      const meta = Metadata.make({ ...found.meta, state: "archived", updated_at: yield* now })
      yield* writeMetadata(fs, at.archiveMetadata, meta, "archive")
      // The runtime directory goes first: without it the live metadata no longer counts (see `locate`).
      yield* discard("archive", id, at.runtimeDir)
      yield* removeFile("archive", id, at.metadata)
      return instanceOf(located(path, layout, meta, "archive"))
    }),
    destroy: Effect.fn("LocalProvider.destroy")(function*(instance) {
      const id = instance.instance_id
      if (!isSafeId(id)) return // not one of ours: nothing to destroy
      yield* killAll(id)
      const at = paths(path, layout, id)
      yield* discard("destroy", id, at.runtimeDir)
      yield* removeFile("destroy", id, at.metadata)
      yield* removeArchive("destroy", id)
    }),
    exec: Effect.fn("LocalProvider.exec")(function*(instance, request) {
      const found = yield* runnable("exec", instance)
      return yield* collect(execStream(yield* runner, found, request, "exec"))
    }),
    execStream: (instance, request) =>
      Stream.unwrap(
        Effect.zipWith(runnable("execStream", instance), runner, (found, r) =>
          execStream(r, found, request, "execStream"))
      ).pipe(Stream.withSpan("LocalProvider.execStream")),
    execInteractive: (instance, request) =>
      Stream.unwrap(
        Effect.zipWith(runnable("execInteractive", instance), runner, (found, r) =>
          execStream(r, found, request, "execInteractive"))
      ).pipe(Stream.withSpan("LocalProvider.execInteractive")),
    readFile: Effect.fn("LocalProvider.readFile")(function*(instance, p) {
      return yield* Files.readFile(hostRunner, yield* onDisk("readFile", instance), p)
    }),
    writeFile: Effect.fn("LocalProvider.writeFile")(function*(instance, p, data, options) {
      yield* Files.writeFile(hostRunner, yield* onDisk("writeFile", instance), p, data, options?.mode)
    }),
    stat: Effect.fn("LocalProvider.stat")(function*(instance, p) {
      return yield* Files.stat(hostRunner, yield* onDisk("stat", instance), p)
    }),
    listDir: Effect.fn("LocalProvider.listDir")(function*(instance, p) {
      return yield* Files.listDir(hostRunner, yield* onDisk("listDir", instance), p)
    }),
    remove: Effect.fn("LocalProvider.remove")(function*(instance, p, options) {
      yield* Files.remove(hostRunner, yield* onDisk("remove", instance), p, options?.recursive ?? false)
    }),
    mkdir: Effect.fn("LocalProvider.mkdir")(function*(instance, p) {
      yield* Files.mkdir(hostRunner, yield* onDisk("mkdir", instance), p)
    }),
    putArchive: Effect.fn("LocalProvider.putArchive")(function*(instance, request) {
      yield* putArchive(yield* runner, yield* onDisk("putArchive", instance), request)
    }),
    getArchive: Effect.fn("LocalProvider.getArchive")(function*(instance, request) {
      yield* getArchive(yield* runner, yield* onDisk("getArchive", instance), request)
    }),
    // The workdir is a host directory, bound at the same path under bubblewrap: what the runtime sees is there.
    hostPath: Effect.fn("LocalProvider.hostPath")(function*(instance) {
      return (yield* onDisk("hostPath", instance)).workdir
    })
  }
  return service
})

/**
 * The provider as a layer for one profile.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: MakeOptions
): Layer.Layer<SandboxProvider, ProviderError, FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(SandboxProvider, make(options))
