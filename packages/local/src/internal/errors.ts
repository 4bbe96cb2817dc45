import type { PlatformError } from "@effect/platform/Error"
import type { ProviderErrorReason } from "@org/sandbox-core/SandboxError"
import { ProviderError } from "@org/sandbox-core/SandboxError"

/** @internal */
export const PROVIDER = "local"

/** @internal */
export const providerError = (
  operation: string,
  reason: ProviderErrorReason,
  detail: string,
  instance_id?: string,
  cause?: unknown
): ProviderError => ProviderError.of({ provider: PROVIDER, operation, reason, detail, instance_id, cause })

const reasonOf = (error: PlatformError): ProviderErrorReason => {
  if (error._tag === "BadArgument") return "InvalidState"
  switch (error.reason) {
    case "NotFound":
      return "NotFound"
    case "AlreadyExists":
      return "Conflict"
    case "PermissionDenied":
    case "BadResource":
      return "InvalidState"
    case "Busy":
    case "WouldBlock":
      return "Unavailable"
    case "TimedOut":
      return "Timeout"
    default:
      return "Unknown"
  }
}

/**
 * A platform failure as a `ProviderError`; `what` names the path or command in the detail.
 *
 * @internal
 */
export const fromPlatform =
  (operation: string, instance_id: string | undefined, what: string) => (error: PlatformError) =>
    providerError(operation, reasonOf(error), `${what}: ${error.message}`, instance_id, error)

/**
 * A child process failure (spawn, stdin, output) as a `ProviderError`.
 *
 * @internal
 */
export const fromProcess =
  (operation: string, instance_id: string | undefined) => (error: { readonly message: string }) =>
    providerError(operation, "Unknown", error.message, instance_id, error)
