/**
 * The provider contract in Promise form, as plain TypeScript: what a provider author implements without Effect.
 * Nothing here imports `effect` (a test packs the package and checks this module's `.d.ts` closure), so a
 * provider package needs `@org/sandbox-core` for types only. `fromPromiseProvider` (in `PromiseAdapter`) adapts
 * an implementation to the Effect contract; the CLI does that for every Promise-form package under `[providers]`.
 *
 * Cancellation: every call that may take long (lifecycle operations, exec, transfers) gets an `AbortSignal`. It
 * aborts when the caller gives up (Ctrl-C, `session stop`, a timeout); the provider should stop the work (kill the
 * command, abort the request) and may then throw. An `execStream` whose consumer stops early also sees its signal
 * abort: kill the command there, because an async generator cannot be closed while it waits for output.
 *
 * @since 0.1.0
 */

/**
 * The version of the contract a provider implements (the registry refuses others).
 *
 * @since 0.1.0
 * @category models
 */
export type ContractVersion = 1

/**
 * Why an operation failed; throw an error with one of these as `reason` (see `PromiseProviderError`).
 *
 * @since 0.1.0
 * @category models
 */
export type PromiseErrorReason =
  | "NotFound"
  | "Unauthorized"
  | "RateLimited"
  | "Timeout"
  | "Unavailable"
  | "InvalidState"
  | "QuotaExceeded"
  | "Conflict"
  | "Unsupported"
  | "Unknown"

/**
 * Our state of a sandbox.
 *
 * @since 0.1.0
 * @category models
 */
export type PromiseSandboxState = "pending" | "provisioning" | "running" | "stopped" | "archived" | "failed" | "gone"

/**
 * What a provider can do; flags left out are off.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseCapabilities {
  readonly exec?: boolean
  readonly exec_stream?: boolean
  readonly fs?: boolean
  readonly archive_transfer?: boolean
  readonly reuse?: boolean
  readonly archive?: boolean
  readonly snapshots?: boolean
  readonly preview_urls?: boolean
  readonly ssh?: boolean
  readonly pause_resume?: boolean
  readonly labels?: boolean
  readonly gpu?: boolean
  readonly idle_model?: "inactivity" | "absolute" | "none"
}

/**
 * A sandbox as the provider reports it (plain JSON).
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseInstance {
  readonly instance_id: string
  readonly state: PromiseSandboxState
  /** The backend's own word for the state, for display. */
  readonly provider_state_name: string
  readonly labels: { readonly [key: string]: string }
  /** The working directory inside the runtime where the workspace lives. */
  readonly workdir: string
  /** Opaque to everyone but the provider; versioned so the provider can migrate it. */
  readonly provider_state: { readonly version: number; readonly data: { readonly [key: string]: unknown } } | null
}

/**
 * A resolved profile (plain JSON): `backend_config` is the `[sandboxes.<profile>.<backend>]` table as the backend's
 * schema decodes it (defaults and transforms applied). The module's `provider` factory and every `create` see the
 * same value.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseProfile {
  readonly name: string
  readonly backend: string
  readonly sync_mode: "none" | "seed" | "session-bidirectional" | "live"
  readonly persistence: "transient" | "archive" | "reuse"
  readonly runtime_root?: string | undefined
  readonly include: ReadonlyArray<string>
  readonly exclude: ReadonlyArray<string>
  readonly seed: "tree" | "git"
  readonly setup: ReadonlyArray<string | ReadonlyArray<string>>
  readonly env: { readonly [key: string]: string }
  readonly resources: {
    readonly cpu?: number | undefined
    readonly memory_gib?: number | undefined
    readonly disk_gib?: number | undefined
    readonly gpu?: number | undefined
  }
  readonly permissions?: string | undefined
  readonly agent_location?: string | undefined
  readonly backend_config: { readonly [key: string]: unknown }
  /** A config file path, or `<built-in>`. */
  readonly source: string
}

/**
 * What `create` gets. `create` is idempotent: look up a sandbox carrying all of `labels` first.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseCreateSpec {
  readonly sandbox_id: string
  readonly session_id: string
  readonly workspace: string
  readonly owner: string
  readonly profile: PromiseProfile
  /** Ours (`managed-by`, `sandbox-id`, `session-id`, `workspace`, `owner`) and any the caller adds. */
  readonly labels: { readonly [key: string]: string }
  readonly env: { readonly [key: string]: string }
}

/**
 * Options of a call that may take long.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Aborts when the caller gives up: stop the work. */
  readonly signal: AbortSignal
}

/**
 * A command: `argv` (no shell) or `shell` (a `sh -c` script).
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseExecRequest {
  readonly argv?: ReadonlyArray<string>
  readonly shell?: string
  /** Relative to the instance's workdir, or absolute inside the runtime. Absent: the workdir. */
  readonly cwd?: string
  readonly env?: { readonly [key: string]: string }
  /** Kill the command (its whole process group) after this many milliseconds; absent: no timeout. */
  readonly timeout_ms?: number | undefined
  readonly stdin?: Uint8Array | string
  /** Aborts when the caller stops waiting (or stops reading a stream): kill the command. */
  readonly signal: AbortSignal
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PromiseExecResult {
  readonly exit_code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * One piece of a streamed command: output as it arrives, then exactly one `Exit`.
 *
 * @since 0.1.0
 * @category models
 */
export type PromiseExecOutput =
  | { readonly _tag: "Stdout"; readonly data: Uint8Array }
  | { readonly _tag: "Stderr"; readonly data: Uint8Array }
  | { readonly _tag: "Exit"; readonly exit_code: number }

/**
 * @since 0.1.0
 * @category models
 */
export interface PromiseFileStat {
  readonly path: string
  readonly kind: "file" | "directory" | "symlink" | "other"
  readonly size: number
  readonly mode: number
  readonly mtime_ms: number
}

/**
 * A tar on the host to extract into the sandbox.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromisePutArchiveRequest {
  readonly archive_path: string
  readonly format: "tar" | "tar.gz"
  /** Relative to the workdir or absolute. */
  readonly dest: string
}

/**
 * Paths in the sandbox to pack into a tar on the host.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseGetArchiveRequest {
  readonly root: string
  readonly paths: ReadonlyArray<string>
  readonly archive_path: string
  readonly format: "tar" | "tar.gz"
}

/**
 * The contract in Promise form. Throw `PromiseProviderError` (or any error with a `reason` from
 * `PromiseErrorReason`) to report a classified failure; anything else becomes `Unknown`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseProvider {
  readonly name: string
  readonly contract_version: ContractVersion
  readonly capabilities: PromiseCapabilities
  create(spec: PromiseCreateSpec, options: CallOptions): Promise<PromiseInstance>
  get(instance_id: string): Promise<PromiseInstance>
  list(
    filter: { readonly labels: { readonly [key: string]: string } }
  ): AsyncIterable<PromiseInstance> | Promise<ReadonlyArray<PromiseInstance>>
  start(instance: PromiseInstance, options: CallOptions): Promise<PromiseInstance>
  stop(instance: PromiseInstance, options: CallOptions): Promise<PromiseInstance>
  archive?(instance: PromiseInstance, options: CallOptions): Promise<PromiseInstance>
  destroy(instance: PromiseInstance, options: CallOptions): Promise<void>
  exec(instance: PromiseInstance, request: PromiseExecRequest): Promise<PromiseExecResult>
  execStream?(instance: PromiseInstance, request: PromiseExecRequest): AsyncIterable<PromiseExecOutput>
  readFile(instance: PromiseInstance, path: string): Promise<Uint8Array>
  writeFile(
    instance: PromiseInstance,
    path: string,
    data: Uint8Array,
    options?: { readonly mode?: number }
  ): Promise<void>
  stat(instance: PromiseInstance, path: string): Promise<PromiseFileStat>
  listDir(instance: PromiseInstance, path: string): Promise<ReadonlyArray<PromiseFileStat>>
  remove(instance: PromiseInstance, path: string, options?: { readonly recursive?: boolean }): Promise<void>
  mkdir(instance: PromiseInstance, path: string): Promise<void>
  putArchive?(instance: PromiseInstance, request: PromisePutArchiveRequest, options: CallOptions): Promise<void>
  getArchive?(instance: PromiseInstance, request: PromiseGetArchiveRequest, options: CallOptions): Promise<void>
  previewUrl?(instance: PromiseInstance, port: number): Promise<string>
  /**
   * Only for a runtime that is a directory on this machine: its workdir as a host path the caller may read and
   * write directly; the sync engine then skips exec and archives.
   */
  hostPath?(instance: PromiseInstance): Promise<string>
  /** Transfer hint: `"tar"` for a runtime on this machine (no compression); absent: `"tar.gz"`. */
  readonly archive_format?: "tar" | "tar.gz"
  snapshot?(instance: PromiseInstance, name: string, options: CallOptions): Promise<string>
  /** Called once when the CLI or library is done with the provider. */
  close?(): Promise<void>
}

/**
 * A Standard Schema (v1: what zod, valibot and arktype implement), as far as the registry uses it. `validate` may
 * be async.
 *
 * @since 0.1.0
 * @category models
 */
export interface StandardSchemaV1Like {
  readonly "~standard": {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => StandardResultLike | Promise<StandardResultLike>
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export type StandardResultLike =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<{
      readonly message: string
      readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
    }>
  }

/**
 * What a third-party package exports in Promise form (named exports, or this object as its default export).
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseProviderModule {
  /** The name profiles use: `backend = "<backend>"`. */
  readonly backend: string
  readonly contract_version: ContractVersion
  /** A Standard Schema (zod, valibot, arktype, or hand-written) for the backend table; absent: any table. */
  readonly configSchema?: StandardSchemaV1Like | undefined
  /**
   * Keys of the backend table that may also be written on the profile table (`[sandboxes.<p>] key = …` as well as
   * `[sandboxes.<p>.<backend>] key = …`): validated by `configSchema` with the rest of the table and handed over in
   * `profile.backend_config`. A profile of another backend that sets one is a config error.
   */
  readonly profileKeys?: ReadonlyArray<string> | undefined
  readonly provider: (options: { readonly profile: PromiseProfile }) => Promise<PromiseProvider>
}

/**
 * A classified failure thrown by a Promise-form provider.
 *
 * @since 0.1.0
 * @category errors
 */
export class PromiseProviderError extends Error {
  constructor(
    readonly reason: PromiseErrorReason,
    message: string,
    readonly retry_after_ms?: number
  ) {
    super(message)
    this.name = "PromiseProviderError"
  }
}
