/**
 * Progress of long work (a seed, a sync, a sync-back, a sandbox's removal or archive at the end): events reported
 * while it runs, for a terminal's progress line or for scripts (`--progress json`, one event per line). Nothing is
 * stored: the lifecycle's own events (`sandbox.sync.after`, …) stay the record.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Exit, Fiber, Option, Schedule, Schema } from "effect"

/**
 * The work being done: `seed` (host → runtime at start), `sync` (both ways, at a checkpoint), `sync_back`
 * (runtime → host at stop, after a crash, or when the reconciler finishes a session), `destroy` and `archive` (the
 * persistence applied at the end: they count nothing, and a big sandbox takes its time).
 *
 * @since 0.1.0
 * @category models
 */
export const ProgressOperation = Schema.Literal("seed", "sync", "sync_back", "destroy", "archive")
/**
 * @since 0.1.0
 * @category models
 */
export type ProgressOperation = typeof ProgressOperation.Type

/**
 * Where the work is: `scan` (both sides walked and compared), `transfer` (files copied), and how it ended: `done`,
 * or `failed` (it failed or was interrupted; what it had done so far is in the counts).
 *
 * @since 0.1.0
 * @category models
 */
export const ProgressPhase = Schema.Literal("scan", "transfer", "done", "failed")
/**
 * @since 0.1.0
 * @category models
 */
export type ProgressPhase = typeof ProgressPhase.Type

/**
 * One progress event (snake_case, stable). Totals are `null` while unknown; `bytes_per_second` is the mean rate
 * of the transfer so far.
 *
 * @since 0.1.0
 * @category models
 */
export const ProgressEvent = Schema.Struct({
  type: Schema.Literal("sandbox.sync.progress"),
  session_id: Schema.NullOr(Schema.String),
  operation: ProgressOperation,
  phase: ProgressPhase,
  entries_done: Schema.NonNegativeInt,
  entries_total: Schema.NullOr(Schema.NonNegativeInt),
  bytes_done: Schema.NonNegativeInt,
  bytes_total: Schema.NullOr(Schema.NonNegativeInt),
  bytes_per_second: Schema.NonNegative,
  elapsed_ms: Schema.NonNegative
})
/**
 * @since 0.1.0
 * @category models
 */
export type ProgressEvent = typeof ProgressEvent.Type

/**
 * Where progress goes. Optional: work with no `Progress` in its context reports nothing. `report` is called from
 * the engine's loops, so it must be cheap; the engine already limits how often it calls it.
 *
 * @since 0.1.0
 * @category services
 */
export class Progress extends Context.Tag("@org/sandbox-core/Progress")<Progress, {
  readonly report: (event: ProgressEvent) => void
}>() {}

/**
 * The longest time without an event while an operation runs, so that one that moves nothing for a while (the walk
 * of a big tree, a big sandbox's removal) never looks frozen.
 *
 * @since 0.2.0
 * @category constants
 */
export const BEAT_MS = 500

/**
 * Reports an operation that counts nothing (`destroy`, `archive`): `transfer` at its start and again every
 * {@link BEAT_MS} while it runs, `done` or `failed` at its end. Without a `Progress` in the context, just `self`.
 *
 * @since 0.2.0
 * @category reporting
 */
export const around = <A, E, R>(
  operation: ProgressOperation,
  session_id: string | null,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(Progress), (progress) => {
    if (Option.isNone(progress)) return self
    const started = Date.now()
    const report = (phase: ProgressPhase) => {
      try {
        progress.value.report({
          type: "sandbox.sync.progress",
          session_id,
          operation,
          phase,
          entries_done: 0,
          entries_total: null,
          bytes_done: 0,
          bytes_total: null,
          bytes_per_second: 0,
          elapsed_ms: Date.now() - started
        })
      } catch {
        // progress is never worth failing the work for
      }
    }
    report("transfer")
    // on the real clock, and interruptible where `self` is not (the end of a session)
    const beat = Effect.sync(() => report("transfer")).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(BEAT_MS))),
      Effect.delay(Duration.millis(BEAT_MS)),
      Effect.withClock(Clock.make()),
      Effect.interruptible
    )
    return Effect.flatMap(Effect.fork(beat), (beating) =>
      self.pipe(
        Effect.ensuring(Fiber.interrupt(beating)),
        Effect.onExit((exit) => Effect.sync(() => report(Exit.isSuccess(exit) ? "done" : "failed")))
      ))
  })
