/**
 * The one retry policy: exponential with jitter, capped, honouring `retry_after`, retrying only retryable
 * provider errors. Apply it only to idempotent operations.
 *
 * One retry layer per operation: a provider applies it to its own operations (it alone knows which of its calls
 * are idempotent), so an operation sends each request at most `1 + times` times. Callers of a provider (session
 * lifecycle, reconciler, sync) never wrap a provider operation in it again: layers would multiply the attempts.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import { ProviderError } from "./SandboxError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** First delay. */
  readonly base?: Duration.DurationInput
  /** No single delay is longer than this. */
  readonly cap?: Duration.DurationInput
  /** Attempts after the first. */
  readonly times?: number
}

/** A remote asking for more than this is not waited for in full. */
const maxRetryAfter = Duration.seconds(60)

/**
 * Failures a retry gave up on at its cap. A retry around them (an operation retrying a step that retried its own
 * request) lets them through at once, so nesting never multiplies attempts: the cap holds for the whole operation.
 */
const exhausted = new WeakSet<object>()

/**
 * Whether the policy would retry `error`: a retryable `ProviderError` that no retry has already given up on.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: unknown): boolean =>
  error instanceof ProviderError && error.retryable && !exhausted.has(error)

const isRejected = (error: unknown): boolean => isRetryable(error) && (error as ProviderError).rejected === true

/** Runs `self` under `schedule`; a failure the schedule would still have retried was stopped by the cap. */
const retrying = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  schedule: Schedule.Schedule<E, E>,
  when: (error: unknown) => boolean
): Effect.Effect<A, E, R> =>
  Effect.retry(self, schedule).pipe(
    Effect.tapError((error) =>
      Effect.sync(() => {
        if (when(error) && typeof error === "object" && error !== null) exhausted.add(error)
      })
    )
  )

/**
 * A schedule for errors of type `E`: it stops at once on an error that is not a retryable `ProviderError`,
 * waits `retry_after` when the remote gave one, and otherwise backs off exponentially with jitter.
 *
 * @since 0.1.0
 * @category schedules
 */
export const policy = <E>(options: RetryOptions = {}): Schedule.Schedule<E, E> => schedule(options, isRetryable)

const schedule = <E>(options: RetryOptions, when: (error: unknown) => boolean): Schedule.Schedule<E, E> => {
  const base = Duration.decode(options.base ?? "200 millis")
  const cap = Duration.decode(options.cap ?? "10 seconds")
  const times = options.times ?? 6
  return Schedule.exponential(base, 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap)),
    Schedule.intersect(Schedule.recurs(times)),
    (self) => Schedule.passthrough(self as Schedule.Schedule<unknown, E>),
    Schedule.whileInput((error: E) => when(error)),
    Schedule.modifyDelay((error, delay) =>
      error instanceof ProviderError && error.retry_after_ms !== undefined
        ? Duration.min(Duration.millis(error.retry_after_ms), maxRetryAfter)
        : delay
    )
  )
}

/**
 * Retry an idempotent effect with the policy.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry = (options?: RetryOptions) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  retrying(self, policy<E>(options), isRetryable)

/**
 * Retry a NON-idempotent effect (an exec, a create without a lookup) only where the remote said it refused the
 * request before acting on it (`ProviderError.rejected`): sending it again cannot do the work twice.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryRejected =
  (options?: RetryOptions) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    retrying(self, schedule<E>(options ?? {}, isRejected), isRejected)
