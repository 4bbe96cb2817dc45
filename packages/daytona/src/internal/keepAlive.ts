/**
 * Keeping a sandbox from auto-stopping while work runs in it: Daytona's auto-stop counts API traffic, not
 * processes, so a long command whose output streams over one WebSocket would otherwise look idle.
 */
import type { Sandbox } from "@daytonaio/sdk"
import { Duration, Effect, type Scope } from "effect"
import type { Call } from "./client.js"

/** The refresh period when none is given: a quarter of the sandbox's auto-stop interval (Daytona's default 15). */
export const defaultEvery = (autoStopMinutes: number): Duration.Duration => Duration.millis(autoStopMinutes * 15_000)

/**
 * Refresh the sandbox's activity every `every` (default: a quarter of its auto-stop interval) for as long as the
 * scope is open, never when its auto-stop is off. The scope is the work's own (one exec, one stream), so an idle
 * sandbox still auto-stops.
 *
 * The loop is interruptible wherever it was forked from: work often runs where interruption is off (a session's
 * stop, which syncs back through an exec, and every finalizer), and a fiber forked there inherits that. Closing the
 * scope waits for the fiber's end, so an uninterruptible loop made the scope, and the command, wait forever.
 */
export const keepAlive = (
  sdk: Call,
  sb: Sandbox,
  every: Duration.DurationInput | undefined
): Effect.Effect<void, never, Scope.Scope> => {
  const minutes = typeof sb.autoStopInterval === "number" ? sb.autoStopInterval : 15
  if (minutes <= 0) return Effect.void
  const interval = every !== undefined ? Duration.decode(every) : defaultEvery(minutes)
  const refresh = Effect.ignore(sdk("keepAlive", sb.id, () => sb.refreshActivity()))
  return Effect.asVoid(
    Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.zipRight(Effect.sleep(interval), refresh))))
  )
}
