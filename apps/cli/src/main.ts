/**
 * The command tree and how it runs: layers, one-line errors, exit codes.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect, Exit, HashMap } from "effect"
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

/** The command groups: a wrong subcommand of one is named against that group, not the top level. */
const groups = new Map<string, Command.Command<string, never, unknown, unknown>>([
  ["session", session.command as never],
  ["sandbox", sandbox.command as never],
  ["workspace", workspace.command as never],
  ["profile", profile.command as never]
])

/** `session bogus`: @effect/cli would list the top-level commands; list the group's own. */
const unknownSubcommand = (argv: ReadonlyArray<string>): string | undefined => {
  const group = groups.get(argv[2] ?? "")
  const sub = argv[3]
  if (group === undefined || sub === undefined || sub.startsWith("-")) return undefined
  const names = [...HashMap.keys(Command.getSubcommands(group))]
  if (names.includes(sub)) return undefined
  return `Invalid subcommand for ${argv[2]} - use one of ${names.map((n) => `'${n}'`).join(", ")}`
}

/** Run the CLI with argv (as `process.argv`) and resolve with the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const verbose = argv.includes("--verbose")
  const wrongSubcommand = unknownSubcommand(argv)
  if (wrongSubcommand !== undefined) {
    process.stderr.write(`${wrongSubcommand}\n`)
    return ExitCode.usage
  }
  // The supervisor is a hidden subcommand: it is started by `session new`, never by a person.
  const supervising = argv[2] === "__supervise"
  const command: Effect.Effect<number | void, unknown, NodeContext.NodeContext> = supervising
    ? Supervisor.supervise(argv[3] ?? "")
    : Effect.zipRight(reconcile.startupCheck(argv), Effect.suspend(() => cli(argv)))
  const program = command.pipe(
    // a supervisor has no terminal: its progress is nobody's
    Effect.provide(Progress.layer(supervising ? "none" : progressIn(argv))),
    Effect.provide(NodeContext.layer),
    (self) => Console.consoleWith((console) => Console.withConsole(self, plainConsole(console)))
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
  const rendered = render(exit.cause, { verbose })
  for (const line of rendered.lines) process.stderr.write(`${line}\n`)
  return rendered.code
}
