/**
 * The short path of the command people run most while a session works: `sandbox-cli session sync ID`, exactly
 * that (no option). Nothing on such a command line is for @effect/cli to parse, so the command tree is not loaded
 * at all: the same check at start (StartupCheck), the same sync (SessionSync) over the same store, printed and
 * ended the same way (Program). Any other command line, `session sync` with an option included, goes through the
 * command tree (main.ts).
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Effect, Layer } from "effect"
import * as Program from "./Program.js"
import * as Progress from "./Progress.js"
import * as SessionSync from "./SessionSync.js"
import * as SmallFileSystem from "./SmallFileSystem.js"
import { startupCheck } from "./StartupCheck.js"

const platform = Layer.mergeAll(NodePath.layer, NodeCommandExecutor.layer).pipe(
  Layer.provideMerge(NodeFileSystem.layer)
)

/** Run `session sync ID` (argv as `process.argv`; bin.ts tells it is exactly that) and resolve with the exit code. */
export const main = (argv: ReadonlyArray<string>): Promise<number> => {
  // every option at its default: text output, no --pause/--resume/--force/--accept-held
  const sync = SessionSync.sync({
    id: argv[4]!,
    output: "text",
    pause: false,
    resume: false,
    force: false,
    acceptHeld: false
  })
  const program = Effect.zipRight(startupCheck(argv), Effect.provide(sync, SmallFileSystem.storeLayer))
  // the supervisor's progress, as main.ts shows it (no --progress here: "auto")
  return Program.run(Effect.provide(program, Layer.merge(platform, Progress.layer("auto"))), {
    verbose: false,
    signals: true
  })
}
