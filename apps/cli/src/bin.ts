/**
 * Entry point of the bundled CLI. Kept thin: the command tree loads only when a command needs it, so
 * `--version` answers without starting Effect, and `session sync ID` without loading @effect/cli.
 */
declare const __VERSION__: string

const argv = process.argv
if (argv.length === 3 && (argv[2] === "--version" || argv[2] === "-v")) {
  process.stdout.write(`${typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev"}\n`)
} else if (argv.length === 5 && argv[2] === "session" && argv[3] === "sync" && !argv[4]!.startsWith("-")) {
  // `session sync ID`, nothing else: the short path, without the command tree (SessionSyncNow.ts)
  import("./SessionSyncNow.js").then(({ main }) => main(argv)).then((code) => {
    process.exitCode = code
  })
} else {
  import("./main.js").then(({ main }) => main(argv)).then((code) => {
    process.exitCode = code
  })
}
