/**
 * The `--grace` option of `run` and `session stop`: how long a stopped command may clean up, instead of the
 * profile's `stop_grace`, for one stop.
 */
import * as Options from "@effect/cli/Options"
import { StopGrace, stopGraceMillis } from "@org/sandbox-core/Profile"
import { UsageError } from "@org/sandbox-core/SandboxError"
import { Duration, Effect, Option, Schema } from "effect"

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
