// Bundles the CLI into one CommonJS file, dist/sandbox-cli.cjs. Workspace packages resolve to their sources
// (the "source" condition); modules reached only through import() stay lazily initialised inside the bundle.
// CommonJS so that bin/sandbox-cli.cjs can run it through a V8 code cache (see there).
import { build } from "esbuild"
import { readFileSync } from "node:fs"
import { readFile } from "node:fs/promises"

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"))

// Heavy SDKs that only a Daytona profile or an ACP agent needs are bundled apart, into dist/vendor-*.cjs, and
// required from the main bundle only when first used: every command would otherwise pay for compiling them.
const vendors = {
  "@daytonaio/sdk": "vendor-daytona.cjs",
  "@agentclientprotocol/sdk": "vendor-acp.cjs"
}
const vendorFilter = new RegExp(`^(${Object.keys(vendors).map((v) => v.replace(/[/]/g, "\\/")).join("|")})$`)
const lazyVendors = {
  name: "lazy-vendors",
  setup(b) {
    b.onResolve({ filter: vendorFilter }, (args) => ({ path: args.path, namespace: "vendor" }))
    b.onLoad({ filter: /.*/, namespace: "vendor" }, (args) => ({
      contents: `module.exports = require(require("node:path").join(__dirname, ${JSON.stringify(vendors[args.path])}))`,
      loader: "js"
    }))
  }
}

// The Daytona SDK loads the modules behind file transfer through an aliased require (`__esmRequire("form-data")`)
// that esbuild cannot follow, so an installed CLI failed on "Cannot find module 'form-data'" (then 'busboy').
// Rewrite those calls into plain requires, which esbuild bundles; the other optional modules of that loader
// (OpenTelemetry, tar, fast-glob, object storage) serve features we do not use and stay unbundled.
const sdkRequired = ["form-data", "busboy"]
const sdkLoader = /[\\/]@daytonaio[\\/]sdk[\\/]esm[\\/]utils[\\/]Import\.js$/
const bundleSdkRequires = {
  name: "bundle-sdk-requires",
  setup(b) {
    b.onLoad({ filter: sdkLoader }, async (args) => {
      let contents = await readFile(args.path, "utf8")
      for (const name of sdkRequired) {
        const aliased = `__esmRequire('${name}')`
        if (!contents.includes(aliased)) throw new Error(`${args.path} no longer loads ${name} as ${aliased}`)
        contents = contents.replaceAll(aliased, `require('${name}')`)
      }
      return { contents, loader: "js" }
    })
  }
}

// Our sources import Effect's modules through its barrels (`import { Effect, Schema } from "effect"`). Where
// esbuild must keep a module lazily initialised (everything below an import()), initialising a barrel initialises
// every module it re-exports: all of effect (and fast-check through Schema's arbitraries), all of
// @effect/platform's HTTP stack. Rewriting those imports into the modules themselves (`effect/Effect`) makes a
// command initialise only what it uses. Only our own sources are rewritten, and only import declarations.
const barrels = { effect: "effect", "@effect/platform": "@effect/platform" }
const effectFunctions = new Set(["absurd", "flow", "hole", "identity", "pipe", "unsafeCoerce"])
const barrelImport = /import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(effect|@effect\/platform)"/g
const deepImports = {
  name: "deep-imports",
  setup(b) {
    b.onLoad({ filter: /[\\/](packages|apps)[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, "utf8")
      const contents = source.replace(barrelImport, (_all, typeOnly, names, barrel) => {
        if (typeOnly) return ""
        return names.split(",").map((n) => n.trim()).filter((n) => n !== "" && !n.startsWith("type "))
          .map((n) => {
            const [name, alias = name] = n.split(/\s+as\s+/)
            return barrel === "effect" && effectFunctions.has(name)
              ? `import { ${name} as ${alias} } from "effect/Function"`
              : `import * as ${alias} from "${barrels[barrel]}/${name}"`
          })
          .join(";")
      })
      return { contents, loader: "ts" }
    })
  }
}

// @effect/cli builds the whole help text of a command (every option's description, recursively) each time it
// parses one, in case the arguments ask for --help: a large part of a short command's run. Make that text lazy,
// built only when --help is given. Exact replacements: a new @effect/cli fails the build here, not silently.
const cliPatches = [
  {
    file: /[\\/]@effect[\\/]cli[\\/]dist[\\/]esm[\\/]internal[\\/]commandDescriptor\.js$/,
    from: `              const help = getHelpInternal(self, config);
              const usage = getUsageInternal(self);
              const options = InternalBuiltInOptions.builtInOptions(self, usage, help);`,
    to:
      `              const options = InternalBuiltInOptions.builtInOptions(self, () => getUsageInternal(self), () => getHelpInternal(self, config));`
  },
  {
    file: /[\\/]@effect[\\/]cli[\\/]dist[\\/]esm[\\/]internal[\\/]builtInOptions\.js$/,
    from: "return Option.some(showHelp(usage, helpDoc));",
    to: "return Option.some(showHelp(usage(), helpDoc()));"
  }
]
const lazyCliHelp = {
  name: "lazy-cli-help",
  setup(b) {
    for (const patch of cliPatches) {
      b.onLoad({ filter: patch.file }, async (args) => {
        const contents = await readFile(args.path, "utf8")
        if (!contents.includes(patch.from)) throw new Error(`${args.path} changed: cannot make its help lazy`)
        return { contents: contents.replace(patch.from, patch.to), loader: "js" }
      })
    }
  }
}

for (const [specifier, file] of Object.entries(vendors)) {
  await build({
    plugins: [bundleSdkRequires],
    stdin: { contents: `export * from ${JSON.stringify(specifier)}`, resolveDir: process.cwd(), loader: "js" },
    outfile: `dist/${file}`,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "warning"
  })
}

await build({
  entryPoints: ["src/bin.ts"],
  plugins: [lazyVendors, deepImports, lazyCliHelp],
  outfile: "dist/sandbox-cli.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  conditions: ["source"],
  minify: true,
  treeShaking: true,
  legalComments: "none",
  define: { __VERSION__: JSON.stringify(pkg.version), "import.meta.url": "__importMetaUrl" },
  banner: { js: "\"use strict\";const __importMetaUrl=require(\"node:url\").pathToFileURL(__filename).href;" },
  logLevel: "warning"
})

// The sync engine's worker thread (walks, copies and hashes beside the main thread): the engine starts it from
// "./scanWorker.js" beside the module that asks, which in this bundle is dist/sandbox-cli.cjs. ESM, as the
// package is; where it cannot start, the engine does the same work on the main thread.
await build({
  entryPoints: { scanWorker: "../../packages/sync/src/internal/scanWorker.ts" },
  outdir: "dist",
  plugins: [deepImports],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["source"],
  minify: true,
  legalComments: "none",
  logLevel: "warning"
})
