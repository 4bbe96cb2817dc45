import * as Retry from "@org/sandbox-core/Retry"
import { ProviderError } from "@org/sandbox-core/SandboxError"
import { Duration, Schedule } from "effect"

/**
 * Destroy until gone: the core policy, stretched, and also retrying `Conflict`, which is how the API says a
 * transition (starting, stopping, destroying) is still under way; every attempt looks the sandbox up again.
 *
 * @internal
 */
export const destroySchedule = (options: Retry.RetryOptions = {}): Schedule.Schedule<unknown, ProviderError> => {
  const base = Duration.decode(options.base ?? "250 millis")
  const cap = Duration.decode(options.cap ?? "5 seconds")
  return Schedule.exponential(base, 1.5).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap)),
    Schedule.intersect(Schedule.recurs(Math.max(options.times ?? 6, 40))),
    (self) => Schedule.passthrough(self as Schedule.Schedule<unknown, ProviderError>),
    Schedule.whileInput((e: ProviderError) => e instanceof ProviderError && (e.retryable || e.reason === "Conflict")),
    Schedule.modifyDelay((e, delay) =>
      e.retry_after_ms !== undefined ? Duration.min(Duration.millis(e.retry_after_ms), Duration.seconds(60)) : delay
    )
  )
}
