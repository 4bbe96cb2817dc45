/**
 * The command tree and how it runs: layers, one-line errors, exit codes.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect, Exit } from "effect"
import * as doctor from "./commands/doctor.js"
import * as profile from "./commands/profile.js"
import * as reconcile from "./commands/reconcile.js"
import * as run from "./commands/run.js"
import * as sandbox from "./commands/sandbox.js"
import * as session from "./commands/session.js"
import * as workspace from "./commands/workspace.js"
import { progressIn } from "./CommonOptions.js"
import { ExitCode, render } from "./Failure.js"
import * as Progress from "./Progress.js"
import * as Supervisor from "./Supervisor.js"

declare const __VERSION__: string
export const version = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev"

const root = Command.make("sandbox-cli").pipe(
  Command.withDescription("Run durable agent work inside sandboxes"),
  Command.withSubcommands([
    run.command,
    session.command,
    sandbox.command,
    workspace.command,
    profile.command,
    doctor.command,
    ...reconcile.commands
  ])
)

const cli = Command.run(root, { name: "sandbox-cli", version })

/** @effect/cli prints its usage errors with a trailing newline of their own; an error is one line. */
const oneLineErrors = (console: Console.Console): Console.Console => ({
  ...console,
  error: (...args) => console.error(...args.map((a) => (typeof a === "string" ? a.trimEnd() : a)))
})

/** Run the CLI with argv (as `process.argv`) and resolve with the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const verbose = argv.includes("--verbose")
  // The supervisor is a hidden subcommand: it is started by `session new`, never by a person.
  const supervising = argv[2] === "__supervise"
  const command: Effect.Effect<number | void, unknown, NodeContext.NodeContext> = supervising
    ? Supervisor.supervise(argv[3] ?? "")
    : Effect.zipRight(reconcile.startupCheck(argv), Effect.suspend(() => cli(argv)))
  const program = command.pipe(
    // a supervisor has no terminal: its progress is nobody's
    Effect.provide(Progress.layer(supervising ? "none" : progressIn(argv))),
    Effect.provide(NodeContext.layer),
    (self) => Console.consoleWith((console) => Console.withConsole(self, oneLineErrors(console)))
  )
  // Ctrl-C (or SIGTERM) interrupts the command; the session's stop phase still syncs back and cleans up.
  const controller = new AbortController()
  const onSignal = () => controller.abort()
  if (!supervising) {
    process.once("SIGINT", onSignal)
    process.once("SIGTERM", onSignal)
  }
  const exit = await Effect.runPromiseExit(program, { signal: controller.signal })
  process.removeListener("SIGINT", onSignal)
  process.removeListener("SIGTERM", onSignal)
  if (Exit.isSuccess(exit)) return typeof exit.value === "number" ? exit.value : ExitCode.ok
  const rendered = render(exit.cause)
  if (rendered.line !== undefined) process.stderr.write(`${rendered.line}\n`)
  if (verbose && rendered.cause !== undefined) process.stderr.write(`${rendered.cause}\n`)
  return rendered.code
}
