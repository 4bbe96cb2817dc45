/**
 * Write a provider with Promises instead of Effect. `fromPromiseProvider` adapts it to the contract, maps
 * thrown errors into `ProviderError` and enforces the declared capabilities.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Stream } from "effect"
import { Schema } from "effect"
import * as Capabilities from "./Capabilities.js"
import type { ProviderErrorReason } from "./SandboxError.js"
import { ProviderError, ProviderErrorReason as ReasonSchema } from "./SandboxError.js"
import type {
  CreateSpec,
  ExecOutput,
  ExecRequest,
  ExecResult,
  FileStat,
  GetArchiveRequest,
  PutArchiveRequest,
  Service
} from "./SandboxProvider.js"
import { Instance } from "./SandboxProvider.js"

/**
 * An instance as a Promise-form provider returns it (plain JSON).
 *
 * @since 0.1.0
 * @category models
 */
export type PromiseInstance = typeof Instance.Encoded

/**
 * An exec request in Promise form: the same fields as the contract's, with the timeout as plain milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export type PromiseExecRequest = Omit<ExecRequest, "timeout"> & {
  /** Kill the command (its whole process group) after this many milliseconds; absent: no timeout. */
  readonly timeout_ms?: number | undefined
}

const toPromiseExec = ({ timeout, ...rest }: ExecRequest): PromiseExecRequest => {
  if (timeout === undefined) return rest
  const duration = Duration.decode(timeout)
  return Duration.isFinite(duration) ? { ...rest, timeout_ms: Duration.toMillis(duration) } : rest
}

/**
 * The contract in Promise form. Throw `PromiseProviderError` (or any error with a `reason` from the
 * taxonomy) to report a classified failure; anything else becomes `Unknown`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseProvider {
  readonly name: string
  readonly contract_version: number
  readonly capabilities: Partial<typeof Capabilities.Capabilities.Type>
  create(spec: CreateSpec): Promise<PromiseInstance>
  get(instance_id: string): Promise<PromiseInstance>
  list(
    filter: { readonly labels: Readonly<Record<string, string>> }
  ): AsyncIterable<PromiseInstance> | Promise<ReadonlyArray<PromiseInstance>>
  start(instance: PromiseInstance): Promise<PromiseInstance>
  stop(instance: PromiseInstance): Promise<PromiseInstance>
  archive?(instance: PromiseInstance): Promise<PromiseInstance>
  destroy(instance: PromiseInstance): Promise<void>
  exec(instance: PromiseInstance, request: PromiseExecRequest): Promise<ExecResult>
  execStream?(instance: PromiseInstance, request: PromiseExecRequest): AsyncIterable<ExecOutput>
  readFile(instance: PromiseInstance, path: string): Promise<Uint8Array>
  writeFile(
    instance: PromiseInstance,
    path: string,
    data: Uint8Array,
    options?: { readonly mode?: number }
  ): Promise<void>
  stat(instance: PromiseInstance, path: string): Promise<FileStat>
  listDir(instance: PromiseInstance, path: string): Promise<ReadonlyArray<FileStat>>
  remove(instance: PromiseInstance, path: string, options?: { readonly recursive?: boolean }): Promise<void>
  mkdir(instance: PromiseInstance, path: string): Promise<void>
  putArchive?(instance: PromiseInstance, request: PutArchiveRequest): Promise<void>
  getArchive?(instance: PromiseInstance, request: GetArchiveRequest): Promise<void>
  previewUrl?(instance: PromiseInstance, port: number): Promise<string>
  /**
   * Only for a runtime that is a directory on this machine: its workdir as a host path the caller may read and
   * write directly (see `SandboxProvider.Service.hostPath`); the sync engine then skips exec and archives.
   */
  hostPath?(instance: PromiseInstance): Promise<string>
  snapshot?(instance: PromiseInstance, name: string): Promise<string>
  /** Called once when the CLI or library is done with the provider. */
  close?(): Promise<void>
}

/**
 * A classified failure thrown by a Promise-form provider.
 *
 * @since 0.1.0
 * @category errors
 */
export class PromiseProviderError extends Error {
  constructor(
    readonly reason: ProviderErrorReason,
    message: string,
    readonly retry_after_ms?: number
  ) {
    super(message)
    this.name = "PromiseProviderError"
  }
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

/**
 * Adapt a Promise-form provider to the Effect contract.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPromiseProvider = (provider: PromiseProvider): Service => {
  const name = provider.name
  const capabilities = Capabilities.make(provider.capabilities)
  const call = <A>(operation: string, f: () => Promise<A>, instance_id?: string) =>
    Effect.tryPromise({ try: f, catch: toProviderError(name, operation, instance_id) }).pipe(
      Effect.withSpan(`${name}.${operation}`)
    )
  const callInstance = (operation: string, f: () => Promise<PromiseInstance>, instance_id?: string) =>
    call(operation, f, instance_id).pipe(
      Effect.flatMap((raw) =>
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
      )
    )
  const unsupported = (operation: string) =>
    Effect.fail(
      ProviderError.of({ provider: name, operation, reason: "Unsupported", detail: "not supported by this provider" })
    )
  const enc = (i: Instance): PromiseInstance => Schema.encodeSync(Instance)(i)
  return {
    name,
    contract_version: provider.contract_version,
    capabilities,
    create: (spec) => callInstance("create", () => provider.create(spec)),
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
          Effect.flatMap((items) => Effect.forEach(items, (raw) => callInstance("list", () => Promise.resolve(raw)))),
          Effect.map(Stream.fromIterable)
        )
      ),
    start: (i) => callInstance("start", () => provider.start(enc(i)), i.instance_id),
    stop: (i) => callInstance("stop", () => provider.stop(enc(i)), i.instance_id),
    archive: (i) =>
      provider.archive && capabilities.archive
        ? callInstance("archive", () => provider.archive!(enc(i)), i.instance_id)
        : unsupported("archive"),
    destroy: (i) => call("destroy", () => provider.destroy(enc(i)), i.instance_id),
    exec: (i, req) => call("exec", () => provider.exec(enc(i), toPromiseExec(req)), i.instance_id),
    execStream: (i, req) =>
      provider.execStream && capabilities.exec_stream
        ? Stream.fromAsyncIterable(
          provider.execStream(enc(i), toPromiseExec(req)),
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
        ? call("putArchive", () => provider.putArchive!(enc(i), req), i.instance_id)
        : unsupported("putArchive"),
    getArchive: (i, req) =>
      provider.getArchive && capabilities.archive_transfer
        ? call("getArchive", () => provider.getArchive!(enc(i), req), i.instance_id)
        : unsupported("getArchive"),
    ...(provider.previewUrl
      ? {
        previewUrl: (i: Instance, port: number) =>
          call("previewUrl", () => provider.previewUrl!(enc(i), port), i.instance_id)
      }
      : {}),
    ...(provider.hostPath
      ? { hostPath: (i: Instance) => call("hostPath", () => provider.hostPath!(enc(i)), i.instance_id) }
      : {}),
    ...(provider.snapshot
      ? { snapshot: (i: Instance, n: string) => call("snapshot", () => provider.snapshot!(enc(i), n), i.instance_id) }
      : {})
  }
}
