/**
 * The Daytona provider: sandboxes in Daytona through `@daytonaio/sdk`, which is loaded only when a provider is
 * built, so importing this module (or the CLI) does not load the SDK.
 *
 * Every sandbox carries our labels and is named after our sandbox id, so `create` finds a sandbox an earlier
 * attempt made (by labels, and by name when two attempts race). The workspace lives in `<home>/workspace`
 * (or the profile's `runtime_root`); the provider's own transfer files go to `<home>/.sandbox-cli`. The SDK
 * client is disposed with the layer's scope, which also closes its Socket.IO connection.
 *
 * ```ts
 * const layer = DaytonaProvider.layerConfig({ profile })   // DAYTONA_API_KEY from the environment
 * ```
 *
 * @since 0.1.0
 */
import type { Daytona, Sandbox } from "@daytonaio/sdk"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Capabilities from "@org/sandbox-core/Capabilities"
import type { Profile } from "@org/sandbox-core/Profile"
import * as Retry from "@org/sandbox-core/Retry"
import { ConfigError, type ProviderError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { CONTRACT_VERSION, Label, labelsFor, MANAGED_BY, SandboxProvider } from "@org/sandbox-core/SandboxProvider"
import { Config, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { DaytonaConfig, toMinutes } from "./DaytonaConfig.js"
import { fileInfo, makeCall, toFileStat, toInstance, view } from "./internal/client.js"
import { fromSdk, PROVIDER, providerError, type SdkClasses } from "./internal/errors.js"
import { exec, execStream, sdkBytes, type Toolbox } from "./internal/exec.js"
import { retryDestroy } from "./internal/schedule.js"
import { resolvePosix } from "./internal/shell.js"
import { isDeleted, isTransitional } from "./internal/state.js"
import { getArchive, putArchive } from "./internal/transfer.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_API_URL = "https://app.daytona.io/api"

/**
 * What the provider can do. Preview URLs and SSH access are offered for every sandbox class; snapshots and
 * pause/resume exist only for VM sandboxes, so they are not declared.
 *
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
  preview_urls: true,
  ssh: true,
  labels: true,
  idle_model: "inactivity"
})

/**
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly profile: Profile
  readonly apiKey: Redacted.Redacted<string>
  /** Used when the profile's table has no `api_url`. Default `https://app.daytona.io/api`. */
  readonly apiUrl?: string | undefined
  /** Used when the profile's table has no `target`. */
  readonly target?: string | undefined
  /** How long create, start and stop may take (they wait for the sandbox's state). Default 5 minutes. */
  readonly lifecycleTimeout?: Duration.DurationInput
  /** How long a preview URL stays valid. Default 1 hour (Daytona allows at most 24 hours). */
  readonly previewUrlTtl?: Duration.DurationInput
  /**
   * Retry tuning (the core policy's defaults otherwise). The provider is the one layer that retries its operations:
   * each SDK call is sent at most `1 + times` times, and callers of the provider do not retry it again.
   */
  readonly retry?: Retry.RetryOptions
  /**
   * How often a sandbox is told of activity while a command runs in it (Daytona's auto-stop counts API traffic,
   * not processes). Off unless given (a quarter of the auto-stop interval is the intended default); never when
   * auto-stop is off. Only while a command runs: an idle sandbox still auto-stops.
   */
  readonly keepAliveEvery?: Duration.DurationInput
}

/**
 * SSH access to a sandbox.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshAccess {
  /** A ready command line, such as `ssh <token>@ssh.app.daytona.io`. */
  readonly command: string
  readonly token: string
  readonly expires_at: string
}

/**
 * The provider's service: the contract plus SSH access, which the contract has no operation for.
 *
 * @since 0.1.0
 * @category models
 */
export interface DaytonaService extends Service {
  readonly sshAccess: (
    instance: Instance,
    options?: { readonly expires?: Duration.DurationInput }
  ) => Effect.Effect<SshAccess, ProviderError>
}

const SshAccessDto = Schema.Struct({ token: Schema.String, expiresAt: Schema.String, sshCommand: Schema.String })
const SignedPreview = Schema.Struct({ url: Schema.String })

const configError = (detail: string) => providerError("init", "InvalidState", detail)

/** Create parameters from the profile: image or snapshot, resources, intervals, env. */
const createParams = (profile: Profile, table: DaytonaConfig) =>
  Effect.gen(function*() {
    const r = profile.resources
    const hasResources = r.cpu !== undefined || r.memory_gib !== undefined || r.disk_gib !== undefined ||
      r.gpu !== undefined
    const useImage = table.snapshot === undefined && table.image !== undefined
    if (hasResources && !useImage) {
      return yield* configError(
        `profile ${profile.name}: resources apply only to sandboxes built from an image; set ` +
          `[sandboxes.${profile.name}.daytona] image, or pick a snapshot of the size you need`
      )
    }
    return {
      ...(table.snapshot !== undefined ? { snapshot: table.snapshot } : {}),
      ...(useImage ? { image: table.image! } : {}),
      ...(useImage && hasResources
        ? {
          resources: {
            ...(r.cpu !== undefined ? { cpu: r.cpu } : {}),
            ...(r.memory_gib !== undefined ? { memory: r.memory_gib } : {}),
            ...(r.disk_gib !== undefined ? { disk: r.disk_gib } : {}),
            ...(r.gpu !== undefined ? { gpu: r.gpu } : {})
          }
        }
        : {}),
      ...(table.auto_stop !== undefined ? { autoStopInterval: toMinutes(table.auto_stop) } : {}),
      ...(table.auto_archive !== undefined ? { autoArchiveInterval: toMinutes(table.auto_archive) } : {}),
      ...(table.auto_delete !== undefined ? { autoDeleteInterval: table.auto_delete } : {})
    }
  })

/**
 * Build the provider for one profile. The scope owns the SDK client: closing it disposes the client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("DaytonaProvider.make")(function*(options: MakeOptions) {
  const profile = options.profile
  const table = yield* Schema.decodeUnknown(DaytonaConfig)(profile.backend_config).pipe(
    Effect.mapError((e) => configError(`[sandboxes.${profile.name}.daytona]: ${e.message}`))
  )
  const base = yield* createParams(profile, table)
  const apiUrl = table.api_url ?? options.apiUrl ?? DEFAULT_API_URL
  const target = table.target ?? options.target
  const lifecycleSeconds = Math.ceil(Duration.toSeconds(Duration.decode(options.lifecycleTimeout ?? "5 minutes")))
  const previewSeconds = Math.min(
    86_400,
    Math.max(1, Math.round(Duration.toSeconds(Duration.decode(options.previewUrlTtl ?? "1 hour"))))
  )
  const retry = <A, R>(self: Effect.Effect<A, ProviderError, R>) => Retry.retry(options.retry)(self)
  const retryRejected = <A, R>(self: Effect.Effect<A, ProviderError, R>) => Retry.retryRejected(options.retry)(self)
  const hostFs = yield* FileSystem.FileSystem

  const module = yield* Effect.tryPromise({
    try: () => import("@daytonaio/sdk"),
    catch: (cause) =>
      providerError("init", "Unsupported", `cannot load @daytonaio/sdk: ${String(cause)}`, undefined, cause)
  })
  const sdk = makeCall(module as SdkClasses)
  // Dispose closes the Socket.IO connection the client opens at once; without it the process lingers.
  const daytona: Daytona = yield* Effect.acquireRelease(
    sdk("init", undefined, async () =>
      new module.Daytona({
        apiKey: Redacted.value(options.apiKey),
        apiUrl,
        ...(target !== undefined ? { target } : {}),
        useDeprecatedPolling: false
      })),
    (client) => Effect.promise(() => client[Symbol.asyncDispose]().catch(() => undefined))
  )

  const gone = (sb: Sandbox) => isDeleted(sb.state, sb.desiredState)
  // Sandbox objects carry the toolbox client; keep the last one seen per id so toolbox calls need no lookup.
  const sandboxes = new Map<string, Sandbox>()
  const remember = (sb: Sandbox): Sandbox => {
    sandboxes.set(sb.id, sb)
    return sb
  }
  const instanceOf = (operation: string, sb: Sandbox) =>
    Effect.map(view(operation, sb), (v) => toInstance(v, profile.runtime_root))

  // Each request is retried where it is sent; a failure a retry gave up on passes any retry around it at once
  // (core Retry), so an operation that retries a whole attempt never multiplies its requests' attempts.
  const lookup = (operation: string, id: string) =>
    retry(sdk(operation, id, () => daytona.get(id))).pipe(
      Effect.flatMap((sb) =>
        gone(sb)
          ? Effect.fail(providerError(operation, "NotFound", `sandbox ${id} is destroyed`, id))
          : Effect.succeed(remember(sb))
      )
    )

  const listed = (operation: string, labels: Readonly<Record<string, string>>) =>
    retry(sdk(operation, undefined, async () => {
      const all: Array<Sandbox> = []
      for await (const sb of daytona.list({ labels: { ...labels } })) all.push(sb)
      return all
    })).pipe(
      Effect.map((all) =>
        all.filter((sb) => !gone(sb) && Object.entries(labels).every(([k, v]) => sb.labels?.[k] === v))
          .map(remember)
      )
    )

  const toolbox: Toolbox = {
    sandboxFor: (operation, instance) => {
      const known = sandboxes.get(instance.instance_id)
      return known !== undefined ? Effect.succeed(known) : lookup(operation, instance.instance_id)
    },
    call: sdk,
    fail: (operation, id) => fromSdk(operation, id, module as SdkClasses),
    retry,
    retryRejected,
    keepAlive: (sb) => {
      const minutes = typeof sb.autoStopInterval === "number" ? sb.autoStopInterval : 15
      // Opt-in for now: the CLI hung at the end of a run with the default keep-alive on (not yet understood).
      const every = options.keepAliveEvery !== undefined && minutes > 0
        ? Duration.decode(options.keepAliveEvery)
        : undefined
      if (every === undefined) return Effect.void
      const refresh = Effect.ignore(sdk("keepAlive", sb.id, () => sb.refreshActivity()))
      return Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(every), refresh))))
    }
  }

  const seconds = lifecycleSeconds
  const waitStarted = (operation: string, sb: Sandbox) => sdk(operation, sb.id, () => sb.waitUntilStarted(seconds))
  const waitStopped = (operation: string, sb: Sandbox) => sdk(operation, sb.id, () => sb.waitUntilStopped(seconds))
  const failed = (operation: string, sb: Sandbox) =>
    providerError(
      operation,
      "InvalidState",
      `sandbox ${sb.id} is in state ${sb.state}${sb.errorReason ? `: ${sb.errorReason}` : ""}`,
      sb.id
    )

  /** Bring a sandbox to `started` from wherever it is. */
  const ensureRunning = (operation: string, sb: Sandbox): Effect.Effect<Sandbox, ProviderError> =>
    Effect.gen(function*() {
      switch (sb.state) {
        case "started":
          return sb
        case "stopped":
        case "archived":
        case "archiving":
        case "paused":
          yield* sdk(operation, sb.id, () => sb.start(seconds))
          return sb
        case "stopping":
          yield* waitStopped(operation, sb)
          yield* sdk(operation, sb.id, () => sb.start(seconds))
          return sb
        case "error":
        case "build_failed":
          return yield* failed(operation, sb)
        case "destroyed":
        case "destroying":
          return yield* providerError(operation, "NotFound", `sandbox ${sb.id} is being destroyed`, sb.id)
        default:
          yield* waitStarted(operation, sb)
          return sb
      }
    })

  /** The workspace directory exists from create on (execs start in it). */
  const ensureWorkdir = (operation: string, sb: Sandbox, instance: Instance) =>
    retry(sdk(operation, sb.id, () => sb.fs.createFolder(instance.workdir, "755")))

  const adopt = (operation: string, sb: Sandbox, labels: Readonly<Record<string, string>>) => {
    const clash = Object.entries(labels).find(([k, v]) => sb.labels?.[k] !== v)
    if (clash === undefined) return ensureRunning(operation, sb)
    const [key, value] = clash
    return Effect.fail(
      providerError(
        operation,
        "Conflict",
        `sandbox ${sb.id} has ${key}=${sb.labels?.[key] ?? "(unset)"}, not ${value}`,
        sb.id
      )
    )
  }

  const create: Service["create"] = Effect.fn("DaytonaProvider.create")(function*(spec) {
    const labels = { ...labelsFor(spec), ...spec.labels }
    const ours = { [Label.managedBy]: MANAGED_BY, [Label.sandboxId]: spec.sandbox_id }
    const findOurs = Effect.map(listed("create", ours), (found) => Option.fromNullable(found[0]))
    const attempt = Effect.gen(function*() {
      const existing = yield* findOurs
      const sb = Option.isSome(existing) ? yield* adopt("create", existing.value, labels) : yield* sdk(
        "create",
        undefined,
        () =>
          daytona.create(
            {
              ...base,
              name: spec.sandbox_id,
              labels,
              envVars: { ...profile.env, ...spec.env }
            } as Parameters<Daytona["create"]>[0],
            { timeout: seconds }
          )
      ).pipe(
        // Sent again at once only when the API refused it before acting (429, 503, refused connection); after
        // a lost reply the whole attempt is retried, which looks our labels up before any new POST.
        retryRejected,
        // The name is ours: a 409 means an earlier or concurrent attempt made it.
        Effect.catchIf(
          (e) => e.reason === "Conflict",
          (e) =>
            Effect.flatMap(
              findOurs,
              (again) => Option.isSome(again) ? adopt("create", again.value, labels) : Effect.fail(e)
            )
        ),
        Effect.map(remember)
      )
      const instance = yield* instanceOf("create", sb)
      yield* ensureWorkdir("create", sb, instance)
      return instance
    })
    // Every attempt looks our labels up first, so a create whose reply was lost (a dropped connection) is found
    // and adopted, never made twice.
    return yield* retry(attempt)
  })

  // One DELETE when the sandbox object is at hand (from create, get or list): a sandbox the API has accepted to
  // destroy (`destroying`) is gone for us, so nothing waits or polls for the end of it.
  const destroyOnce = (id: string) =>
    Effect.gen(function*() {
      const known = sandboxes.get(id)
      const found = known !== undefined ?
        Option.some(known) :
        yield* retry(sdk("destroy", id, () => daytona.get(id))).pipe(
          Effect.map(Option.some),
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none<Sandbox>()))
        )
      if (Option.isNone(found) || gone(found.value)) return
      const sb = found.value
      yield* sdk("destroy", id, () => sb.delete(seconds, false)).pipe(
        Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
        // 409: a transition, or a delete already accepted; the next attempt looks the sandbox up afresh.
        Effect.tapError(() => Effect.sync(() => sandboxes.delete(id)))
      )
    })

  const stopped = (operation: string, sb: Sandbox): Effect.Effect<Sandbox, ProviderError> =>
    Effect.gen(function*() {
      switch (sb.state) {
        case "stopped":
        case "archived":
        case "archiving":
        case "paused":
        case "destroyed":
          return sb
        case "started":
          yield* sdk(operation, sb.id, () => sb.stop(seconds))
          return sb
        case "stopping":
          yield* waitStopped(operation, sb)
          return sb
        case "error":
        case "build_failed":
          return yield* failed(operation, sb)
        default:
          if (!isTransitional(sb.state)) return yield* failed(operation, sb)
          yield* waitStarted(operation, sb)
          yield* sdk(operation, sb.id, () => sb.stop(seconds))
          return sb
      }
    })

  const service: DaytonaService = {
    name: PROVIDER,
    contract_version: CONTRACT_VERSION,
    capabilities,
    create,
    get: Effect.fn("DaytonaProvider.get")(function*(id) {
      return yield* instanceOf("get", yield* lookup("get", id))
    }),
    list: (filter) =>
      Stream.unwrap(
        Effect.map(listed("list", filter.labels), (all) =>
          Stream.fromIterable(all).pipe(Stream.mapEffect((sb) => instanceOf("list", sb))))
      ).pipe(Stream.withSpan("DaytonaProvider.list")),
    start: Effect.fn("DaytonaProvider.start")(function*(instance) {
      const sb = yield* retry(Effect.flatMap(lookup("start", instance.instance_id), (sb) => ensureRunning("start", sb)))
      return yield* instanceOf("start", sb)
    }),
    stop: Effect.fn("DaytonaProvider.stop")(function*(instance) {
      const sb = yield* retry(Effect.flatMap(lookup("stop", instance.instance_id), (sb) => stopped("stop", sb)))
      return yield* instanceOf("stop", sb)
    }),
    archive: Effect.fn("DaytonaProvider.archive")(function*(instance) {
      const sb = yield* retry(Effect.gen(function*() {
        const sb = yield* stopped("archive", yield* lookup("archive", instance.instance_id))
        if (sb.state === "stopped") yield* sdk("archive", sb.id, () => sb.archive())
        return sb
      }))
      return yield* instanceOf("archive", sb)
    }),
    destroy: Effect.fn("DaytonaProvider.destroy")(function*(instance) {
      yield* retryDestroy(destroyOnce(instance.instance_id), options.retry)
      sandboxes.delete(instance.instance_id)
    }),
    exec: (instance, request) => exec(toolbox, instance, request),
    execStream: (instance, request) => execStream(toolbox, instance, request),
    // An agent inside the sandbox: a session command whose stdin is the API's session input, output followed.
    execInteractive: (instance, { stdin, ...request }) => execStream(toolbox, instance, request, stdin),
    readFile: Effect.fn("DaytonaProvider.readFile")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("readFile", instance)
      const path = resolvePosix(instance.workdir, p)
      const data = yield* retry(sdk("readFile", instance.instance_id, () => sb.fs.downloadFile(path)))
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    }),
    writeFile: Effect.fn("DaytonaProvider.writeFile")(function*(instance, p, data, options) {
      const sb = yield* toolbox.sandboxFor("writeFile", instance)
      const path = resolvePosix(instance.workdir, p)
      yield* retry(sdk("writeFile", instance.instance_id, () => sb.fs.uploadFile(sdkBytes(data), path)))
      const mode = options?.mode
      if (mode !== undefined) {
        const octal = (mode & 0o7777).toString(8).padStart(3, "0")
        yield* retry(sdk("writeFile", instance.instance_id, () => sb.fs.setFilePermissions(path, { mode: octal })))
      }
    }),
    stat: Effect.fn("DaytonaProvider.stat")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("stat", instance)
      const path = resolvePosix(instance.workdir, p)
      const info = yield* retry(sdk("stat", instance.instance_id, () => sb.fs.getFileDetails(path)))
      return toFileStat(path, yield* fileInfo("stat", instance.instance_id, info))
    }),
    listDir: Effect.fn("DaytonaProvider.listDir")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("listDir", instance)
      const path = resolvePosix(instance.workdir, p)
      const infos = yield* retry(sdk("listDir", instance.instance_id, () => sb.fs.listFiles(path)))
      return yield* Effect.forEach(infos, (u) =>
        Effect.map(
          fileInfo("listDir", instance.instance_id, u),
          (info) => toFileStat(`${path === "/" ? "" : path}/${info.name}`, info)
        ))
    }),
    remove: Effect.fn("DaytonaProvider.remove")(function*(instance, p, options) {
      const sb = yield* toolbox.sandboxFor("remove", instance)
      const path = resolvePosix(instance.workdir, p)
      yield* retry(sdk("remove", instance.instance_id, () => sb.fs.deleteFile(path, options?.recursive ?? false)))
    }),
    mkdir: Effect.fn("DaytonaProvider.mkdir")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("mkdir", instance)
      const path = resolvePosix(instance.workdir, p)
      yield* retry(sdk("mkdir", instance.instance_id, () => sb.fs.createFolder(path, "755")))
    }),
    putArchive: (instance, request) =>
      Effect.provideService(putArchive(toolbox, instance, request), FileSystem.FileSystem, hostFs),
    getArchive: (instance, request) =>
      Effect.provideService(getArchive(toolbox, instance, request), FileSystem.FileSystem, hostFs),
    previewUrl: Effect.fn("DaytonaProvider.previewUrl")(function*(instance, port) {
      if (!Number.isInteger(port) || port < 1 || port > 65_535) {
        return yield* providerError("previewUrl", "InvalidState", `${port} is not a port`, instance.instance_id)
      }
      const sb = yield* toolbox.sandboxFor("previewUrl", instance)
      const signed = yield* retry(
        sdk("previewUrl", instance.instance_id, () => sb.getSignedPreviewUrl(port, previewSeconds))
      )
      const decoded = yield* Schema.decodeUnknown(SignedPreview)(signed).pipe(
        Effect.mapError((e) =>
          providerError("previewUrl", "Unknown", `unexpected preview URL: ${e.message}`, instance.instance_id)
        )
      )
      return decoded.url
    }),
    sshAccess: Effect.fn("DaytonaProvider.sshAccess")(function*(instance, options) {
      const sb = yield* toolbox.sandboxFor("sshAccess", instance)
      const minutes = Math.max(1, Math.ceil(Duration.toMinutes(Duration.decode(options?.expires ?? "1 hour"))))
      const dto = yield* sdk("sshAccess", instance.instance_id, () => sb.createSshAccess(minutes))
      const access = yield* Schema.decodeUnknown(SshAccessDto)(dto).pipe(
        Effect.mapError((e) =>
          providerError("sshAccess", "Unknown", `unexpected SSH access: ${e.message}`, instance.instance_id)
        )
      )
      return { command: access.sshCommand, token: access.token, expires_at: access.expiresAt }
    })
  }
  return service
})

/**
 * SSH access to a sandbox through the provider in context, when it is a Daytona provider.
 *
 * @since 0.1.0
 * @category accessors
 */
export const sshAccess = (instance: Instance, options?: { readonly expires?: Duration.DurationInput }) =>
  Effect.flatMap(SandboxProvider, (provider) =>
    "sshAccess" in provider
      ? (provider as DaytonaService).sshAccess(instance, options)
      : Effect.fail(providerError("sshAccess", "Unsupported", `the ${provider.name} provider has no SSH access`)))

/**
 * The provider as a layer, with explicit credentials.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: MakeOptions): Layer.Layer<SandboxProvider, ProviderError, FileSystem.FileSystem> =>
  Layer.scoped(SandboxProvider, make(options))

/**
 * Credentials and endpoint from the environment, through `Config`: `DAYTONA_API_KEY` (required, redacted),
 * `DAYTONA_API_URL` and `DAYTONA_TARGET` (used when the profile's table does not set them).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<{
  readonly apiKey: Redacted.Redacted<string>
  readonly apiUrl: Option.Option<string>
  readonly target: Option.Option<string>
}> = Config.all({
  apiKey: Config.redacted("DAYTONA_API_KEY"),
  apiUrl: Config.option(Config.string("DAYTONA_API_URL")),
  target: Config.option(Config.string("DAYTONA_TARGET"))
})

/**
 * Build the provider with credentials from the environment (see `config`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConfig = (options: Omit<MakeOptions, "apiKey" | "apiUrl" | "target">) =>
  Effect.gen(function*() {
    const env = yield* Effect.mapError(config, () =>
      new ConfigError({
        file: "<environment>",
        key_path: "DAYTONA_API_KEY",
        expected: "a Daytona API key",
        got: "nothing",
        hint: "export DAYTONA_API_KEY with a key from the Daytona dashboard"
      }))
    return yield* make({
      ...options,
      apiKey: env.apiKey,
      apiUrl: Option.getOrUndefined(env.apiUrl),
      target: Option.getOrUndefined(env.target)
    })
  })

/**
 * The provider as a layer, with credentials from the environment (see `config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<MakeOptions, "apiKey" | "apiUrl" | "target">
): Layer.Layer<SandboxProvider, ProviderError | ConfigError, FileSystem.FileSystem> =>
  Layer.scoped(SandboxProvider, makeConfig(options))
