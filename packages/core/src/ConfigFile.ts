/**
 * Configuration: TOML files found and merged, validated with errors that name the file, the key path, what
 * was expected, what was found and the line; then resolved into profiles and agents.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Option, ParseResult, Schema } from "effect"
import { parse as parseToml, TomlError } from "smol-toml"
import { Agent, AgentInput } from "./Agent.js"
import { AgentName, ProfileName } from "./Ids.js"
import { describe, didYouMean, findCredentialKey, firstIssue, lineOf } from "./internal/configIssues.js"
import { builtinLocal, Command, defaultNetwork, defaults, Profile, ProfileFields, ProfileInput } from "./Profile.js"
import { decodeTable, ProviderRegistry } from "./ProviderRegistry.js"
import * as Redaction from "./Redaction.js"
import { ConfigError, UsageError } from "./SandboxError.js"

/**
 * The file name looked for from the current directory upwards.
 *
 * @since 0.1.0
 * @category constants
 */
export const PROJECT_FILE = ".sandbox-cli.toml"

const Defaults = Schema.Struct({ sandbox: Schema.optional(ProfileName), agent: Schema.optional(AgentName) })

const Hooks = Schema.Struct({
  sandbox: Schema.optional(Schema.Struct({
    prepare: Schema.optional(Command),
    ready: Schema.optional(Command),
    sync: Schema.optional(Schema.Struct({ before: Schema.optional(Command), after: Schema.optional(Command) })),
    stop: Schema.optional(Command)
  }))
})
/**
 * Lifecycle hooks from `[hooks]`: commands that get the event JSON on stdin; a non-zero exit denies.
 *
 * @since 0.1.0
 * @category models
 */
export type Hooks = typeof Hooks.Type

const Providers = Schema.Record({ key: Schema.String, value: Schema.NonEmptyString })

const topLevel = ["defaults", "sandboxes", "agents", "providers", "hooks"] as const

/**
 * One parsed and structurally checked file.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigFileDoc {
  readonly file: string
  readonly text: string
  readonly data: Record<string, unknown>
}

/**
 * Every file that makes up the configuration, lowest precedence first.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigSource {
  readonly files: ReadonlyArray<ConfigFileDoc>
  /**
   * `[providers]` merged: backend name → package name or path, with the directory to resolve it from and the file
   * and line that name it (for load errors).
   */
  readonly providers: ReadonlyArray<{
    readonly backend: string
    readonly spec: string
    readonly baseDir: string
    readonly file?: string
    readonly line?: number | undefined
  }>
}

/**
 * The configuration a command works with.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedConfig {
  readonly files: ReadonlyArray<string>
  readonly defaults: typeof Defaults.Type
  readonly profiles: ReadonlyMap<string, Profile>
  readonly agents: ReadonlyMap<string, Agent>
  readonly hooks: Hooks
}

const isTable = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const errorAt = (doc: ConfigFileDoc, path: ReadonlyArray<string>, expected: string, got: string, hint?: string) => {
  const line = lineOf(doc.text, path)
  return new ConfigError({
    file: doc.file,
    key_path: path.join("."),
    expected,
    // What was found is echoed: never with the credentials a URL may carry.
    got: Redaction.urls(got),
    ...(line !== undefined ? { line } : {}),
    ...(hint !== undefined ? { hint } : {})
  })
}

const unknownKey = (doc: ConfigFileDoc, path: ReadonlyArray<string>, known: ReadonlyArray<string>) => {
  const key = path[path.length - 1]!
  const suggestion = didYouMean(key, known)
  return errorAt(
    doc,
    path,
    known.length > 0 ? `one of ${known.join(", ")}` : "no keys here",
    `unknown key ${JSON.stringify(key)}`,
    suggestion ? `did you mean "${suggestion}"?` : undefined
  )
}

const decodeAt = <A, I>(doc: ConfigFileDoc, path: ReadonlyArray<string>, schema: Schema.Schema<A, I>, value: unknown) =>
  ParseResult.decodeUnknown(schema, { onExcessProperty: "error", errors: "first" })(value).pipe(
    Effect.mapError((error) => {
      const issue = firstIssue(error)
      const full = [...path, ...issue.path.map(String)]
      return issue.unexpectedKey
        ? unknownKey(doc, full, issue.unexpectedKey.known)
        : errorAt(doc, full, issue.expected, issue.got)
    })
  )

const profileKeys = Object.keys(ProfileFields)

/**
 * Parse one file and check everything that can be checked without knowing the backends.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFile = (file: string, text: string): Effect.Effect<ConfigFileDoc, ConfigError> =>
  Effect.gen(function*() {
    const parsed = yield* Effect.try({
      try: () => parseToml(text) as Record<string, unknown>,
      catch: (cause) => {
        const error = cause as TomlError
        const firstLine = String(error.message ?? cause).split("\n")[0] ?? "invalid TOML"
        return new ConfigError({
          file,
          key_path: "",
          expected: "valid TOML",
          got: firstLine.replace(/^Invalid TOML document: /, ""),
          ...(cause instanceof TomlError ? { line: cause.line } : {})
        })
      }
    })
    const doc: ConfigFileDoc = { file, text, data: parsed }
    const credential = findCredentialKey(parsed)
    if (credential) {
      return yield* errorAt(
        doc,
        credential,
        "no credentials in config files",
        "a key that holds a credential (its value is not shown)",
        "put secrets in the environment, e.g. DAYTONA_API_KEY"
      )
    }
    for (const key of Object.keys(parsed)) {
      if (!(topLevel as ReadonlyArray<string>).includes(key)) return yield* unknownKey(doc, [key], topLevel)
    }
    if (parsed["defaults"] !== undefined) yield* decodeAt(doc, ["defaults"], Defaults, parsed["defaults"])
    if (parsed["hooks"] !== undefined) yield* decodeAt(doc, ["hooks"], Hooks, parsed["hooks"])
    if (parsed["providers"] !== undefined) yield* decodeAt(doc, ["providers"], Providers, parsed["providers"])
    for (const section of ["sandboxes", "agents"] as const) {
      const value = parsed[section]
      if (value === undefined) continue
      if (!isTable(value)) return yield* errorAt(doc, [section], "a table", describe(value))
      for (const [name, entry] of Object.entries(value)) {
        yield* decodeAt(doc, [section, name], Schema.Struct({ name: ProfileName }), { name }).pipe(
          Effect.mapError(() =>
            errorAt(doc, [section, name], "a name of letters, digits, '.', '_' or '-'", JSON.stringify(name))
          )
        )
        if (!isTable(entry)) return yield* errorAt(doc, [section, name], "a table", describe(entry))
        if (section === "agents") {
          yield* decodeAt(doc, [section, name], AgentInput, entry)
          continue
        }
        const common: Record<string, unknown> = {}
        for (const [key, v] of Object.entries(entry)) {
          if (profileKeys.includes(key)) common[key] = v
          else if (!isTable(v)) return yield* unknownKey(doc, [section, name, key], profileKeys)
        }
        yield* decodeAt(doc, [section, name], ProfileInput, common)
      }
    }
    return doc
  })

const mergeDeep = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key]
    out[key] = isTable(prev) && isTable(value) ? mergeDeep(prev, value) : value
  }
  return out
}

/**
 * Find, read and parse the files: `explicit` (from `--config`) or the nearest `.sandbox-cli.toml` from `cwd`
 * upwards, over the user file.
 *
 * @since 0.1.0
 * @category loading
 */
export const readSource = (options: {
  readonly explicit?: string | undefined
  readonly cwd: string
  readonly userFile?: string | undefined
}): Effect.Effect<ConfigSource, ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))
    const candidates: Array<string> = []
    if (options.userFile && (yield* exists(options.userFile))) candidates.push(options.userFile)
    if (options.explicit !== undefined) {
      const explicit = path.resolve(options.cwd, options.explicit)
      if (!(yield* exists(explicit))) {
        return yield* new ConfigError({
          file: explicit,
          key_path: "",
          expected: "a readable config file",
          got: "no such file"
        })
      }
      candidates.push(explicit)
    } else {
      let dir = path.resolve(options.cwd)
      while (true) {
        const candidate = path.join(dir, PROJECT_FILE)
        if (yield* exists(candidate)) {
          if (candidate !== options.userFile) candidates.push(candidate)
          break
        }
        const parent = path.dirname(dir)
        if (parent === dir) break
        dir = parent
      }
    }
    const files = yield* Effect.forEach(candidates, (file) =>
      fs.readFileString(file).pipe(
        Effect.mapError((e) =>
          new ConfigError({ file, key_path: "", expected: "a readable config file", got: e.message })
        ),
        Effect.flatMap((text) => parseFile(file, text))
      ))
    const providers = new Map<string, ConfigSource["providers"][number]>()
    for (const doc of files) {
      const table = (doc.data["providers"] ?? {}) as Record<string, string>
      for (const [backend, spec] of Object.entries(table)) {
        const line = lineOf(doc.text, ["providers", backend])
        providers.set(backend, { backend, spec, baseDir: path.dirname(doc.file), file: doc.file, line })
      }
    }
    return { files, providers: [...providers.values()] }
  })

/**
 * Merge the files and resolve profiles (validating each backend table with its backend's schema), agents
 * and defaults.
 *
 * @since 0.1.0
 * @category loading
 */
export const resolve = (
  source: ConfigSource
): Effect.Effect<ResolvedConfig, ConfigError | UsageError, ProviderRegistry> =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry
    const merged = source.files.reduce<Record<string, unknown>>((acc, doc) => mergeDeep(acc, doc.data), {})
    // The last file that mentions a key path is the one an error about it should name.
    const docFor = (path: ReadonlyArray<string>): ConfigFileDoc => {
      for (let i = source.files.length - 1; i >= 0; i--) {
        const doc = source.files[i]!
        let node: unknown = doc.data
        let found = true
        for (const key of path) {
          if (!isTable(node) || !(key in node)) {
            found = false
            break
          }
          node = node[key]
        }
        if (found) return doc
      }
      return source.files[source.files.length - 1] ?? { file: "<built-in>", text: "", data: {} }
    }
    const backendNames = [...registry.backends.keys()]
    const profiles = new Map<string, Profile>([["local", builtinLocal]])
    const sandboxes = (merged["sandboxes"] ?? {}) as Record<string, Record<string, unknown>>
    for (const [name, table] of Object.entries(sandboxes)) {
      const base = name === "local" ? (Schema.encodeSync(Profile)(builtinLocal) as Record<string, unknown>) : {}
      const entry = { ...base, ...table }
      const doc = docFor(["sandboxes", name])
      const backend = entry["backend"]
      if (typeof backend !== "string") {
        return yield* errorAt(
          doc,
          ["sandboxes", name, "backend"],
          `one of ${backendNames.join(", ")}`,
          "nothing (the key is required)"
        )
      }
      if (!registry.backends.has(backend)) {
        const hint = didYouMean(backend, backendNames)
        return yield* errorAt(
          doc,
          ["sandboxes", name, "backend"],
          `one of ${backendNames.join(", ")}`,
          JSON.stringify(backend),
          hint
            ? `did you mean "${hint}"? Third-party backends go under [providers]`
            : "third-party backends go under [providers]"
        )
      }
      const definition = yield* registry.get(backend)
      let backendConfig: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(table)) {
        if (profileKeys.includes(key)) continue
        if (key !== backend) {
          const docKey = docFor(["sandboxes", name, key])
          return yield* registry.backends.has(key)
            ? errorAt(
              docKey,
              ["sandboxes", name, key],
              `a [sandboxes.${name}.${backend}] table`,
              `a table for backend ${key}`,
              `this profile uses backend ${backend}`
            )
            : unknownKey(docKey, ["sandboxes", name, key], [...profileKeys, backend])
        }
        const tableDoc = docFor(["sandboxes", name, key])
        const decoded = yield* decodeTable(definition, value).pipe(
          Effect.mapError((error) => {
            const issue = firstIssue(error)
            const full = ["sandboxes", name, key, ...issue.path.map(String)]
            return issue.unexpectedKey
              ? unknownKey(tableDoc, full, issue.unexpectedKey.known)
              : errorAt(tableDoc, full, issue.expected, issue.got)
          })
        )
        backendConfig = Schema.encodeSync(definition.configSchema)(decoded) as Record<string, unknown>
      }
      for (const key of ["isolation", "network"] as const) {
        if (table[key] !== undefined && !(definition.profileKeys ?? []).includes(key)) {
          return yield* errorAt(
            docFor(["sandboxes", name, key]),
            ["sandboxes", name, key],
            `no ${key} for backend ${backend}`,
            describe(table[key]),
            `${key} applies to the local backend only`
          )
        }
      }
      if (backendConfig && Object.keys(backendConfig).length === 0 && table[backend] === undefined) {
        // Decode an empty table so backends with required keys report them.
        const decoded = yield* decodeTable(definition, {}).pipe(
          Effect.mapError((error) => {
            const issue = firstIssue(error)
            return errorAt(doc, ["sandboxes", name, backend, ...issue.path.map(String)], issue.expected, issue.got)
          })
        )
        backendConfig = Schema.encodeSync(definition.configSchema)(decoded) as Record<string, unknown>
      }
      const input = Schema.decodeUnknownSync(ProfileInput)(
        Object.fromEntries(Object.entries(entry).filter(([k]) => profileKeys.includes(k)))
      )
      const isolation = input.isolation ?? defaults.isolation
      const profile = Profile.make({
        name: ProfileName.make(name),
        backend,
        sync_mode: input.sync_mode ?? defaults.sync_mode,
        persistence: input.persistence ?? defaults.persistence,
        ...(input.runtime_root !== undefined ? { runtime_root: input.runtime_root } : {}),
        include: input.include ?? [],
        exclude: input.exclude ?? [],
        seed: input.seed ?? defaults.seed,
        setup: input.setup ?? [],
        env: input.env ?? {},
        resources: input.resources ?? {},
        isolation,
        // Only what the user set: the built-in local profile's value is a default, like any other.
        network: typeof table["network"] === "boolean" ? table["network"] : defaultNetwork(isolation),
        ...(input.permissions !== undefined ? { permissions: input.permissions } : {}),
        ...(input.agent_location !== undefined ? { agent_location: input.agent_location } : {}),
        backend_config: backendConfig,
        source: doc.file
      })
      const issue = definition.checkProfile?.(profile)
      if (issue !== undefined) {
        const path = ["sandboxes", name, issue.key]
        return yield* errorAt(docFor(path), path, issue.expected, issue.got, issue.hint)
      }
      profiles.set(name, profile)
    }
    const agents = new Map<string, Agent>()
    for (const [name, table] of Object.entries((merged["agents"] ?? {}) as Record<string, unknown>)) {
      const input = Schema.decodeUnknownSync(AgentInput)(table)
      agents.set(
        name,
        Agent.make({ name, command: input.command, protocol: input.protocol, env: input.env, pass_env: input.pass_env })
      )
    }
    const defaultsTable = Schema.decodeUnknownSync(Defaults)(merged["defaults"] ?? {})
    if (defaultsTable.sandbox !== undefined && !profiles.has(defaultsTable.sandbox)) {
      const doc = docFor(["defaults", "sandbox"])
      const hint = didYouMean(defaultsTable.sandbox, [...profiles.keys()])
      return yield* errorAt(
        doc,
        ["defaults", "sandbox"],
        `a profile (${[...profiles.keys()].join(", ")})`,
        JSON.stringify(defaultsTable.sandbox),
        hint ? `did you mean "${hint}"?` : undefined
      )
    }
    if (defaultsTable.agent !== undefined && !agents.has(defaultsTable.agent)) {
      const doc = docFor(["defaults", "agent"])
      return yield* errorAt(
        doc,
        ["defaults", "agent"],
        `an agent defined under [agents]`,
        JSON.stringify(defaultsTable.agent)
      )
    }
    return {
      files: source.files.map((f) => f.file),
      defaults: defaultsTable,
      profiles,
      agents,
      hooks: Schema.decodeUnknownSync(Hooks)(merged["hooks"] ?? {})
    }
  })

/**
 * Pick the profile for a session: command-line flag > workspace > `[defaults] sandbox` > built-in `local`.
 *
 * @since 0.1.0
 * @category resolution
 */
export const selectProfile = (
  config: ResolvedConfig,
  choice: { readonly flag?: string | undefined; readonly workspace?: string | undefined }
): Effect.Effect<Profile, UsageError> => {
  const name = choice.flag ?? choice.workspace ?? config.defaults.sandbox ?? "local"
  return Option.fromNullable(config.profiles.get(name)).pipe(
    Effect.mapError(() => {
      const hint = didYouMean(name, [...config.profiles.keys()])
      return new UsageError({
        detail: `unknown profile "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; known: ${
          [...config.profiles.keys()].join(", ")
        }`
      })
    })
  )
}
