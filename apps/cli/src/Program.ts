/**
 * How a command's program runs as this process: its console (colour only for a person at a terminal), Ctrl-C and
 * SIGTERM, and its end as an exit code and one-line errors. Shared by the command tree (main.ts) and the short
 * path of `session sync ID` (SessionSyncNow.ts), which loads none of @effect/cli.
 */
import { Console, Effect, Exit } from "effect"
import { ExitCode, render } from "./Failure.js"
import * as StopSignal from "./StopSignal.js"

/** ANSI colour and style escapes, as @effect/cli writes them into help and usage errors. */
const ansi = /\x1b\[[0-9;]*m/g

/** Colour only for a person at a terminal who has not asked for none (https://no-color.org). */
const wantsColour = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

/**
 * The console commands print through: @effect/cli prints its usage errors with a trailing newline of their own
 * (an error is one line), and help and errors carry colour only where `wantsColour` says so.
 */
const plainConsole = (console: Console.Console): Console.Console => {
  const strip = (colour: boolean) => (a: unknown) => typeof a === "string" && !colour ? a.replace(ansi, "") : a
  const out = strip(wantsColour(process.stdout))
  const err = strip(wantsColour(process.stderr))
  return {
    ...console,
    log: (...args) => console.log(...args.map(out)),
    error: (...args) => console.error(...args.map(err).map((a) => (typeof a === "string" ? a.trimEnd() : a)))
  }
}

/**
 * Run a command's program to its exit code, printing its failure (one line, more with `verbose`) on stderr.
 * `signals`: Ctrl-C (or SIGTERM) interrupts it; a session's stop phase still syncs back and cleans up, and the
 * command it runs then gets the same signal: SIGINT for a Ctrl-C, SIGTERM otherwise.
 */
export const run = async (
  program: Effect.Effect<number | void, unknown>,
  options: { readonly verbose: boolean; readonly signals: boolean }
): Promise<number> => {
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    StopSignal.record(signal === "SIGINT" ? "SIGINT" : "SIGTERM")
    controller.abort()
  }
  if (options.signals) {
    process.once("SIGINT", onSignal)
    process.once("SIGTERM", onSignal)
  }
  const exit = await Effect.runPromiseExit(
    Console.consoleWith((console) => Console.withConsole(program, plainConsole(console))),
    { signal: controller.signal }
  )
  process.removeListener("SIGINT", onSignal)
  process.removeListener("SIGTERM", onSignal)
  if (Exit.isSuccess(exit)) return typeof exit.value === "number" ? exit.value : ExitCode.ok
  const rendered = render(exit.cause, { verbose: options.verbose })
  for (const line of rendered.lines) process.stderr.write(`${line}\n`)
  return rendered.code
}
