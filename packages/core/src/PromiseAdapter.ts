/**
 * Adapts a Promise-form provider (`PromiseProvider`, plain TypeScript) to the Effect contract: maps thrown
 * errors into `ProviderError`, enforces the declared capabilities, validates what the provider returns, and turns
 * interruption into an aborted `AbortSignal` (a stream the consumer stops early included).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schema, Stream } from "effect"
import * as Capabilities from "./Capabilities.js"
import { Profile } from "./Profile.js"
import type {
  CallOptions,
  PromiseCreateSpec,
  PromiseErrorReason,
  PromiseExecOutput,
  PromiseExecRequest,
  PromiseExecResult,
  PromiseFileStat,
  PromiseInstance,
  PromiseProfile,
  PromiseProvider
} from "./PromiseProvider.js"
import type { ProviderErrorReason } from "./SandboxError.js"
import { ProviderError, ProviderErrorReason as ReasonSchema } from "./SandboxError.js"
import type { CreateSpec, ExecOutput, ExecRequest, ExecResult, FileStat, Service } from "./SandboxProvider.js"
import { Instance } from "./SandboxProvider.js"

// The plain interfaces and the schemas describe the same JSON: these fail to compile when they drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _reasons: Same<PromiseErrorReason, ProviderErrorReason> = true
const _instance: Same<PromiseInstance["state"], Instance["state"]> = true
const _instanceIn = (i: typeof Instance.Encoded): PromiseInstance => i
const _instanceOut = (i: PromiseInstance): typeof Instance.Encoded => ({ ...i, labels: { ...i.labels } })
const _profile = (p: typeof Profile.Encoded): PromiseProfile => p
const _output = (o: PromiseExecOutput): ExecOutput => o
const _result = (r: PromiseExecResult): ExecResult => r
const _stat = (s: PromiseFileStat): FileStat => s
void [_reasons, _instance, _instanceIn, _instanceOut, _profile, _output, _result, _stat]

const toPromiseExec = ({ timeout, ...rest }: ExecRequest, signal: AbortSignal): PromiseExecRequest => {
  if (timeout === undefined) return { ...rest, signal }
  const duration = Duration.decode(timeout)
  return Duration.isFinite(duration)
    ? { ...rest, timeout_ms: Duration.toMillis(duration), signal }
    : { ...rest, signal }
}

const isReason = Schema.is(ReasonSchema)

const toProviderError = (provider: string, operation: string, instance_id?: string) => (cause: unknown) => {
  const candidate = cause as { reason?: unknown; message?: unknown; retry_after_ms?: unknown } | null
  const reason = candidate && isReason(candidate.reason) ? candidate.reason : "Unknown"
  const detail = candidate && typeof candidate.message === "string" ? candidate.message : String(cause)
  const retryAfter = candidate && typeof candidate.retry_after_ms === "number" ? candidate.retry_after_ms : undefined
  return ProviderError.of({ provider, operation, reason, detail, retry_after_ms: retryAfter, instance_id, cause })
}

const decodeInstance = Schema.decodeUnknown(Instance)
const encodeInstance = Schema.encodeSync(Instance)
const encodeProfile = (p: Profile): PromiseProfile => Schema.encodeSync(Profile)(p)

/** How long a stopped stream waits for the provider's generator to finish after its signal aborted. */
const STREAM_CLOSE_GRACE = Duration.seconds(5)

/**
 * The spec in Promise form: plain JSON, the profile with its backend table as the backend decoded it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toPromiseSpec = (spec: CreateSpec, profile?: PromiseProfile): PromiseCreateSpec => ({
  sandbox_id: spec.sandbox_id,
  session_id: spec.session_id,
  workspace: spec.workspace,
  owner: spec.owner,
  labels: spec.labels,
  env: spec.env,
  profile: profile ?? encodeProfile(spec.profile)
})

/**
 * A stream over a provider's async iterable. When the consumer stops early (or is interrupted) the signal aborts
 * first, so a provider blocked waiting for output can kill its command; the iterator is then closed, waiting a
 * bounded time for a generator that ignores the signal.
 */
const streamFrom = <A>(
  open: (signal: AbortSignal) => AsyncIterable<A>,
  onError: (cause: unknown) => ProviderError
): Stream.Stream<A, ProviderError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const controller = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (c) => Effect.sync(() => c.abort())
    )
    const iterator = yield* Effect.acquireRelease(
      Effect.try({ try: () => open(controller.signal)[Symbol.asyncIterator](), catch: onError }),
      (it, exit) =>
        Effect.sync(() => controller.abort()).pipe(
          Effect.zipRight(
            exit._tag === "Success" ? Effect.void : Effect.promise(async () => {
              await it.return?.()
            }).pipe(Effect.timeoutOption(STREAM_CLOSE_GRACE), Effect.ignore)
          )
        )
    )
    let done = false
    return Stream.repeatEffectOption(
      Effect.suspend(() =>
        done ? Effect.fail(Option.none()) : Effect.tryPromise({
          try: () => iterator.next(),
          catch: (cause) => Option.some(onError(cause))
        }).pipe(
          Effect.flatMap((r) => {
            if (r.done) {
              done = true
              return Effect.fail(Option.none())
            }
            return Effect.succeed(r.value)
          })
        )
      )
    )
  }))

/**
 * Adapt a Promise-form provider to the Effect contract. `profile`, when given, is what `create` hands the
 * provider as `spec.profile` (the registry passes the profile as the backend decoded it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPromiseProvider = (provider: PromiseProvider, profile?: PromiseProfile): Service => {
  const name = provider.name
  const capabilities = Capabilities.make(provider.capabilities)
  const call = <A>(operation: string, f: (signal: AbortSignal) => Promise<A>, instance_id?: string) =>
    Effect.tryPromise({ try: f, catch: toProviderError(name, operation, instance_id) }).pipe(
      Effect.withSpan(`${name}.${operation}`)
    )
  const validInstance = (operation: string) => (raw: unknown) =>
    decodeInstance(raw).pipe(
      Effect.mapError((e) =>
        ProviderError.of({
          provider: name,
          operation,
          reason: "Unknown",
          detail: `returned an invalid instance: ${e.message}`
        })
      )
    )
  const callInstance = (
    operation: string,
    f: (signal: AbortSignal) => Promise<PromiseInstance>,
    instance_id?: string
  ) => call(operation, f, instance_id).pipe(Effect.flatMap(validInstance(operation)))
  const unsupported = (operation: string) =>
    Effect.fail(
      ProviderError.of({ provider: name, operation, reason: "Unsupported", detail: "not supported by this provider" })
    )
  const enc = (i: Instance): PromiseInstance => encodeInstance(i)
  const opts = (signal: AbortSignal): CallOptions => ({ signal })
  return {
    name,
    contract_version: provider.contract_version,
    capabilities,
    create: (spec) => callInstance("create", (signal) => provider.create(toPromiseSpec(spec, profile), opts(signal))),
    get: (id) => callInstance("get", () => provider.get(id), id),
    list: (filter) =>
      Stream.unwrap(
        call("list", async () => {
          const result = provider.list(filter)
          if (Symbol.asyncIterator in result) {
            const all: Array<PromiseInstance> = []
            for await (const item of result) all.push(item)
            return all
          }
          return await result
        }).pipe(
          Effect.flatMap((items) => Effect.forEach(items, validInstance("list"))),
          Effect.map(Stream.fromIterable)
        )
      ),
    start: (i) => callInstance("start", (signal) => provider.start(enc(i), opts(signal)), i.instance_id),
    stop: (i) => callInstance("stop", (signal) => provider.stop(enc(i), opts(signal)), i.instance_id),
    archive: (i) =>
      provider.archive && capabilities.archive
        ? callInstance("archive", (signal) => provider.archive!(enc(i), opts(signal)), i.instance_id)
        : unsupported("archive"),
    destroy: (i) => call("destroy", (signal) => provider.destroy(enc(i), opts(signal)), i.instance_id),
    exec: (i, req) => call("exec", (signal) => provider.exec(enc(i), toPromiseExec(req, signal)), i.instance_id),
    execStream: (i, req) =>
      provider.execStream && capabilities.exec_stream
        ? streamFrom(
          (signal) => provider.execStream!(enc(i), toPromiseExec(req, signal)),
          toProviderError(name, "execStream", i.instance_id)
        )
        : Stream.fromEffect(unsupported("execStream")),
    readFile: (i, path) => call("readFile", () => provider.readFile(enc(i), path), i.instance_id),
    writeFile: (i, path, data, options) =>
      call("writeFile", () => provider.writeFile(enc(i), path, data, options), i.instance_id),
    stat: (i, path) => call("stat", () => provider.stat(enc(i), path), i.instance_id),
    listDir: (i, path) => call("listDir", () => provider.listDir(enc(i), path), i.instance_id),
    remove: (i, path, options) => call("remove", () => provider.remove(enc(i), path, options), i.instance_id),
    mkdir: (i, path) => call("mkdir", () => provider.mkdir(enc(i), path), i.instance_id),
    putArchive: (i, req) =>
      provider.putArchive && capabilities.archive_transfer
        ? call("putArchive", (signal) => provider.putArchive!(enc(i), req, opts(signal)), i.instance_id)
        : unsupported("putArchive"),
    getArchive: (i, req) =>
      provider.getArchive && capabilities.archive_transfer
        ? call("getArchive", (signal) => provider.getArchive!(enc(i), req, opts(signal)), i.instance_id)
        : unsupported("getArchive"),
    ...(provider.previewUrl
      ? {
        previewUrl: (i: Instance, port: number) =>
          call("previewUrl", () => provider.previewUrl!(enc(i), port), i.instance_id)
      }
      : {}),
    ...(provider.archive_format !== undefined ? { archive_format: provider.archive_format } : {}),
    ...(provider.hostPath
      ? { hostPath: (i: Instance) => call("hostPath", () => provider.hostPath!(enc(i)), i.instance_id) }
      : {}),
    ...(provider.snapshot
      ? {
        snapshot: (i: Instance, n: string) =>
          call("snapshot", (signal) => provider.snapshot!(enc(i), n, opts(signal)), i.instance_id)
      }
      : {})
  }
}
