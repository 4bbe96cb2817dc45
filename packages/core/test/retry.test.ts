import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Fiber, Ref, TestClock } from "effect"
import * as Retry from "../src/Retry.js"
import { ProviderError, type ProviderErrorReason } from "../src/SandboxError.js"

const failure = (reason: ProviderErrorReason, retry_after_ms?: number) =>
  ProviderError.of({ provider: "fake", operation: "get", reason, detail: "simulated", retry_after_ms })

/** An operation that fails with `errors` in turn, then succeeds; counts its attempts. */
const flaky = (errors: ReadonlyArray<ProviderError>) =>
  Effect.map(Ref.make(0), (attempts) => ({
    attempts,
    run: Ref.updateAndGet(attempts, (n) => n + 1).pipe(
      Effect.flatMap((n) => n <= errors.length ? Effect.fail(errors[n - 1]!) : Effect.succeed(`ok after ${n}`))
    )
  }))

describe("Retry.policy", () => {
  it.effect("retries a retryable error and succeeds on the third attempt", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("Unavailable"), failure("Timeout")])
      const fiber = yield* Effect.fork(op.run.pipe(Retry.retry({ base: "100 millis", cap: "1 second" })))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok after 3")
      expect(yield* Ref.get(op.attempts)).toBe(3)
    }))

  it.effect("waits between attempts (no attempt without the clock moving)", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("Unavailable")])
      const fiber = yield* Effect.fork(op.run.pipe(Retry.retry({ base: "1 second" })))
      yield* TestClock.adjust("100 millis")
      expect(yield* Ref.get(op.attempts)).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok after 2")
    }))

  it.effect("does not retry a non-retryable error", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("NotFound"), failure("NotFound")])
      const fiber = yield* Effect.fork(Effect.either(op.run.pipe(Retry.retry())))
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left.reason).toBe("NotFound")
      expect(yield* Ref.get(op.attempts)).toBe(1)
    }))

  it.effect("does not retry an error that is not a ProviderError", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Effect.fork(
        Ref.update(attempts, (n) => n + 1).pipe(
          Effect.zipRight(Effect.fail("boom" as const)),
          Retry.retry(),
          Effect.flip
        )
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("boom")
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("a retryable reason marked retryable: false is not retried", () =>
    Effect.gen(function*() {
      const op = yield* flaky([
        ProviderError.of({ provider: "fake", operation: "create", reason: "Timeout", detail: "x", retryable: false })
      ])
      const fiber = yield* Effect.fork(Effect.either(op.run.pipe(Retry.retry())))
      yield* TestClock.adjust("1 minute")
      expect(Either.isLeft(yield* Fiber.join(fiber))).toBe(true)
      expect(yield* Ref.get(op.attempts)).toBe(1)
    }))

  it.effect("RateLimited waits retry_after_ms before the next attempt", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("RateLimited", 5000)])
      // base far below retry_after: only retry_after can explain a 5 s wait
      const fiber = yield* Effect.fork(op.run.pipe(Retry.retry({ base: "10 millis", cap: "100 millis" })))
      yield* TestClock.adjust("4999 millis")
      expect(yield* Ref.get(op.attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("ok after 2")
      expect(yield* Ref.get(op.attempts)).toBe(2)
    }))

  it.effect("retry_after_ms is honoured on every attempt, also above the cap", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("RateLimited", 20_000), failure("RateLimited", 20_000)])
      const fiber = yield* Effect.fork(op.run.pipe(Retry.retry({ cap: "1 second" })))
      yield* TestClock.adjust("19 seconds")
      expect(yield* Ref.get(op.attempts)).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(op.attempts)).toBe(2)
      yield* TestClock.adjust("19 seconds")
      expect(yield* Ref.get(op.attempts)).toBe(2)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("ok after 3")
    }))

  it.effect("total attempts are capped by times", () =>
    Effect.gen(function*() {
      const op = yield* flaky(Array.from({ length: 10 }, () => failure("Unavailable")))
      const fiber = yield* Effect.fork(Effect.either(op.run.pipe(Retry.retry({ times: 3, base: "100 millis" }))))
      yield* TestClock.adjust("10 minutes")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left.reason).toBe("Unavailable")
      expect(yield* Ref.get(op.attempts)).toBe(4)
    }))

  it.effect("the default policy gives up after 6 retries", () =>
    Effect.gen(function*() {
      const op = yield* flaky(Array.from({ length: 10 }, () => failure("Timeout")))
      const fiber = yield* Effect.fork(Effect.either(op.run.pipe(Retry.retry())))
      yield* TestClock.adjust("10 minutes")
      expect(Either.isLeft(yield* Fiber.join(fiber))).toBe(true)
      expect(yield* Ref.get(op.attempts)).toBe(7)
    }))

  it.effect("a retry_after beyond 60 s is waited for 60 s only", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("RateLimited", 600_000)])
      const fiber = yield* Effect.fork(op.run.pipe(Retry.retry()))
      yield* TestClock.adjust("59 seconds")
      expect(yield* Ref.get(op.attempts)).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("ok after 2")
    }))

  it.effect("no single delay exceeds the cap", () =>
    Effect.gen(function*() {
      const times = yield* Ref.make<ReadonlyArray<number>>([])
      const attempt = Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Ref.updateAndGet(times, (all) => [...all, now])),
        Effect.flatMap((all) => all.length < 5 ? Effect.fail(failure("Unavailable")) : Effect.void)
      )
      // base 1 s doubling: uncapped, the 4th delay would be at least 6.4 s even with jitter
      const fiber = yield* Effect.fork(attempt.pipe(Retry.retry({ base: "1 second", cap: "2 seconds", times: 10 })))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      const at = yield* Ref.get(times)
      // jittered delays are fractional milliseconds; round away float noise
      const gaps = at.slice(1).map((t, i) => Math.round(t - at[i]!))
      expect(gaps).toHaveLength(4)
      expect(gaps.every((gap) => gap > 0 && gap <= 2000)).toBe(true)
      expect(gaps[3]).toBe(2000)
    }))
})

describe("Retry.retryRejected", () => {
  const rejected = (reason: ProviderErrorReason) =>
    ProviderError.of({ provider: "fake", operation: "exec", reason, detail: "refused", rejected: true })

  it.effect("sends a non-idempotent call again only when the remote refused it before acting", () =>
    Effect.gen(function*() {
      const op = yield* flaky([rejected("RateLimited"), rejected("Unavailable")])
      const fiber = yield* Effect.fork(op.run.pipe(Retry.retryRejected({ base: "10 millis" })))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok after 3")
    }))

  it.effect("never repeats a call that may have run (a plain 5xx, a timeout)", () =>
    Effect.gen(function*() {
      const op = yield* flaky([failure("Unavailable"), failure("Timeout")])
      const fiber = yield* Effect.fork(Effect.either(op.run.pipe(Retry.retryRejected())))
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left.reason).toBe("Unavailable")
      expect(yield* Ref.get(op.attempts)).toBe(1)
    }))
})

describe("one retry layer per operation", () => {
  it.effect("a retry around a retried step does not multiply its attempts: the cap holds for the operation", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const step = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(failure("RateLimited", 0))))
      const nested = step.pipe(Retry.retry({ times: 6 }), Retry.retry({ times: 6 }), Retry.retry({ times: 6 }))
      const fiber = yield* Effect.fork(Effect.either(nested))
      yield* TestClock.adjust("1 hour")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left.reason).toBe("RateLimited")
      expect(yield* Ref.get(attempts)).toBe(7)
      expect(Either.isLeft(result) && Retry.isRetryable(result.left)).toBe(false)
    }))
})
