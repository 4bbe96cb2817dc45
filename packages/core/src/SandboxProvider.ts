/**
 * The provider contract: what sync, the reconciler and the session lifecycle use to drive any backend.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Scope, Stream } from "effect"
import { Context, Schema } from "effect"
import type { Capabilities } from "./Capabilities.js"
import type { SandboxId, SessionId } from "./Ids.js"
import type { Profile } from "./Profile.js"
import type { ProviderError } from "./SandboxError.js"
import { ProviderState, SandboxState } from "./Session.js"

/**
 * The version of this contract. A provider declares the version it implements; the registry refuses a
 * provider built for another major version.
 *
 * @since 0.1.0
 * @category constants
 */
export const CONTRACT_VERSION = 1

/**
 * Label keys carried by every sandbox we create, so the reconciler can find it even if the store never
 * recorded it.
 *
 * @since 0.1.0
 * @category constants
 */
export const Label = {
  managedBy: "managed-by",
  sandboxId: "sandbox-id",
  sessionId: "session-id",
  workspace: "workspace",
  owner: "owner",
  /** A digest of the state directory whose session created the sandbox: no other state directory touches it. */
  stateDir: "state-dir",
  /** When the sandbox was created (epoch ms), for the reconciler's grace period. */
  createdAt: "created-at",
  /**
   * Set only when the profile's `sync_mode` is `none`: the workspace's host path, for a provider whose runtime can
   * use that directory in place (the local one runs there). Any provider may read it.
   */
  workspacePath: "workspace-path"
} as const

/**
 * The value of the `managed-by` label.
 *
 * @since 0.1.0
 * @category constants
 */
export const MANAGED_BY = "sandbox-cli"

/**
 * What `create` needs. `create` is idempotent: it looks up an instance with these labels first.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateSpec {
  readonly sandbox_id: SandboxId
  readonly session_id: SessionId
  readonly workspace: string
  readonly owner: string
  readonly profile: Profile
  readonly labels: Readonly<Record<string, string>>
  readonly env: Readonly<Record<string, string>>
}

/**
 * The labels for a spec, ours first, then the spec's extras.
 *
 * @since 0.1.0
 * @category constructors
 */
export const labelsFor = (spec: Omit<CreateSpec, "labels" | "profile" | "env">): Record<string, string> => ({
  [Label.managedBy]: MANAGED_BY,
  [Label.sandboxId]: spec.sandbox_id,
  [Label.sessionId]: spec.session_id,
  [Label.workspace]: spec.workspace,
  [Label.owner]: spec.owner
})

/**
 * An instance as the provider reports it.
 *
 * @since 0.1.0
 * @category models
 */
export class Instance extends Schema.Class<Instance>("@org/sandbox-core/Instance")({
  instance_id: Schema.String,
  state: SandboxState,
  /** The backend's own word for the state, for display. */
  provider_state_name: Schema.String,
  labels: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** The working directory inside the runtime where the workspace lives. */
  workdir: Schema.String,
  provider_state: Schema.NullOr(ProviderState)
}) {}

/**
 * A command to run in the sandbox: `argv` (no shell) or `shell` (a `sh -c` script).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecRequest {
  readonly argv?: ReadonlyArray<string>
  readonly shell?: string
  /** Relative to the instance's workdir, or absolute inside the runtime. */
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  readonly timeout?: Duration.DurationInput
  readonly stdin?: Uint8Array | string
  /**
   * How to stop the command when its run is interrupted, asked at that moment: the first signal for the
   * command's processes and how long they may clean up before they are killed. Without it a provider sends
   * `SIGTERM` and waits its own default.
   */
  readonly stop?: Effect.Effect<StopRequest>
}

/**
 * How a running command is stopped: `signal` to its processes (`SIGINT` for a Ctrl-C, else `SIGTERM`), then
 * `grace` for them to clean up, then `SIGKILL`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StopRequest {
  readonly signal: "SIGTERM" | "SIGINT"
  readonly grace: Duration.Duration
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecResult {
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
export type ExecOutput =
  | { readonly _tag: "Stdout"; readonly data: Uint8Array }
  | { readonly _tag: "Stderr"; readonly data: Uint8Array }
  | { readonly _tag: "Exit"; readonly exit_code: number }

/**
 * @since 0.1.0
 * @category models
 */
export interface FileStat {
  readonly path: string
  readonly kind: "file" | "directory" | "symlink" | "other"
  readonly size: number
  readonly mode: number
  readonly mtime_ms: number
}

/**
 * Compression of a bulk-transfer archive.
 *
 * @since 0.1.0
 * @category models
 */
export type ArchiveFormat = "tar" | "tar.gz"

/**
 * @since 0.1.0
 * @category models
 */
export interface PutArchiveRequest {
  /** A tar file on the host. */
  readonly archive_path: string
  readonly format: ArchiveFormat
  /** Directory inside the runtime to extract into (relative to the workdir or absolute). */
  readonly dest: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetArchiveRequest {
  /** Directory inside the runtime the paths are relative to. */
  readonly root: string
  readonly paths: ReadonlyArray<string>
  /** Where to write the tar file on the host. */
  readonly archive_path: string
  readonly format: ArchiveFormat
}

/**
 * The operations every provider implements. Operations a provider does not declare in its capabilities
 * fail with `ProviderError` reason `Unsupported`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly name: string
  readonly contract_version: number
  readonly capabilities: Capabilities
  readonly create: (spec: CreateSpec) => Effect.Effect<Instance, ProviderError>
  /** `None`-like: fails with `NotFound` when the instance is gone. */
  readonly get: (instance_id: string) => Effect.Effect<Instance, ProviderError>
  readonly list: (
    filter: { readonly labels: Readonly<Record<string, string>> }
  ) => Stream.Stream<Instance, ProviderError>
  readonly start: (instance: Instance) => Effect.Effect<Instance, ProviderError>
  readonly stop: (instance: Instance) => Effect.Effect<Instance, ProviderError>
  readonly archive: (instance: Instance) => Effect.Effect<Instance, ProviderError>
  /** Destroy until gone; `NotFound` counts as done. */
  readonly destroy: (instance: Instance) => Effect.Effect<void, ProviderError>
  readonly exec: (instance: Instance, request: ExecRequest) => Effect.Effect<ExecResult, ProviderError>
  readonly execStream: (instance: Instance, request: ExecRequest) => Stream.Stream<ExecOutput, ProviderError>
  /**
   * Optional: like `execStream`, but stdin stays open for as long as `stdin` runs, for a process that talks
   * over stdio (an ACP agent inside the sandbox). Without it such a process runs on the host.
   */
  readonly execInteractive?: (
    instance: Instance,
    request: Omit<ExecRequest, "stdin" | "timeout"> & { readonly stdin: Stream.Stream<Uint8Array> }
  ) => Stream.Stream<ExecOutput, ProviderError>
  readonly readFile: (instance: Instance, path: string) => Effect.Effect<Uint8Array, ProviderError>
  readonly writeFile: (
    instance: Instance,
    path: string,
    data: Uint8Array,
    options?: { readonly mode?: number }
  ) => Effect.Effect<void, ProviderError>
  readonly stat: (instance: Instance, path: string) => Effect.Effect<FileStat, ProviderError>
  readonly listDir: (instance: Instance, path: string) => Effect.Effect<ReadonlyArray<FileStat>, ProviderError>
  readonly remove: (
    instance: Instance,
    path: string,
    options?: { readonly recursive?: boolean }
  ) => Effect.Effect<void, ProviderError>
  readonly mkdir: (instance: Instance, path: string) => Effect.Effect<void, ProviderError>
  readonly putArchive: (instance: Instance, request: PutArchiveRequest) => Effect.Effect<void, ProviderError>
  readonly getArchive: (instance: Instance, request: GetArchiveRequest) => Effect.Effect<void, ProviderError>
  /**
   * Optional fast path for a runtime that is a directory on this machine (the local provider): the instance's
   * workdir as a host path that the calling process may read and write directly, holding exactly what the
   * runtime's processes see there. The sync engine then scans and transfers in process instead of going
   * through `exec`, `putArchive` and `getArchive`, with the same safety rules (it never writes through a
   * symlink and never leaves the directory). Fails with `Unsupported` when this instance cannot be reached that
   * way (callers then use the archive operations) and `InvalidState` when the runtime is not on disk (archived).
   * Leave it out for a remote runtime.
   *
   * @since 0.1.0
   */
  readonly hostPath?: (instance: Instance) => Effect.Effect<string, ProviderError>
  /**
   * Optional transfer hint: the archive format the sync engine should use with `putArchive`/`getArchive`. `tar`
   * for a runtime on this machine (compressing would only burn CPU); absent: `tar.gz`, right for a remote one.
   *
   * @since 0.1.0
   */
  readonly archive_format?: ArchiveFormat
  readonly previewUrl?: (instance: Instance, port: number) => Effect.Effect<string, ProviderError>
  readonly snapshot?: (instance: Instance, name: string) => Effect.Effect<string, ProviderError>
}

/**
 * The provider a session, the sync engine and the reconciler talk to.
 *
 * @since 0.1.0
 * @category tags
 */
export class SandboxProvider extends Context.Tag("@org/sandbox-core/SandboxProvider")<SandboxProvider, Service>() {}

/**
 * How a backend builds a provider for one profile. The scope owns clients and connections.
 *
 * @since 0.1.0
 * @category models
 */
export type Make<R = never> = (options: {
  readonly profile: Profile
}) => Effect.Effect<Service, ProviderError, Scope.Scope | R>
