/**
 * Configuration: TOML files found and merged, validated with errors that name the file, the key path, what
 * was expected, what was found and the line; then resolved into profiles and agents.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import { parse as parseToml, TomlError } from "smol-toml"
import { Agent, AgentInput } from "./Agent.js"
import { AgentName, ProfileName } from "./Ids.js"
import {
  collector,
  combine,
  describe,
  didYouMean,
  errorAt,
  findCredentialKey,
  firstIssue,
  lineOf,
  unknownKey
} from "./internal/configIssues.js"
import { resolveProfile } from "./internal/resolveProfile.js"
import { builtinLocal, Command, type Profile } from "./Profile.js"
import { ProviderRegistry } from "./ProviderRegistry.js"
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

/**
 * Parse one file and check everything that can be checked without knowing the backends. Every problem found is
 * reported, not only the first.
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
    const { attempt, done, problems } = collector()
    const credential = findCredentialKey(parsed)
    if (credential) {
      problems.push(errorAt(
        doc,
        credential,
        "no credentials in config files",
        "a key that holds a credential (its value is not shown)",
        "put secrets in the environment, e.g. DAYTONA_API_KEY"
      ))
    }
    for (const key of Object.keys(parsed)) {
      if (!(topLevel as ReadonlyArray<string>).includes(key)) problems.push(unknownKey(doc, [key], topLevel))
    }
    if (parsed["defaults"] !== undefined) yield* attempt(decodeAt(doc, ["defaults"], Defaults, parsed["defaults"]))
    if (parsed["hooks"] !== undefined) yield* attempt(decodeAt(doc, ["hooks"], Hooks, parsed["hooks"]))
    if (parsed["providers"] !== undefined) {
      yield* attempt(decodeAt(doc, ["providers"], Providers, parsed["providers"]))
    }
    for (const section of ["sandboxes", "agents"] as const) {
      const value = parsed[section]
      if (value === undefined) continue
      if (!isTable(value)) {
        problems.push(errorAt(doc, [section], "a table", describe(value)))
        continue
      }
      for (const [name, entry] of Object.entries(value)) {
        yield* attempt(
          decodeAt(doc, [section, name], Schema.Struct({ name: ProfileName }), { name }).pipe(
            Effect.mapError(() =>
              errorAt(doc, [section, name], "a name of letters, digits, '.', '_' or '-'", JSON.stringify(name))
            )
          )
        )
        if (!isTable(entry)) {
          problems.push(errorAt(doc, [section, name], "a table", describe(entry)))
          continue
        }
        if (section === "agents") {
          yield* attempt(decodeAt(doc, [section, name], AgentInput, entry))
          continue
        }
        // A profile's keys are checked when it is resolved, where its backend is known: besides the keys of every
        // profile, a backend has its table and may claim keys on the profile table.
      }
    }
    return yield* done(doc)
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
 * Find, read and parse the files: `explicit` (from `--config`, relative to `cwd`) or the nearest
 * `.sandbox-cli.toml` from `searchFrom` (a registered workspace's directory; default `cwd`) upwards, over the
 * user file.
 *
 * @since 0.1.0
 * @category loading
 */
export const readSource = (options: {
  readonly explicit?: string | undefined
  readonly cwd: string
  readonly searchFrom?: string | undefined
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
      let dir = path.resolve(options.cwd, options.searchFrom ?? ".")
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
    const read = yield* Effect.forEach(candidates, (file) =>
      fs.readFileString(file).pipe(
        Effect.mapError((e) =>
          new ConfigError({ file, key_path: "", expected: "a readable config file", got: e.message })
        ),
        Effect.flatMap((text) => parseFile(file, text)),
        Effect.either
      ))
    const broken = read.filter(Either.isLeft).map((e) => e.left)
    if (broken.length > 0) return yield* combine(broken)
    const files = read.filter(Either.isRight).map((e) => e.right)
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

/** Where a hook's argv[0] (or a string command's first word) is a relative path: against its config file. */
const hookFrom = (command: Command, dir: string, path: Path.Path): Command => {
  const relative = (word: string) => word.startsWith("./") || word.startsWith("../")
  if (typeof command !== "string") {
    const [head, ...rest] = command
    return relative(head) ? [path.resolve(dir, head), ...rest] : command
  }
  const word = command.trimStart().split(/\s/, 1)[0] ?? ""
  return relative(word)
    ? `${JSON.stringify(path.resolve(dir, word))}${command.trimStart().slice(word.length)}`
    : command
}

/**
 * Merge the files and resolve profiles (validating each backend table with its backend's schema), agents
 * and defaults. Every problem found is reported, not only the first.
 *
 * @since 0.1.0
 * @category loading
 */
export const resolve = (
  source: ConfigSource
): Effect.Effect<ResolvedConfig, ConfigError | UsageError, ProviderRegistry> =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry
    // Only joins paths: the host's Path when there is one, else the portable one.
    const path = yield* Effect.serviceOption(Path.Path).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.provide(Path.Path, Path.layer), onSome: Effect.succeed }))
    )
    const merged = source.files.reduce<Record<string, unknown>>((acc, doc) => mergeDeep(acc, doc.data), {})
    // The last file that mentions a key path is the one an error about it should name.
    const docFor = (keyPath: ReadonlyArray<string>): ConfigFileDoc => {
      for (let i = source.files.length - 1; i >= 0; i--) {
        const doc = source.files[i]!
        let node: unknown = doc.data
        let found = true
        for (const key of keyPath) {
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
    const { attempt, done, problems } = collector()
    const profiles = new Map<string, Profile>([["local", builtinLocal]])
    const sandboxes = (merged["sandboxes"] ?? {}) as Record<string, Record<string, unknown>>
    for (const [name, table] of Object.entries(sandboxes)) {
      const profile = yield* attempt(resolveProfile(registry, name, table, docFor))
      if (Option.isSome(profile)) profiles.set(name, profile.value)
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
    if (
      defaultsTable.sandbox !== undefined && !profiles.has(defaultsTable.sandbox) &&
      sandboxes[defaultsTable.sandbox] === undefined
    ) {
      const hint = didYouMean(defaultsTable.sandbox, [...profiles.keys()])
      problems.push(errorAt(
        docFor(["defaults", "sandbox"]),
        ["defaults", "sandbox"],
        `a profile (${[...profiles.keys()].join(", ")})`,
        JSON.stringify(defaultsTable.sandbox),
        hint ? `did you mean "${hint}"?` : undefined
      ))
    }
    if (defaultsTable.agent !== undefined && !agents.has(defaultsTable.agent)) {
      problems.push(errorAt(
        docFor(["defaults", "agent"]),
        ["defaults", "agent"],
        `an agent defined under [agents]`,
        JSON.stringify(defaultsTable.agent)
      ))
    }
    const hooks = Schema.decodeUnknownSync(Hooks)(merged["hooks"] ?? {})
    const hook = (keyPath: ReadonlyArray<string>, command: Command | undefined) =>
      command === undefined ? {} : { [keyPath.at(-1)!]: hookFrom(command, path.dirname(docFor(keyPath).file), path) }
    const s = hooks.sandbox
    const resolvedHooks: Hooks = s === undefined ? {} : {
      sandbox: {
        ...hook(["hooks", "sandbox", "prepare"], s.prepare),
        ...hook(["hooks", "sandbox", "ready"], s.ready),
        ...hook(["hooks", "sandbox", "stop"], s.stop),
        ...(s.sync === undefined ? {} : {
          sync: {
            ...hook(["hooks", "sandbox", "sync", "before"], s.sync.before),
            ...hook(["hooks", "sandbox", "sync", "after"], s.sync.after)
          }
        })
      }
    }
    return yield* done({
      files: source.files.map((f) => f.file),
      defaults: defaultsTable,
      profiles,
      agents,
      hooks: resolvedHooks
    })
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
