/**
 * The facade's implementation: one runtime (Node platform services and the sync engine) per sandbox, the provider
 * built in a scope that `destroy` closes.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { makeSandboxId, makeSessionId, ProfileName } from "@org/sandbox-core/Ids"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import type { PromiseExecOutput, PromiseExecResult } from "@org/sandbox-core/PromiseProvider"
import * as ProviderRegistry from "@org/sandbox-core/ProviderRegistry"
import { ConfigError } from "@org/sandbox-core/SandboxError"
import type { ExecRequest } from "@org/sandbox-core/SandboxProvider"
import { Instance, labelsFor } from "@org/sandbox-core/SandboxProvider"
import type { SyncReason, SyncResult } from "@org/sandbox-core/WorkspaceSync"
import { WorkspaceSync } from "@org/sandbox-core/WorkspaceSync"
import * as SyncEngine from "@org/sandbox-sync/SyncEngine"
import { Cause, Effect, Exit, Layer, ManagedRuntime, ParseResult, Schema, Scope, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { basename, join, resolve } from "node:path"
import type { Command, CreateOptions, ExecOptions, Sandbox, SyncSummary } from "../Sandbox.js"

const builtins: ReadonlyArray<ProviderRegistry.LazyBackend> = [
  { name: "local", source: "built-in", load: () => import("@org/sandbox-local/LocalBackend") },
  {
    name: "daytona",
    source: "@org/sandbox-daytona",
    load: () => import("@org/sandbox-daytona/DaytonaBackend")
  }
]

/** A rejected promise carries the failure itself (a `ProviderError`, `SyncError`, `ConfigError`, …). */
const settle = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

const summary = (r: SyncResult): SyncSummary => ({
  files_to_runtime: r.files_to_runtime,
  bytes_to_runtime: r.bytes_to_runtime,
  files_from_runtime: r.files_from_runtime,
  bytes_from_runtime: r.bytes_from_runtime,
  deleted_in_runtime: r.deleted_in_runtime,
  deleted_on_host: r.deleted_on_host,
  conflicts: r.conflicts.map((c) => ({ ...c })),
  refused: r.refused.map((x) => ({ ...x }))
})

const request = (command: Command, options: ExecOptions = {}): ExecRequest => ({
  ...(typeof command === "string" ? { shell: command } : { argv: command }),
  ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  ...(options.env !== undefined ? { env: options.env } : {}),
  ...(options.timeout_ms !== undefined ? { timeout: options.timeout_ms } : {}),
  ...(options.stdin !== undefined ? { stdin: options.stdin } : {})
})

export const open = async (options: CreateOptions): Promise<Sandbox> => {
  const runtime = ManagedRuntime.make(Layer.provideMerge(SyncEngine.layer, NodeContext.layer))
  const ownState = options.stateDir === undefined
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "sandbox-node-"))
  const scope = Effect.runSync(Scope.make())
  const release = async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
    if (ownState) rmSync(stateDir, { recursive: true, force: true })
  }
  const registry = ProviderRegistry.make([
    ...builtins.filter((b) => options.providers?.[b.name] === undefined),
    ...Object.entries(options.providers ?? {}).map(([name, mod]) => ({
      name,
      source: `providers.${name}`,
      load: async () => mod
    }))
  ])
  const host_root = resolve(options.workspace)
  const ids = {
    sandbox_id: makeSandboxId(),
    session_id: makeSessionId(),
    workspace: options.workspaceName ?? basename(host_root),
    owner: options.owner ?? `library@${hostname()}`
  }
  const setup = Effect.gen(function*() {
    const { backend_config = {}, name = "library", ...given } = options.profile ?? {}
    const backend = given.backend ?? "local"
    const definition = yield* registry.get(backend)
    // Keys the backend claims on the profile table (local's isolation and network) belong to its table, as in a
    // config file.
    const claimed = new Set(definition.profileKeys ?? [])
    const rest = Object.fromEntries(Object.entries(given).filter(([k]) => !claimed.has(k)))
    const hoisted = Object.fromEntries(Object.entries(given).filter(([k]) => claimed.has(k)))
    const table = yield* ProviderRegistry.decodeTable(definition, { ...hoisted, ...backend_config }).pipe(
      Effect.mapError((issue) =>
        new ConfigError({
          file: "<library>",
          key_path: `profile.backend_config`,
          expected: `a table the ${backend} backend accepts`,
          got: ParseResult.TreeFormatter.formatIssueSync(issue).split("\n")[0]!
        })
      )
    )
    const profile = yield* Schema.decodeUnknown(Profile)({
      ...Schema.encodeSync(Profile)(builtinLocal),
      ...rest,
      backend,
      name: ProfileName.make(name),
      source: "<library>",
      backend_config: Schema.encodeSync(definition.configSchema)(table)
    }).pipe(
      Effect.mapError((issue) =>
        new ConfigError({
          file: "<library>",
          key_path: "profile",
          expected: "a valid profile",
          got: ParseResult.TreeFormatter.formatIssueSync(issue.issue).split("\n")[0]!
        })
      )
    )
    const provider = yield* definition.make({ profile }).pipe(Scope.extend(scope))
    const instance = yield* provider.create({ ...ids, profile, labels: labelsFor(ids), env: options.env ?? {} })
    return { profile, provider, instance }
  })
  const opened = await runtime.runPromiseExit(setup)
  if (Exit.isFailure(opened)) {
    await release()
    throw Cause.squash(opened.cause)
  }
  const { instance, profile, provider } = opened.value
  const rt = await runtime.runtime()
  const sync = (reason: SyncReason, force = false) =>
    runtime.runPromiseExit(Effect.flatMap(WorkspaceSync, (engine) => {
      const req = {
        ...ids,
        host_root,
        instance,
        provider,
        profile,
        state_dir: stateDir,
        reason,
        ...(force ? { force } : {})
      }
      return reason === "start" ? engine.seed(req) : engine.sync(req)
    })).then((exit) => summary(settle(exit)))
  let destroyed: Promise<void> | undefined
  return {
    sandbox_id: ids.sandbox_id,
    instance: Schema.encodeSync(Instance)(instance),
    seed: () => sync("start"),
    sync: () => sync("checkpoint"),
    syncBack: (o) => sync("stop", o?.force === true),
    exec: (command, o) =>
      runtime.runPromiseExit(provider.exec(instance, request(command, o)), o?.signal ? { signal: o.signal } : {})
        .then((exit): PromiseExecResult => settle(exit)),
    execStream: (command, o): AsyncIterable<PromiseExecOutput> => {
      const stream = provider.execStream(instance, request(command, o))
      const stoppable: Stream.Stream<PromiseExecOutput, unknown> = o?.signal
        ? Stream.interruptWhen(stream, abortOf(o.signal))
        : stream
      return Stream.toAsyncIterableRuntime(stoppable, rt)
    },
    destroy: () =>
      destroyed ??= runtime.runPromiseExit(provider.destroy(instance)).then(async (exit) => {
        await release()
        settle(exit)
      })
  }
}

const abortOf = (signal: AbortSignal) =>
  Effect.async<void>((resume) => {
    if (signal.aborted) return resume(Effect.void)
    const onAbort = () => resume(Effect.void)
    signal.addEventListener("abort", onAbort, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", onAbort))
  })
