/**
 * Progress of long work (a seed, a sync, a sync-back): events the sync engine reports while it works, for a
 * terminal's progress line or for scripts (`--progress json`, one event per line). Nothing is stored: the
 * lifecycle's own events (`sandbox.sync.after`, …) stay the record.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"

/**
 * The work being done: `seed` (host → runtime at start), `sync` (both ways, at a checkpoint), `sync_back`
 * (runtime → host at stop, after a crash, or when the reconciler finishes a session).
 *
 * @since 0.1.0
 * @category models
 */
export const ProgressOperation = Schema.Literal("seed", "sync", "sync_back")
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
