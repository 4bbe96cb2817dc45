/**
 * The one error taxonomy shared by every package and provider.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Why a provider operation failed, independent of the backend.
 *
 * @since 0.1.0
 * @category models
 */
export const ProviderErrorReason = Schema.Literal(
  "NotFound",
  "Unauthorized",
  "RateLimited",
  "Timeout",
  "Unavailable",
  "InvalidState",
  "QuotaExceeded",
  "Conflict",
  "Unsupported",
  "Unknown"
)
/**
 * @since 0.1.0
 * @category models
 */
export type ProviderErrorReason = typeof ProviderErrorReason.Type

const retryableReasons: ReadonlySet<ProviderErrorReason> = new Set(["RateLimited", "Timeout", "Unavailable"])

/**
 * Whether a reason is worth retrying by default.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryableReason = (reason: ProviderErrorReason): boolean => retryableReasons.has(reason)

/**
 * A provider operation failed. SDK exceptions never escape a provider; they become this.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProviderError extends Schema.TaggedError<ProviderError>("@org/sandbox-core/ProviderError")(
  "ProviderError",
  {
    provider: Schema.String,
    operation: Schema.String,
    reason: ProviderErrorReason,
    retryable: Schema.Boolean,
    /** Milliseconds the remote asked us to wait, for `RateLimited`. */
    retry_after_ms: Schema.optional(Schema.Number),
    /**
     * The remote refused the request before acting on it (a 429, or a 503 from its front door), so even a
     * non-idempotent operation may be sent again.
     */
    rejected: Schema.optional(Schema.Boolean),
    instance_id: Schema.optional(Schema.String),
    detail: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  static of(options: {
    readonly provider: string
    readonly operation: string
    readonly reason: ProviderErrorReason
    readonly detail: string
    readonly retryable?: boolean
    readonly retry_after_ms?: number | undefined
    readonly rejected?: boolean | undefined
    readonly instance_id?: string | undefined
    readonly cause?: unknown
  }): ProviderError {
    return new ProviderError({
      provider: options.provider,
      operation: options.operation,
      reason: options.reason,
      detail: options.detail,
      retryable: options.retryable ?? isRetryableReason(options.reason),
      ...(options.retry_after_ms !== undefined ? { retry_after_ms: options.retry_after_ms } : {}),
      ...(options.rejected === true ? { rejected: true } : {}),
      ...(options.instance_id !== undefined ? { instance_id: options.instance_id } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {})
    })
  }

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const target = this.instance_id ? ` on ${this.instance_id}` : ""
    return `${this.provider}: ${this.operation}${target} failed (${this.reason}): ${this.detail}`
  }
}

/**
 * A configuration file (or the merged configuration) is invalid.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Schema.TaggedError<ConfigError>("@org/sandbox-core/ConfigError")("ConfigError", {
  /** The file at fault, or `<built-in>` / `<command line>`. */
  file: Schema.String,
  /** Dotted key path inside the file, empty for the whole file. */
  key_path: Schema.String,
  expected: Schema.String,
  got: Schema.String,
  line: Schema.optional(Schema.Number),
  hint: Schema.optional(Schema.String),
  /** Further problems found in the same configuration, each as its own one-line message. */
  also: Schema.optional(Schema.Array(Schema.String))
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const where = `${this.file}${this.line !== undefined ? `:${this.line}` : ""}`
    const key = this.key_path === "" ? "" : ` key ${this.key_path}:`
    const hint = this.hint ? ` (${this.hint})` : ""
    return `${where}:${key} expected ${this.expected}, got ${this.got}${hint}`
  }
}

/**
 * The store could not read or write a record.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>("@org/sandbox-core/StoreError")("StoreError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.Literal("NotFound", "AlreadyExists", "Corrupt", "Locked", "Io"),
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `store: ${this.operation} ${this.path}: ${this.detail}`
  }
}

/**
 * A sync could not proceed (a refused path, a halted deletion, an unreachable side).
 *
 * @since 0.1.0
 * @category errors
 */
export class SyncError extends Schema.TaggedError<SyncError>("@org/sandbox-core/SyncError")("SyncError", {
  direction: Schema.Literal("to_runtime", "from_runtime"),
  reason: Schema.Literal("Refused", "MassDeletion", "Unreachable", "Io", "Changed"),
  path: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `sync ${this.direction}${this.path !== undefined ? ` ${this.path}` : ""}: ${this.detail}`
  }
}

/**
 * Both sides changed the same paths since the ancestor; the host copy was kept.
 *
 * @since 0.1.0
 * @category errors
 */
export class SyncConflict extends Schema.TaggedError<SyncConflict>("@org/sandbox-core/SyncConflict")(
  "SyncConflict",
  { paths: Schema.Array(Schema.String) }
) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `sync conflict on ${this.paths.length} path(s): ${this.paths.slice(0, 5).join(", ")}`
  }
}

/**
 * A command in the sandbox could not be run (not: ran and exited non-zero).
 *
 * @since 0.1.0
 * @category errors
 */
export class ExecError extends Schema.TaggedError<ExecError>("@org/sandbox-core/ExecError")("ExecError", {
  command: Schema.String,
  reason: Schema.Literal("NotFound", "Timeout", "Spawn", "Failed"),
  exit_code: Schema.optional(Schema.Number),
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.command}: ${this.detail}`
  }
}

/**
 * A user-facing refusal that is not a bug: unknown profile, unknown workspace, a duplicate name.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>("@org/sandbox-core/UsageError")("UsageError", {
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.detail
  }
}

/**
 * Every error that crosses a package boundary.
 *
 * @since 0.1.0
 * @category models
 */
export type SandboxError = ProviderError | ConfigError | StoreError | SyncError | SyncConflict | ExecError | UsageError
