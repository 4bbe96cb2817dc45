/**
 * The command tree and how it runs: layers, one-line errors, exit codes.
 */
import * as Command from "@effect/cli/Command"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import { Effect, HashMap, HashSet, Layer } from "effect"
import { progressIn } from "./CommonOptions.js"
import { ExitCode } from "./Failure.js"
import * as Program from "./Program.js"
import * as Progress from "./Progress.js"

declare const __VERSION__: string
export const version = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev"

/** The platform commands run on: NodeContext's services without its worker manager, which nothing uses. */
type Platform = CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Terminal.Terminal
const platform: Layer.Layer<Platform> = Layer.mergeAll(NodePath.layer, NodeCommandExecutor.layer, NodeTerminal.layer)
  .pipe(Layer.provideMerge(NodeFileSystem.layer))

type AnyCommand = Command.Command<string, never, unknown, unknown>

/** A module of top-level commands, loaded only when one of them runs (or the whole tree is needed). */
type Module = () => Promise<ReadonlyArray<AnyCommand>>
const one = (load: () => Promise<{ readonly command: unknown }>): Module => () =>
  load().then((m) => [m.command as never])
const reconcileModule: Module = () => import("./commands/reconcile.js").then((m) => m.commands as never)

/**
 * The top-level commands by name, in the order help lists them. A command's module (and what only it needs) is
 * not initialised by the others. `checked`: the command works with sessions and sandboxes, so it first finishes
 * sessions of this host whose supervisor died (StartupCheck).
 */
const table: ReadonlyArray<{ readonly name: string; readonly checked?: true; readonly load: Module }> = [
  { name: "run", checked: true, load: one(() => import("./commands/run.js")) },
  { name: "session", checked: true, load: one(() => import("./commands/session.js")) },
  { name: "sandbox", checked: true, load: one(() => import("./commands/sandbox.js")) },
  { name: "workspace", load: one(() => import("./commands/workspace.js")) },
  { name: "profile", load: one(() => import("./commands/profile.js")) },
  { name: "doctor", load: one(() => import("./commands/doctor.js")) },
  { name: "reconcile", load: reconcileModule },
  { name: "prune", load: reconcileModule }
]

/**
 * The commands of the tree for argv: only the one argv names, else all of them (top-level help, completions,
 * an unknown command need the whole tree). For a named command @effect/cli parses, helps and errs the same on
 * either tree: it sees nothing of the root's other subcommands.
 */
const commandsFor = async (argv: ReadonlyArray<string>): Promise<ReadonlyArray<AnyCommand>> => {
  const named = table.find((c) => c.name === argv[2])
  if (named !== undefined && !argv.some((a) => a === "--completions" || a === "--wizard")) {
    return (await named.load()).filter((c) => HashSet.has(Command.getNames(c), named.name))
  }
  const modules = [...new Set(table.map((c) => c.load))]
  return (await Promise.all(modules.map((load) => load()))).flat()
}

const cliFor = (commands: ReadonlyArray<AnyCommand>) =>
  Command.run(
    Command.make("sandbox-cli").pipe(
      Command.withDescription("Run durable agent work inside sandboxes"),
      Command.withSubcommands(commands as [AnyCommand, ...Array<AnyCommand>])
    ),
    { name: "sandbox-cli", version }
  )

/** The command groups: a wrong subcommand of one is named against that group, not the top level. */
const groups = new Set(["session", "sandbox", "workspace", "profile"])

/** `session bogus`: @effect/cli would list the top-level commands; list the group's own. */
const unknownSubcommand = (
  argv: ReadonlyArray<string>,
  commands: ReadonlyArray<AnyCommand>
): string | undefined => {
  const group = groups.has(argv[2] ?? "")
    ? commands.find((c) => HashSet.has(Command.getNames(c), argv[2]!))
    : undefined
  const sub = argv[3]
  if (group === undefined || sub === undefined || sub.startsWith("-")) return undefined
  const names = [...HashMap.keys(Command.getSubcommands(group))]
  if (names.includes(sub)) return undefined
  return `Invalid subcommand for ${argv[2]} - use one of ${names.map((n) => `'${n}'`).join(", ")}`
}

/** Run the CLI with argv (as `process.argv`) and resolve with the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const verbose = argv.includes("--verbose")
  // The supervisor is a hidden subcommand: it is started by `session new`, never by a person.
  const supervising = argv[2] === "__supervise"
  let command: Effect.Effect<number | void, unknown, Platform>
  if (supervising) {
    const Supervisor = await import("./Supervisor.js")
    command = Supervisor.supervise(argv[3] ?? "")
  } else {
    const commands = await commandsFor(argv)
    const wrongSubcommand = unknownSubcommand(argv, commands)
    if (wrongSubcommand !== undefined) {
      process.stderr.write(`${wrongSubcommand}\n`)
      return ExitCode.usage
    }
    const cli = cliFor(commands)
    const checked = table.some((c) => c.checked === true && c.name === argv[2])
    command = checked
      ? Effect.zipRight(
        Effect.flatMap(Effect.promise(() => import("./StartupCheck.js")), (m) => m.startupCheck(argv)),
        Effect.suspend(() => cli(argv))
      )
      : cli(argv)
  }
  const program = command.pipe(
    // a supervisor has no terminal: its progress is nobody's
    Effect.provide(Progress.layer(supervising ? "none" : progressIn(argv))),
    Effect.provide(platform)
  )
  // a supervisor stops on its own signals (Supervisor.ts)
  return Program.run(program, { verbose, signals: !supervising })
}
