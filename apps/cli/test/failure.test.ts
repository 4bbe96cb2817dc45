/**
 * How a failure ends the CLI: the usage errors @effect/cli prints itself are told apart without loading
 * @effect/cli (see Failure.isValidationError).
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import { describe, expect, it } from "@effect/vitest"
import { Cause } from "effect"
import { CommandFailed, ExitCode, isValidationError, render } from "../src/Failure.js"

describe("Failure", () => {
  it("tells @effect/cli's usage errors as @effect/cli does", () => {
    const errors = [
      ValidationError.missingValue(HelpDoc.p("Missing argument <ID>")),
      ValidationError.invalidValue(HelpDoc.p("bad")),
      ValidationError.commandMismatch(HelpDoc.p("no such command"))
    ]
    for (const error of errors) {
      expect(ValidationError.isValidationError(error)).toBe(true)
      expect(isValidationError(error)).toBe(true)
      expect(render(Cause.fail(error))).toEqual({ code: ExitCode.usage, lines: [] })
    }
    for (const other of [new CommandFailed({ message: "x" }), { _tag: "X" }, null, "text"]) {
      expect(isValidationError(other)).toBe(ValidationError.isValidationError(other))
    }
    expect(render(Cause.fail(new CommandFailed({ message: "sync failed: x" })))).toEqual({
      code: ExitCode.failed,
      lines: ["error: sync failed: x"]
    })
  })
})
