/**
 * The `[sandboxes.<name>.daytona]` table. Small and free of the SDK, so validating a config never loads it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A duration as Daytona intervals take it: whole minutes, or a string such as `"30m"`, `"2h"`, `"1d"`;
 * `0` (or `"0"`) turns the timer off.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Interval = Schema.Union(
  Schema.Int.pipe(Schema.nonNegative()),
  Schema.String.pipe(
    Schema.pattern(/^\d+\s*(s|m|h|d)?$/, { message: () => "a duration such as \"30m\", \"2h\" or \"1d\"" })
  )
).annotations({ message: () => "minutes, or a duration such as \"30m\", \"2h\" or \"1d\"" })

/**
 * Minutes for an interval (seconds round up to a minute).
 *
 * @since 0.1.0
 * @category utils
 */
export const toMinutes = (interval: typeof Interval.Type): number => {
  if (typeof interval === "number") return interval
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(interval)!
  const n = Number(match[1])
  switch (match[2]) {
    case "s":
      return Math.ceil(n / 60)
    case "h":
      return n * 60
    case "d":
      return n * 60 * 24
    default:
      return n
  }
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const DaytonaConfig = Schema.Struct({
  api_url: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http(s) URL" }))),
  target: Schema.optional(Schema.NonEmptyString),
  snapshot: Schema.optional(Schema.NonEmptyString),
  image: Schema.optional(Schema.NonEmptyString),
  auto_stop: Schema.optional(Interval),
  auto_archive: Schema.optional(Interval),
  auto_delete: Schema.optional(Schema.Int)
})
/**
 * @since 0.1.0
 * @category models
 */
export type DaytonaConfig = typeof DaytonaConfig.Type
