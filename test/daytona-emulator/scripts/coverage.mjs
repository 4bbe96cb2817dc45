#!/usr/bin/env node
// The emulator's coverage of the OpenAPI operations: operations in openapi/*.json that a served route implements,
// over all operations. Needs dist (npm run build -w @org/daytona-emulator). Usage: node scripts/coverage.mjs [--list]
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { operationCoverage } from "../dist/coverage.js"
import { startEmulator } from "../dist/index.js"

const load = (name) => JSON.parse(readFileSync(fileURLToPath(new URL(`../openapi/${name}`, import.meta.url)), "utf8"))
const emu = await startEmulator({ apiKey: "coverage" })
try {
  const c = operationCoverage({ api: load("api.json"), toolbox: load("toolbox.json") }, emu.routes())
  for (const plane of ["api", "toolbox"]) {
    console.log(`${plane}: ${c[plane].served}/${c[plane].total}`)
  }
  console.log(`total: ${c.served}/${c.total} (${((100 * c.served) / c.total).toFixed(1)}%)`)
  if (process.argv.includes("--list")) { for (const op of c.missing) console.log(`  not served: ${op}`) }
} finally {
  await emu.close()
}
