/**
 * Sandbox lifecycle: create (found again by our labels, never made twice), get, list, start, stop, archive and
 * destroy.
 */
import type { Daytona, Sandbox } from "@daytonaio/sdk"
import type { Profile } from "@org/sandbox-core/Profile"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { Label, labelsFor, MANAGED_BY } from "@org/sandbox-core/SandboxProvider"
import { Effect, Option, Stream } from "effect"
import { type DaytonaConfig, toMinutes } from "../DaytonaConfig.js"
import type { Context } from "./context.js"
import { providerError } from "./errors.js"
import { retryDestroy } from "./schedule.js"
import { isTransitional } from "./state.js"

export const configError = (detail: string) => providerError("init", "InvalidState", detail)

/** Create parameters from the profile: image or snapshot, resources, intervals, env. */
export const createParams = (profile: Profile, table: DaytonaConfig) =>
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

export type CreateParams = Effect.Effect.Success<ReturnType<typeof createParams>>

export type Lifecycle = Pick<Service, "create" | "get" | "list" | "start" | "stop" | "archive" | "destroy">

export const makeLifecycle = (ctx: Context, base: CreateParams): Lifecycle => {
  const { listed, lookup, remember, sandboxes, sdk, seconds } = ctx
  const { daytona, gone, instanceOf, retry, retryRejected } = ctx
  const profile = ctx.profile

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
    const post = sdk(
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
      retryRejected
    )
    // A deleted sandbox keeps its name while Daytona destroys it (it lingers, desired state `destroyed`): a
    // sandbox replacing it under the same name waits until the name is free, within the create's timeout.
    const nameFreed = Effect.gen(function*() {
      const deadline = Date.now() + seconds * 1000
      while (true) {
        const holder = yield* fresh(spec.sandbox_id)
        if (Option.isNone(holder)) return true
        if (!gone(holder.value) || Date.now() > deadline) return false
        yield* Effect.sleep(250)
      }
    })
    const attempt = Effect.gen(function*() {
      const existing = yield* findOurs
      const sb = Option.isSome(existing) ? yield* adopt("create", existing.value, labels) : yield* post.pipe(
        // The name is ours: a 409 means an earlier or concurrent attempt made it, or a deleted sandbox of that
        // name still lingers.
        Effect.catchIf(
          (e) => e.reason === "Conflict",
          (e) =>
            Effect.flatMap(
              findOurs,
              (again) =>
                Option.isSome(again)
                  ? adopt("create", again.value, labels)
                  : Effect.flatMap(nameFreed, (freed) => freed ? post : Effect.fail(e))
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

  const fresh = (id: string) =>
    retry(sdk("destroy", id, () => daytona.get(id))).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none<Sandbox>()))
    )

  // One DELETE when the sandbox object is at hand (from create, get or list): a sandbox the API has accepted to
  // destroy (desired state `destroyed`, then `destroying`) is gone for us, so nothing waits or polls for its end.
  const destroyOnce = (id: string) =>
    Effect.gen(function*() {
      const known = sandboxes.get(id)
      const found = known !== undefined ? Option.some(known) : yield* fresh(id)
      if (Option.isNone(found) || gone(found.value)) return
      const sb = found.value
      yield* sdk("destroy", id, () => sb.delete(seconds, false)).pipe(
        Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
        // 409: a delete already accepted (another process's, or ours whose reply was lost), which is success, or
        // a transition under way, which the retry waits out; one lookup tells them apart.
        Effect.catchIf((e) => e.reason === "Conflict", (e) =>
          Effect.flatMap(fresh(id), (again) =>
            Option.isNone(again) || gone(again.value) ? Effect.void : Effect.fail(e))),
        Effect.tapError(() =>
          Effect.sync(() => sandboxes.delete(id))
        )
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

  return {
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
      yield* retryDestroy(destroyOnce(instance.instance_id), ctx.retryOptions)
      sandboxes.delete(instance.instance_id)
    })
  }
}
