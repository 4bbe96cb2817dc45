/**
 * The engine's side of progress reporting (core's `Progress`): one tracker per cycle, handed to the transfers
 * through the context. It counts what is done and reports at most every {@link EVERY_MS} (and at every change of
 * phase), so a loop may call it per chunk without flooding a terminal or a pipe; and at least every
 * {@link BEAT_MS} while the cycle runs, so that a phase that counts nothing (a walk of a big tree, the writes after
 * the last file) never looks frozen to a script reading the events.
 *
 * @internal
 */
import { type ProgressEvent, type ProgressOperation, type ProgressPhase } from "@org/sandbox-core/Progress"
import { BEAT_MS as CORE_BEAT_MS, Progress } from "@org/sandbox-core/Progress"
import { Clock, Context, Duration, Effect, Exit, Fiber, Option, Schedule } from "effect"

/** The shortest time between two reports of the same phase. */
export const EVERY_MS = 100

/** The longest time without a report while a cycle runs (core's, for every operation). */
export const BEAT_MS = CORE_BEAT_MS

/** Counts the work of one cycle and reports it. */
export class Tracker {
  private phaseNow: ProgressPhase = "scan"
  private entries = 0
  private bytes = 0
  private entriesTotal: number | null = null
  private bytesTotal: number | null = null
  private last = 0
  private transferStarted = 0
  private readonly started = Date.now()

  constructor(
    private readonly report: (event: ProgressEvent) => void,
    private readonly operation: ProgressOperation,
    private readonly sessionId: string | null
  ) {}

  /** Enters a phase (its counters start from zero; totals when known) and reports it at once. */
  phase(phase: ProgressPhase, totals?: { readonly entries?: number; readonly bytes?: number }): void {
    if (phase !== this.phaseNow) {
      this.phaseNow = phase
      this.entries = 0
      this.bytes = 0
      this.transferStarted = Date.now()
    }
    this.entriesTotal = totals?.entries ?? null
    this.bytesTotal = totals?.bytes ?? null
    this.emit()
  }

  /** Counts entries and bytes done in the current phase; reports when the last report is old enough. */
  add(entries: number, bytes: number): void {
    this.entries += entries
    this.bytes += bytes
    if (Date.now() - this.last >= EVERY_MS) this.emit()
  }

  /** Reports the current state again when nothing was reported for {@link BEAT_MS}. */
  beat(): void {
    if (!this.ended() && Date.now() - this.last >= BEAT_MS) this.emit()
  }

  /** The cycle failed or was interrupted: the counts stay what was done. */
  failed(): void {
    if (this.ended()) return
    this.phaseNow = "failed"
    this.emit()
  }

  private ended(): boolean {
    return this.phaseNow === "done" || this.phaseNow === "failed"
  }

  /** The end of the cycle: what it moved in all. */
  done(entries: number, bytes: number): void {
    this.phaseNow = "done"
    this.entries = entries
    this.bytes = bytes
    this.entriesTotal = entries
    this.bytesTotal = bytes
    this.emit()
  }

  private emit(): void {
    const now = Date.now()
    this.last = now
    const transferMs = this.transferStarted === 0 ? 0 : now - this.transferStarted
    try {
      this.report({
        type: "sandbox.sync.progress",
        session_id: this.sessionId,
        operation: this.operation,
        phase: this.phaseNow,
        entries_done: this.entries,
        entries_total: this.entriesTotal,
        bytes_done: this.bytes,
        bytes_total: this.bytesTotal,
        bytes_per_second: transferMs > 0 ? Math.round((this.bytes * 1000) / transferMs) : 0,
        elapsed_ms: now - this.started
      })
    } catch {
      // progress is never worth failing the work for
    }
  }
}

/** The current cycle's tracker, when progress is wanted. */
export class Current extends Context.Tag("@org/sandbox-sync/internal/progress/Current")<Current, Tracker>() {}

/** The tracker of the calling cycle, if any. */
export const current: Effect.Effect<Option.Option<Tracker>> = Effect.serviceOption(Current)

/** Enters a phase of the calling cycle (when it is tracked). */
export const enter = (
  phase: ProgressPhase,
  totals?: { readonly entries?: number; readonly bytes?: number }
): Effect.Effect<void> => Effect.map(current, Option.map((t) => t.phase(phase, totals)))

/**
 * Runs one cycle with a tracker in its context when the caller's context has a `Progress`: reports the scan at
 * the start and the totals moved at the end.
 */
export const track = <A, E, R>(
  operation: ProgressOperation,
  sessionId: string | null,
  cycle: Effect.Effect<A, E, R>,
  moved: (result: A) => { readonly entries: number; readonly bytes: number }
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(Progress), (progress) => {
    if (Option.isNone(progress)) return cycle
    const tracker = new Tracker(progress.value.report, operation, sessionId)
    tracker.phase("scan")
    // on the real clock: progress is for a person or a script watching the work, as it happens; interruptible
    // even where the cycle is not (a stop's sync-back), or ending the cycle would wait for it forever
    const beat = Effect.sync(() => tracker.beat()).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(BEAT_MS / 5))),
      Effect.withClock(Clock.make()),
      Effect.interruptible
    )
    return Effect.flatMap(Effect.fork(beat), (beating) =>
      cycle.pipe(
        Effect.tap((result) => {
          const m = moved(result)
          tracker.done(m.entries, m.bytes)
        }),
        Effect.provideService(Current, tracker),
        Effect.onExit((exit) => Effect.sync(() => Exit.isSuccess(exit) ? undefined : tracker.failed())),
        Effect.ensuring(Fiber.interrupt(beating))
      ))
  })
