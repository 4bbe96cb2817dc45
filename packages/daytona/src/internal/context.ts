/**
 * What every part of the provider shares: the SDK client (disposed with the layer's scope), the one call and
 * retry layer, the sandbox objects seen so far, and lookups by id and by labels.
 */
import type { Daytona, Sandbox } from "@daytonaio/sdk"
import type { Profile } from "@org/sandbox-core/Profile"
import * as Retry from "@org/sandbox-core/Retry"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { Instance } from "@org/sandbox-core/SandboxProvider"
import { Duration, Effect, Redacted, type Scope } from "effect"
import { type Call, makeCall, toInstance, view } from "./client.js"
import { fromSdk, providerError, type SdkClasses } from "./errors.js"
import type { Toolbox } from "./exec.js"
import { keepAlive } from "./keepAlive.js"
import { isDeleted } from "./state.js"

export interface ContextOptions {
  readonly profile: Profile
  readonly apiKey: Redacted.Redacted<string>
  readonly apiUrl: string
  readonly target: string | undefined
  readonly lifecycleTimeout: Duration.DurationInput | undefined
  readonly retry: Retry.RetryOptions | undefined
  readonly keepAliveEvery: Duration.DurationInput | undefined
}

export interface Context {
  readonly profile: Profile
  readonly daytona: Daytona
  readonly sdk: Call
  readonly retryOptions: Retry.RetryOptions | undefined
  readonly retry: <A, R>(self: Effect.Effect<A, ProviderError, R>) => Effect.Effect<A, ProviderError, R>
  readonly retryRejected: <A, R>(self: Effect.Effect<A, ProviderError, R>) => Effect.Effect<A, ProviderError, R>
  /** How long create, start and stop may wait for the sandbox's state, in seconds. */
  readonly seconds: number
  /** Sandbox objects carry the toolbox client; the last one seen per id, so toolbox calls need no lookup. */
  readonly sandboxes: Map<string, Sandbox>
  readonly remember: (sb: Sandbox) => Sandbox
  readonly gone: (sb: Sandbox) => boolean
  readonly lookup: (operation: string, id: string) => Effect.Effect<Sandbox, ProviderError>
  readonly listed: (
    operation: string,
    labels: Readonly<Record<string, string>>
  ) => Effect.Effect<Array<Sandbox>, ProviderError>
  readonly instanceOf: (operation: string, sb: Sandbox) => Effect.Effect<Instance, ProviderError>
  readonly toolbox: Toolbox
}

export const makeContext = (options: ContextOptions): Effect.Effect<Context, ProviderError, Scope.Scope> =>
  Effect.gen(function*() {
    const profile = options.profile
    const seconds = Math.ceil(Duration.toSeconds(Duration.decode(options.lifecycleTimeout ?? "5 minutes")))
    const retry = <A, R>(self: Effect.Effect<A, ProviderError, R>) => Retry.retry(options.retry)(self)
    const retryRejected = <A, R>(self: Effect.Effect<A, ProviderError, R>) => Retry.retryRejected(options.retry)(self)

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
          apiUrl: options.apiUrl,
          ...(options.target !== undefined ? { target: options.target } : {}),
          useDeprecatedPolling: false
        })),
      (client) => Effect.promise(() => client[Symbol.asyncDispose]().catch(() => undefined))
    )

    const gone = (sb: Sandbox) => isDeleted(sb.state, sb.desiredState)
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
      keepAlive: (sb) => keepAlive(sdk, sb, options.keepAliveEvery)
    }

    return {
      profile,
      daytona,
      sdk,
      retryOptions: options.retry,
      retry,
      retryRejected,
      seconds,
      sandboxes,
      remember,
      gone,
      lookup,
      listed,
      instanceOf,
      toolbox
    }
  })
