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

/** Every header of a reply as lower-case name → value: Axios headers, a plain object or a fetch `Headers`. */
const headerEntries = (headers: unknown): ReadonlyArray<readonly [string, string]> => {
  if (typeof headers !== "object" || headers === null) return []
  const out: Array<readonly [string, string]> = []
  const add = (k: string, v: unknown) => {
    const value = Array.isArray(v) ? v[0] : v
    if (value !== undefined && value !== null && typeof value !== "function") out.push([k.toLowerCase(), String(value)])
  }
  const forEach = (headers as { forEach?: unknown }).forEach
  if (typeof forEach === "function" && !(headers as { toJSON?: unknown }).toJSON) {
    ;(forEach as (this: unknown, f: (v: unknown, k: string) => void) => void).call(headers, (v, k) => add(k, v))
    return out
  }
  // AxiosHeaders keeps each header as an own property, as a plain object does.
  const get = (headers as { get?: unknown }).get
  for (const [k, v] of Object.entries(headers)) add(k, v)
  if (out.length === 0 && typeof get === "function") {
    const one = (get as (this: unknown, key: string) => unknown).call(headers, "retry-after")
    add("retry-after", one)
  }
  return out
}

/** One wait value: delta-seconds or an HTTP date (relative to `now`), in milliseconds. */
const waitOf = (raw: string, now: number): number | undefined => {
  const value = raw.trim()
  if (value === "") return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * How long the API asked us to wait, in milliseconds: `Retry-After` and the per-limiter variants Daytona's
 * throttler sends (`Retry-After-<limiter>`, e.g. `Retry-After-sandbox-create`), each as delta-seconds or an HTTP
 * date; `X-RateLimit-Reset[-<limiter>]` (seconds) when no `Retry-After` form came. The longest wait wins: every
 * limiter that refused must have reset before the request can pass.
 *
 * @internal
 */
export const retryAfterMs = (headers: unknown, now: number = Date.now()): number | undefined => {
  const entries = headerEntries(headers)
  const pick = (family: RegExp) =>
    entries.filter(([k]) => family.test(k)).map(([, v]) => waitOf(v, now)).filter((n): n is number => n !== undefined)
  const retryAfter = pick(/^retry-after(-.+)?$/)
  const waits = retryAfter.length > 0 ? retryAfter : pick(/^x-ratelimit-reset(-.+)?$/)
  return waits.length > 0 ? Math.max(...waits) : undefined
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

/** The SDK error classes by which a failure without a reply is told apart, most specific first. */
const CLASS_REASONS = [
  ["DaytonaProcessExecutionTimeoutError", "Timeout"],
  ["DaytonaConnectionTimeoutError", "Timeout"],
  ["DaytonaConnectionError", "Unavailable"],
  ["DaytonaTimeoutError", "Timeout"],
  ["DaytonaAuthenticationError", "Unauthorized"],
  ["DaytonaAuthorizationError", "Unauthorized"],
  ["DaytonaForbiddenError", "Unauthorized"],
  ["DaytonaFileNotFoundError", "NotFound"],
  ["DaytonaNotFoundError", "NotFound"],
  ["DaytonaInvalidArgumentError", "InvalidState"],
  ["DaytonaValidationError", "InvalidState"]
] as const

/**
 * The SDK module's error classes, when at hand. A bundler that minifies renames classes, and with them the `name`
 * each SDK error takes from its class, so `instanceof` against the loaded module is the reliable test.
 *
 * @internal
 */
export type SdkClasses = Partial<Record<typeof CLASS_REASONS[number][0], unknown>>

const reasonForClass = (cause: unknown, classes: SdkClasses | undefined): ProviderErrorReason | undefined => {
  for (const [name, reason] of CLASS_REASONS) {
    const cls = classes?.[name]
    if (typeof cls === "function" && cause instanceof cls) return reason
  }
  return undefined
}

/** Errors raised by the SDK itself, without a reply, by the class name the SDK gives them. */
const reasonForName = (name: string): ProviderErrorReason | undefined => CLASS_REASONS.find(([n]) => n === name)?.[1]

/** Transport failures by their text, whatever class carries them: a reset, refused or broken connection. */
const transport =
  /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|network error|other side closed|fetch failed/i

const reasonForMessage = (message: string): ProviderErrorReason =>
  // A wait that saw the sandbox fail ("failed to start with status: error") has no status code.
  /with status: (error|build_failed)/.test(message)
    ? "InvalidState"
    : transport.test(message)
    ? "Unavailable"
    : "Unknown"

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
export const fromSdk =
  (operation: string, instance_id?: string, classes?: SdkClasses) => (cause: unknown): ProviderError => {
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
      : reasonForClass(cause, classes) ?? reasonForName(name) ?? reasonForMessage(message)
    const base = status !== undefined ? `${message} (HTTP ${status})` : message
    const detail = reason === "Unauthorized" ? `${base}: the API refused the key; check DAYTONA_API_KEY` : base
    return providerError(operation, reason, detail, instance_id, cause, {
      retry_after_ms: reason === "RateLimited" || reason === "Unavailable" ? retryAfterMs(e.headers) : undefined,
      // 429 and 503 come from the API's front door before the request is acted on, and a refused connection never
      // carried it: safe to send again whatever the call.
      rejected: status === 429 || status === 503 || (status === undefined && /ECONNREFUSED/.test(message))
    })
  }
