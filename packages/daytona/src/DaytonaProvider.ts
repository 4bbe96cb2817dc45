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
import * as FileSystem from "@effect/platform/FileSystem"
import * as Capabilities from "@org/sandbox-core/Capabilities"
import type { Profile } from "@org/sandbox-core/Profile"
import type * as Retry from "@org/sandbox-core/Retry"
import { ConfigError, type ProviderError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { CONTRACT_VERSION, SandboxProvider } from "@org/sandbox-core/SandboxProvider"
import { Config, Duration, Effect, Layer, Option, type Redacted, Schema } from "effect"
import { DaytonaConfig } from "./DaytonaConfig.js"
import { makeContext } from "./internal/context.js"
import { PROVIDER, providerError } from "./internal/errors.js"
import { exec, execStream } from "./internal/exec.js"
import { makeFiles } from "./internal/files.js"
import { configError, createParams, makeLifecycle } from "./internal/lifecycle.js"

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
   * not processes). Default: a quarter of the sandbox's auto-stop interval; never when auto-stop is off. Only
   * while a command runs: an idle sandbox still auto-stops.
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
  const previewSeconds = Math.min(
    86_400,
    Math.max(1, Math.round(Duration.toSeconds(Duration.decode(options.previewUrlTtl ?? "1 hour"))))
  )
  const hostFs = yield* FileSystem.FileSystem
  const ctx = yield* makeContext({
    profile,
    apiKey: options.apiKey,
    apiUrl: table.api_url ?? options.apiUrl ?? DEFAULT_API_URL,
    target: table.target ?? options.target,
    lifecycleTimeout: options.lifecycleTimeout,
    retry: options.retry,
    keepAliveEvery: options.keepAliveEvery
  })
  const toolbox = ctx.toolbox
  const service: DaytonaService = {
    name: PROVIDER,
    contract_version: CONTRACT_VERSION,
    capabilities,
    ...makeLifecycle(ctx, base),
    exec: (instance, request) => exec(toolbox, instance, request),
    execStream: (instance, request) => execStream(toolbox, instance, request),
    // An agent inside the sandbox: a session command whose stdin is the API's session input, output followed.
    execInteractive: (instance, { stdin, ...request }) => execStream(toolbox, instance, request, stdin),
    ...makeFiles(ctx, { hostFs, previewSeconds })
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
