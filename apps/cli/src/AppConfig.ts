/**
 * Loads the configuration and the provider registry a command works with: built-in backends plus those
 * from `[providers]`, each loaded only when a profile needs it.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import * as Locations from "@org/sandbox-core/Locations"
import * as ProviderRegistry from "@org/sandbox-core/ProviderRegistry"
import { ConfigError } from "@org/sandbox-core/SandboxError"
import * as Store from "@org/sandbox-core/Store"
import { profileKeys as localProfileKeys } from "@org/sandbox-local/LocalConfig"
import { Effect, Option } from "effect"
import { pathToFileURL } from "node:url"
import { resolveProvider } from "./ProviderModule.js"
import * as SmallFileSystem from "./SmallFileSystem.js"

export const builtinBackends: ReadonlyArray<ProviderRegistry.LazyBackend> = [
  // The keys it claims on the profile table are known before it loads: another backend's profile that sets one
  // is told whose key it is.
  {
    name: "local",
    source: "built-in",
    profileKeys: localProfileKeys,
    load: () => import("@org/sandbox-local/LocalBackend")
  },
  { name: "daytona", source: "built-in", load: () => import("@org/sandbox-daytona/DaytonaBackend") }
]

/** Import a provider package by name (resolved from the config file's directory) or by relative path. */
const importProvider = (spec: string, baseDir: string) => async (): Promise<unknown> => {
  const target = resolveProvider(spec, baseDir)
  // The launcher hands over its own import(): code compiled through the V8 code cache cannot import().
  const importer = (globalThis as { __sandboxCliImport?: (specifier: string) => Promise<unknown> }).__sandboxCliImport
  const url = pathToFileURL(target).href
  return importer ? importer(url) : import(url)
}

export interface Loaded {
  readonly config: ConfigFile.ResolvedConfig
  readonly registry: ProviderRegistry.Registry
}

export const registryFor = (source: ConfigFile.ConfigSource): ProviderRegistry.Registry =>
  ProviderRegistry.make([
    ...builtinBackends.filter((b) => !source.providers.some((p) => p.backend === b.name)),
    ...source.providers.map((p) => ({
      name: p.backend,
      source: p.spec,
      load: importProvider(p.spec, p.baseDir),
      ...(p.file !== undefined ? { file: p.file } : {}),
      ...(p.line !== undefined ? { line: p.line } : {})
    }))
  ])

/**
 * Load the configuration: `--config FILE` if given, else the nearest `.sandbox-cli.toml` from `workspaceDir` (a
 * registered workspace's directory: its config is its own, wherever the command is typed) or else from the
 * current directory, merged over the user file.
 */
export const load = (configFile: Option.Option<string>, workspaceDir?: string) =>
  Effect.gen(function*() {
    const userFile = yield* Locations.userConfigFile.pipe(Effect.orElseSucceed(() => undefined))
    const source = yield* ConfigFile.readSource({
      explicit: Option.getOrUndefined(configFile),
      cwd: process.cwd(),
      searchFrom: workspaceDir,
      userFile
    })
    const registry = registryFor(source)
    const config = yield* ConfigFile.resolve(source).pipe(
      Effect.provideService(ProviderRegistry.ProviderRegistry, registry)
    )
    return { config, registry } satisfies Loaded
  }).pipe(Effect.provide(SmallFileSystem.layer), Effect.withSpan("AppConfig.load")) as Effect.Effect<
    Loaded,
    ConfigError | import("@org/sandbox-core/SandboxError").UsageError,
    FileSystem.FileSystem | Path.Path
  >

export { ConfigError }

/** The configuration a session was started with: its workspace's, when the workspace is registered. */
export const loadForSession = (configFile: Option.Option<string>, session: { readonly workspace: string }) =>
  Effect.flatMap(
    Effect.flatMap(Store.Store, (store) => store.getWorkspace(session.workspace)).pipe(
      Effect.map((w) => w.path),
      Effect.orElseSucceed(() => undefined)
    ),
    (dir) => load(configFile, dir)
  )
