#!/usr/bin/env node
// The command's entry: committed, so that `npm ci` links it even before the package is built.
import { existsSync } from "node:fs"

const built = new URL("../dist/bin.js", import.meta.url)
if (!existsSync(built)) {
  process.stderr.write("daytona-emulator is not built: run `npm run build -w @org/daytona-emulator`\n")
  process.exit(70)
}
await import(built.href)
