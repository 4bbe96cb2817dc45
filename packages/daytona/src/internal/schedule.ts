import * as Retry from "@org/sandbox-core/Retry"
import { ProviderError } from "@org/sandbox-core/SandboxError"
import { Duration, Effect, Schedule } from "effect"

/**
 * Destroy until gone, in one retry layer. `Conflict` is how the API says a transition (starting, stopping) is still
 * under way, so it is waited out for up to `conflictAttempts` tries; every other retryable failure (429, 5xx, a
 * dropped connection) counts against the core policy's `times`, as for any other operation. Every attempt looks
 * the sandbox up again.
 *
 * @internal
 */
export const retryDestroy = <A>(
  once: Effect.Effect<A, ProviderError>,
  options: Retry.RetryOptions = {},
  conflictAttempts = 40
): Effect.Effect<A, ProviderError> =>
  Effect.suspend(() => {
    const times = options.times ?? 6
    let failures = 0
    const base = Duration.decode(options.base ?? "250 millis")
    const cap = Duration.decode(options.cap ?? "5 seconds")
    const schedule = Schedule.exponential(base, 1.5).pipe(
      Schedule.jittered,
      Schedule.modifyDelay((_, delay) => Duration.min(delay, cap)),
      Schedule.intersect(Schedule.recurs(conflictAttempts + times)),
      (self) => Schedule.passthrough(self as Schedule.Schedule<unknown, ProviderError>),
      Schedule.modifyDelay((e, delay) =>
        e.retry_after_ms !== undefined ? Duration.min(Duration.millis(e.retry_after_ms), Duration.seconds(60)) : delay
      )
    )
    return Effect.retry(once, {
      schedule,
      while: (e) =>
        e instanceof ProviderError && (e.reason === "Conflict" || (Retry.isRetryable(e) && failures++ < times))
    })
  })
