/**
 * How a failed command ends: one line a person can act on, and an exit code.
 *
 *   0 ok · 1 failed · 2 usage or config error · 130 interrupted · 70 internal bug
 */
import { Cause, Data, Option } from "effect"

/** A command ran and its outcome is a failure (not a usage error, not a bug). */
export class CommandFailed
  extends Data.TaggedError("CommandFailed")<{ readonly message: string; readonly exitCode?: number }>
{}

/** End with this exit code and print nothing more (the command's own output already said it all). */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

export const ExitCode = { ok: 0, failed: 1, usage: 2, internal: 70, interrupted: 130 } as const

interface Rendered {
  readonly code: number
  /** What to print on stderr, one line each (none when @effect/cli already printed its own usage error). */
  readonly lines: ReadonlyArray<string>
}

/**
 * An @effect/cli usage error (it printed its own message), told by the symbol @effect/cli marks them with rather
 * than through its module, which would load the whole of @effect/cli into commands that parse nothing with it
 * (`session sync ID`). test/failure.test.ts holds this to @effect/cli's own `isValidationError`.
 */
export const isValidationError = (u: unknown): boolean =>
  typeof u === "object" && u !== null && Symbol.for("@effect/cli/ValidationError") in u

const tagged = (u: unknown): u is { readonly _tag: string; readonly message: string } =>
  typeof u === "object" && u !== null && "_tag" in u && typeof (u as { _tag: unknown })._tag === "string"

/** An error is one line: a message that spans lines (an SDK's, a process's output) is folded onto one. */
export const oneLine = (text: string): string =>
  text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "").join(" | ")

/** `--verbose`: the error's own fields and its underlying cause, each folded onto one line. */
const details = (error: { readonly _tag: string }): ReadonlyArray<string> => {
  const { cause, ...fields } = error as { cause?: unknown } & Record<string, unknown>
  const shown = Object.fromEntries(Object.entries(fields).filter(([k]) => k !== "also" && k !== "message"))
  const lines = [`  details: ${JSON.stringify(shown)}`]
  if (cause !== undefined) {
    lines.push(`  cause: ${oneLine(String(cause instanceof Error ? cause.stack ?? cause : JSON.stringify(cause)))}`)
  }
  return lines
}

const codeOf = (tag: string, error: unknown): number => {
  switch (tag) {
    case "ConfigError":
    case "UsageError":
      return ExitCode.usage
    case "CommandFailed":
      return (error as CommandFailed).exitCode ?? ExitCode.failed
  }
  return ExitCode.failed
}

/** Map a failure cause to its exit code and lines; `verbose` adds each error's fields and cause. */
export const render = (cause: Cause.Cause<unknown>, options?: { readonly verbose?: boolean }): Rendered => {
  if (Cause.isInterruptedOnly(cause)) return { code: ExitCode.interrupted, lines: ["interrupted"] }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (isValidationError(error)) return { code: ExitCode.usage, lines: [] }
    if (error instanceof ExitWith) return { code: error.code, lines: [] }
    if (tagged(error)) {
      const prefix = error._tag === "ConfigError" ? "config error" : "error"
      // A config with several problems reports each of them, one line each.
      const also = (error as { also?: ReadonlyArray<string> }).also ?? []
      const lines = [error.message, ...also].map((m) => `${prefix}: ${oneLine(m)}`)
      return {
        code: codeOf(error._tag, error),
        lines: options?.verbose === true ? [...lines, ...details(error)] : lines
      }
    }
  }
  const pretty = Cause.pretty(cause)
  const first = `internal error (please report it): ${pretty.split("\n")[0]}`
  return {
    code: ExitCode.internal,
    lines: options?.verbose === true ? [first, ...pretty.split("\n").slice(1)] : [first]
  }
}
