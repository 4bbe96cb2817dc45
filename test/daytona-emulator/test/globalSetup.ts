/**
 * Builds dist before the suite: the CLI test runs the real `daytona-emulator` bin and the exit test a plain Node
 * process that imports the package, neither of which goes through Vite.
 */
import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  const require = createRequire(import.meta.url)
  const tsc = require.resolve("typescript/bin/tsc")
  const cwd = fileURLToPath(new URL("..", import.meta.url))
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd, stdio: "inherit" })
}
