/**
 * Options shared by every command, defined once.
 */
import * as Options from "@effect/cli/Options"

export const output = Options.choice("output", ["text", "json"]).pipe(
  Options.withAlias("o"),
  Options.withDefault("text" as const),
  Options.withDescription("Output format: text for people, json (snake_case, stable) for scripts")
)

export const config = Options.file("config", { exists: "either" }).pipe(
  Options.optional,
  Options.withDescription("Config file to use instead of the nearest .sandbox-cli.toml (merged over the user file)")
)

export const verbose = Options.boolean("verbose").pipe(
  Options.withDescription("On error, also print the underlying cause")
)

export const progress = Options.choice("progress", ["auto", "json", "none"]).pipe(
  Options.withDefault("auto" as const),
  Options.withDescription(
    "Progress of long work (seed, sync-back) on stderr: auto (one updating line on a terminal, else nothing), " +
      "json (one event per line), none"
  )
)

export const common = { output, config, verbose, progress }

export type ProgressMode = "auto" | "json" | "none"

/**
 * The `--progress` value in argv: where progress goes is set up before the command line is parsed (which
 * rejects a bad value). Stops at `--`: what follows belongs to the command to run.
 */
export const progressIn = (argv: ReadonlyArray<string>): ProgressMode => {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") break
    const value = arg === "--progress" ? argv[i + 1] : arg.startsWith("--progress=") ? arg.slice(11) : undefined
    if (value === "json" || value === "none" || value === "auto") return value
  }
  return "auto"
}

export type Output = "text" | "json"
