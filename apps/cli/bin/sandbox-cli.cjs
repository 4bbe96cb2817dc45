#!/usr/bin/env node
"use strict"
// Launcher for the bundled CLI (dist/sandbox-cli.cjs). On Node it compiles the bundle through a V8 code
// cache kept in the user's cache directory: compiling the bundle from source costs more than everything
// else a short command does. Node 20 has no module.enableCompileCache, hence vm.Script with cachedData.
const fs = require("node:fs")
const path = require("node:path")
const bundle = path.join(__dirname, "..", "dist", "sandbox-cli.cjs")

if (process.argv.length === 3 && (process.argv[2] === "--version" || process.argv[2] === "-v")) {
  process.stdout.write(`${require("../package.json").version}\n`)
  return
}
// Provider packages are ESM loaded by name; code compiled by vm.Script cannot import() on its own.
globalThis.__sandboxCliImport = (specifier) => import(specifier)

const run = () => {
  if (typeof globalThis.Deno !== "undefined" || process.env.SANDBOX_CLI_NO_COMPILE_CACHE) return require(bundle)
  const vm = require("node:vm")
  const os = require("node:os")
  let source
  let stat
  try {
    source = fs.readFileSync(bundle, "utf8")
    stat = fs.statSync(bundle)
  } catch {
    process.stderr.write(`sandbox-cli is not built: ${bundle} is missing (run: npm run build)\n`)
    process.exitCode = 70
    return
  }
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache")
  // V8 rejects a cache made under other flags (a supervisor runs with its own): one cache per set of flags
  const build = `v8-${process.version}-${stat.size}-${Math.trunc(stat.mtimeMs)}`
  const flags = process.execArgv.join("_").replace(/[^A-Za-z0-9=._-]/g, "").slice(0, 80)
  const cacheFile = path.join(base, "sandbox-cli", `${build}${flags === "" ? "" : `-${flags}`}.bin`)
  let cached
  try {
    cached = fs.readFileSync(cacheFile)
  } catch {}
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const script = new vm.Script(wrapped, { filename: bundle, ...(cached ? { cachedData: cached } : {}) })
  const mod = { exports: {} }
  script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle))
  if (!cached || script.cachedDataRejected) {
    // Written at exit so the cache also holds the functions compiled while the command ran.
    process.once("exit", () => {
      try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true })
        const temp = `${cacheFile}.${process.pid}.tmp`
        fs.writeFileSync(temp, script.createCachedData())
        fs.renameSync(temp, cacheFile)
        // caches of earlier builds are never read again
        for (const name of fs.readdirSync(path.dirname(cacheFile))) {
          if (
            name.startsWith("v8-") && name.endsWith(".bin") && !name.startsWith(`${build}.`) &&
            !name.startsWith(`${build}-`)
          ) {
            fs.rmSync(path.join(path.dirname(cacheFile), name), { force: true })
          }
        }
      } catch {}
    })
  }
}
run()
