/**
 * The check every command that works with sessions and sandboxes runs first (main.ts says which): sessions of
 * this host whose supervisor died are finished before the command runs. Kept apart from `commands/reconcile`,
 * which it loads only when there is a session to finish: the check itself is one directory read.
 */
import { isFinal } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import * as Supervision from "@org/sandbox-core/Supervision"
import { Effect, Option } from "effect"
import * as AgentReaper from "./AgentReaper.js"
import * as SmallFileSystem from "./SmallFileSystem.js"
import * as Supervisors from "./Supervisors.js"

const configFlag = (argv: ReadonlyArray<string>): Option.Option<string> => {
  const at = argv.findIndex((a) => a === "--config" || a.startsWith("--config="))
  if (at < 0) return Option.none()
  const arg = argv[at]!
  return Option.fromNullable(arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[at + 1])
}

/**
 * Sessions of this host whose supervisor died: finish them before the command runs (sync back, then persistence,
 * as `reconcile` does). Costs one directory read when there are none; never fails the command.
 */
export const startupCheck = (argv: ReadonlyArray<string>) => {
  if (argv.includes("--help") || argv.includes("-h")) return Effect.void
  return Effect.gen(function*() {
    yield* AgentReaper.reapOrphans
    const supervision = yield* Supervision.Supervision
    const stale = yield* supervision.stale
    if (stale.length === 0) return
    // The store is opened only when there is something to check: most commands find no stale lock.
    yield* Effect.gen(function*() {
      const store = yield* Store.Store
      const cutOff: Array<string> = []
      for (const lock of stale) {
        const session = yield* store.getSession(lock.session_id).pipe(Effect.option)
        // A lock without a running session (it died before writing one, or after ending it) is just removed.
        if (Option.isNone(session) || isFinal(session.value.state)) yield* supervision.release(lock.session_id)
        else cutOff.push(lock.session_id)
      }
      if (cutOff.length === 0) return
      const Reconcile = yield* Effect.promise(() => import("./commands/reconcile.js"))
      yield* Reconcile.finishCutOff(configFlag(argv), cutOff)
    }).pipe(Effect.provide(SmallFileSystem.storeLayer))
  }).pipe(
    Effect.scoped,
    Effect.provide(Supervisors.supervisionLayer),
    Effect.catchAllCause(() => Effect.void)
  )
}
