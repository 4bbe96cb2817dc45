#!/usr/bin/env node
/**
 * `daytona-emulator [--port N] [--api-key KEY] [--fail-rate R] ...` (see cli.ts for every flag and variable):
 * prints `listening on http://127.0.0.1:N/api` and serves until SIGINT/SIGTERM, then closes cleanly (sandbox
 * processes killed).
 */
import { parseCli, USAGE } from "./cli.js"
import { startEmulator } from "./Emulator.js"

const main = async (): Promise<void> => {
  const parsed = parseCli(process.argv.slice(2), process.env)
  switch (parsed._tag) {
    case "Help":
      process.stdout.write(`${USAGE}\n`)
      return
    case "Usage":
      process.stderr.write(`daytona-emulator: ${parsed.message}\n${USAGE}\n`)
      process.exit(2)
      return
    case "Run":
      break
  }
  const emulator = await startEmulator(parsed.options)
  const random = parsed.options.randomFailures
  if (random !== undefined) {
    process.stderr.write(
      `daytona-emulator: failing ${Math.round(random.rate * 1000) / 10}% of requests at random ` +
        `(${(random.kinds ?? ["429", "503"]).join(", ")}; seed ${emulator.faults().seed})\n`
    )
  }
  if (!emulator.isolatedProcesses) {
    process.stderr.write(
      "daytona-emulator: commands run as plain host processes (they see host paths, not /home/daytona); " +
        "install bubblewrap for sandbox-like paths\n"
    )
  }
  // Last, so a test that waits for this line finds the rest already written.
  process.stdout.write(`listening on ${emulator.url}\n`)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    emulator.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
}

main().catch((e: unknown) => {
  process.stderr.write(`daytona-emulator: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})
