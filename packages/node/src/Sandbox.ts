/**
 * sandbox-cli from plain Promises: the common path of a library user who does not use Effect. Types here are plain
 * TypeScript (this module's `.d.ts` does not mention `effect`); underneath it is the same provider contract and
 * sync engine the CLI uses.
 *
 * ```ts
 * import { createSandbox } from "@org/sandbox-node"
 *
 * const sandbox = await createSandbox({ workspace: "./my-project", profile: { backend: "local" } })
 * try {
 *   await sandbox.seed()                                        // the workspace into the sandbox
 *   for await (const out of sandbox.execStream("npm test")) {   // output as it arrives, then the exit code
 *     if (out._tag === "Stdout") process.stdout.write(out.data)
 *   }
 *   await sandbox.syncBack()                                    // the sandbox's changes home
 * } finally {
 *   await sandbox.destroy()
 * }
 * ```
 *
 * @since 0.1.0
 */
import type {
  PromiseExecOutput,
  PromiseExecResult,
  PromiseInstance,
  PromiseProfile,
  PromiseProviderModule
} from "@org/sandbox-core/PromiseProvider"
import { open } from "./internal/open.js"

/**
 * A profile as a library user writes it: like a `[sandboxes.<name>]` table, every key optional. `backend`
 * defaults to `local`; `backend_config` is the backend's table (`[sandboxes.<name>.<backend>]`).
 *
 * @since 0.1.0
 * @category models
 */
export type ProfileInit = Partial<Omit<PromiseProfile, "name" | "source" | "backend_config">> & {
  readonly name?: string
  readonly backend_config?: { readonly [key: string]: unknown }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateOptions {
  /** The directory on the host the sandbox is seeded from and syncs back to. */
  readonly workspace: string
  readonly profile?: ProfileInit
  /**
   * Third-party backends by name: a Promise-form provider module (what a package under `[providers]` exports).
   * `local` is built in; `daytona` is built in when `@org/sandbox-daytona` is installed.
   */
  readonly providers?: { readonly [backend: string]: PromiseProviderModule }
  /** Where the sync engine keeps its state (ancestor manifest, staging); default: a temporary directory. */
  readonly stateDir?: string
  /** A label `workspace` value for the sandbox; default: the workspace directory's name. */
  readonly workspaceName?: string
  /** The `owner` label; default: `library@<hostname>`. */
  readonly owner?: string
  /** Extra environment for every command in the sandbox. */
  readonly env?: { readonly [key: string]: string }
}

/**
 * What a sync moved.
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncSummary {
  readonly files_to_runtime: number
  readonly bytes_to_runtime: number
  readonly files_from_runtime: number
  readonly bytes_from_runtime: number
  readonly deleted_in_runtime: number
  readonly deleted_on_host: number
  /** Both sides changed: the host file stays, the sandbox's version is kept beside it (`runtime_copy`). */
  readonly conflicts: ReadonlyArray<{
    readonly path: string
    readonly host_change: string
    readonly runtime_change: string
    readonly runtime_copy: string | null
  }>
  /** Paths refused for safety (a symlink out of the root, an absolute or `..` path from the sandbox). */
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
}

/**
 * A command: an argv array (no shell) or a shell script string (`sh -c`).
 *
 * @since 0.1.0
 * @category models
 */
export type Command = ReadonlyArray<string> | string

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecOptions {
  /** Relative to the sandbox's workdir, or absolute inside it. */
  readonly cwd?: string
  readonly env?: { readonly [key: string]: string }
  readonly timeout_ms?: number
  readonly stdin?: Uint8Array | string
  /** Abort to kill the command (for a stream: or stop iterating). */
  readonly signal?: AbortSignal
}

/**
 * A live sandbox. Call `destroy` when done (also on failure).
 *
 * @since 0.1.0
 * @category models
 */
export interface Sandbox {
  /** Our id for it (`sbx_…`), in its `sandbox-id` label. */
  readonly sandbox_id: string
  readonly instance: PromiseInstance
  /** Host → sandbox: the workspace's files (the profile's include/exclude apply). */
  seed(): Promise<SyncSummary>
  /** Both ways, three-way against the last sync: conflicts are kept, nothing is overwritten blindly. */
  sync(): Promise<SyncSummary>
  /** Sandbox → host: the sandbox's changes come home (changes made on the host meanwhile are left alone). */
  syncBack(options?: { readonly force?: boolean }): Promise<SyncSummary>
  exec(command: Command, options?: ExecOptions): Promise<PromiseExecResult>
  /** Output as it arrives, then exactly one `Exit`. Breaking out of the loop kills the command. */
  execStream(command: Command, options?: ExecOptions): AsyncIterable<PromiseExecOutput>
  /** Destroy the sandbox and release the provider. Safe to call twice. */
  destroy(): Promise<void>
}

/**
 * Create a sandbox from a profile (idempotent per `sandbox_id` the way the contract's `create` is).
 *
 * @since 0.1.0
 * @category constructors
 */
export const createSandbox = (options: CreateOptions): Promise<Sandbox> => open(options)
