/**
 * Stopping: the `--grace` option of `run` and `session stop` (how long a stopped command may clean up, instead of
 * the profile's `stop_grace`, for one stop), and what `session stop` says once the session has ended.
 */
import * as Options from "@effect/cli/Options"
import { StopGrace, stopGraceMillis } from "@org/sandbox-core/Profile"
import { UsageError } from "@org/sandbox-core/SandboxError"
import type { Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import { Duration, Effect, Option, Schema } from "effect"
import { ExitWith } from "./Failure.js"
import * as Render from "./Render.js"

export const graceOption = Options.text("grace").pipe(
  Options.withPseudoName("DURATION"),
  Options.optional,
  Options.withDescription(
    "How long the command may clean up after its signal before it is killed (\"30s\", \"500ms\", \"2m\"; " +
      "default: the profile's stop_grace, 10s)"
  )
)

/** The `--grace` value as a duration, or one clear usage line. */
export const parseGrace = (value: Option.Option<string>): Effect.Effect<Option.Option<Duration.Duration>, UsageError> =>
  Option.match(value, {
    onNone: () => Effect.succeedNone,
    onSome: (text) =>
      Schema.decodeUnknown(StopGrace)(text).pipe(
        Effect.map((ok) => Option.some(Duration.millis(stopGraceMillis({ stop_grace: ok })))),
        Effect.mapError(() =>
          new UsageError({
            detail: `--grace ${JSON.stringify(text)}: expected a duration such as "10s", "500ms" or "1m"`
          })
        )
      )
  })

/**
 * What a stop left to say, as `run` says it: what did not come home (one line per kind) and what its sync-back
 * transferred with a loss of form on stderr, and exit 1 unless the session ended `stopped`. (Conflicts are in the
 * status it prints: a sync before it may have said them already.)
 */
export const reportEnd = (final: Session) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const { items } = yield* store.readEvents(final.id)
    const complete = [...items].reverse().find((e) => e.type === "sandbox.stop.complete")
    const left = complete?.attrs["left_behind"]
    if (Array.isArray(left)) { for (const line of left) if (typeof line === "string") yield* Render.warn(line) }
    // what the stop's sync-back transferred with a loss of form
    const back = [...items].reverse().find((e) => e.type === "sandbox.sync.after" && e.attrs["reason"] === "stop")
    const notices = back?.attrs["notices"]
    if (Array.isArray(notices)) {
      for (const n of notices) {
        if (typeof n === "string") yield* Effect.sync(() => process.stderr.write(`notice: ${n}\n`))
      }
    }
    if (final.state === "stopped") return
    if (final.reason) process.stderr.write(`error: ${final.reason}\n`)
    return yield* new ExitWith({ code: 1 })
  })
