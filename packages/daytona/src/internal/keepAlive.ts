/**
 * Keeping a sandbox from auto-stopping while work runs in it: Daytona's auto-stop counts API traffic, not
 * processes, so a long command whose output streams over one WebSocket would otherwise look idle.
 */
import type { Sandbox } from "@daytonaio/sdk"
import { Duration, Effect, type Scope } from "effect"
import type { Call } from "./client.js"

/**
 * Refresh the sandbox's activity every `every` for as long as the scope is open. Off unless `every` is given;
 * never when the sandbox's auto-stop is off.
 */
export const keepAlive = (
  sdk: Call,
  sb: Sandbox,
  every: Duration.DurationInput | undefined
): Effect.Effect<void, never, Scope.Scope> => {
  const minutes = typeof sb.autoStopInterval === "number" ? sb.autoStopInterval : 15
  // Opt-in for now: the CLI hung at the end of a run with the default keep-alive on (not yet understood).
  const interval = every !== undefined && minutes > 0 ? Duration.decode(every) : undefined
  if (interval === undefined) return Effect.void
  const refresh = Effect.ignore(sdk("keepAlive", sb.id, () => sb.refreshActivity()))
  return Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(interval), refresh))))
}
