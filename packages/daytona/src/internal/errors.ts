import type { ProviderErrorReason } from "@org/sandbox-core/SandboxError"
import { ProviderError } from "@org/sandbox-core/SandboxError"

/** @internal */
export const PROVIDER = "daytona"

/** @internal */
export const providerError = (
  operation: string,
  reason: ProviderErrorReason,
  detail: string,
  instance_id?: string,
  cause?: unknown,
  extra: {
    readonly retryable?: boolean
    readonly retry_after_ms?: number | undefined
    readonly rejected?: boolean | undefined
  } = {}
): ProviderError => ProviderError.of({ provider: PROVIDER, operation, reason, detail, instance_id, cause, ...extra })

/** What the SDK's errors carry, read structurally: the SDK is loaded lazily, so its classes are not at hand. */
interface SdkErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly statusCode?: unknown
  readonly code?: unknown
  readonly headers?: unknown
}

const headerOf = (headers: unknown, name: string): string | undefined => {
  if (typeof headers !== "object" || headers === null) return undefined
  // Axios headers are an AxiosHeaders instance (with `get`) or a plain object with lower-case keys.
  const get = (headers as { get?: unknown }).get
  const value = typeof get === "function"
    ? (get as (this: unknown, key: string) => unknown).call(headers, name)
    : (headers as Record<string, unknown>)[name.toLowerCase()] ?? (headers as Record<string, unknown>)[name]
  if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined
  return value === undefined || value === null ? undefined : String(value)
}

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (relative to `now`).
 *
 * @internal
 */
export const retryAfterMs = (headers: unknown, now: number = Date.now()): number | undefined => {
  const raw = headerOf(headers, "retry-after")?.trim()
  if (raw === undefined || raw === "") return undefined
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000)
  const at = Date.parse(raw)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

const quota = /quota|limit exceeded|exceeds? (the )?(maximum|limit)|insufficient (resources|credits|balance)/i

/**
 * The reason for an HTTP status the API or the toolbox answered with.
 *
 * @internal
 */
export const reasonForStatus = (status: number, message: string): ProviderErrorReason => {
  if ((status === 400 || status === 403) && quota.test(message)) return "QuotaExceeded"
  switch (status) {
    case 400:
    case 422:
      return "InvalidState"
    case 401:
    case 403:
      return "Unauthorized"
    case 404:
    case 410:
      return "NotFound"
    case 408:
    case 504:
      return "Timeout"
    case 409:
      return "Conflict"
    case 429:
      return "RateLimited"
    default:
      return status >= 500 ? "Unavailable" : "Unknown"
  }
}

/** Errors raised by the SDK itself, without a reply: by class name, since every SDK error sets `name`. */
const reasonForName = (name: string, message: string): ProviderErrorReason => {
  switch (name) {
    case "DaytonaConnectionTimeoutError":
    case "DaytonaTimeoutError":
    case "DaytonaProcessExecutionTimeoutError":
      return "Timeout"
    case "DaytonaConnectionError":
      return "Unavailable"
    case "DaytonaAuthenticationError":
    case "DaytonaAuthorizationError":
    case "DaytonaForbiddenError":
      return "Unauthorized"
    case "DaytonaNotFoundError":
    case "DaytonaFileNotFoundError":
      return "NotFound"
    case "DaytonaInvalidArgumentError":
    case "DaytonaValidationError":
      return "InvalidState"
    default:
      // A wait that saw the sandbox fail ("failed to start with status: error") has no status code.
      return /with status: (error|build_failed)/.test(message) ? "InvalidState" : "Unknown"
  }
}

/** Node's network error codes that mean the API could not be reached. */
const unreachable = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE"
])

/**
 * Any failure of an SDK call as a `ProviderError`: by HTTP status when there was a reply, else by the SDK's
 * error class, else `Unknown`. Never throws, whatever it is given.
 *
 * @internal
 */
export const fromSdk = (operation: string, instance_id?: string) => (cause: unknown): ProviderError => {
  if (cause instanceof ProviderError) return cause
  const e = (typeof cause === "object" && cause !== null ? cause : {}) as SdkErrorLike
  const message = typeof e.message === "string" && e.message !== "" ? e.message : String(cause)
  const name = typeof e.name === "string" ? e.name : ""
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined
  const code = typeof e.code === "string" ? e.code : undefined
  const reason: ProviderErrorReason = status !== undefined
    ? reasonForStatus(status, message)
    : code !== undefined && unreachable.has(code)
    ? "Unavailable"
    : reasonForName(name, message)
  const base = status !== undefined ? `${message} (HTTP ${status})` : message
  const detail = reason === "Unauthorized" ? `${base}: the API refused the key; check DAYTONA_API_KEY` : base
  return providerError(operation, reason, detail, instance_id, cause, {
    retry_after_ms: reason === "RateLimited" || reason === "Unavailable" ? retryAfterMs(e.headers) : undefined,
    // 429 and 503 come from the API's front door before the request is acted on: safe to send again.
    rejected: status === 429 || status === 503
  })
}
