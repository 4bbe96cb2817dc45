/**
 * Backends by name. Built-in backends and those from third-party packages (`[providers]`) are registered
 * lazily, so a backend's heavy dependencies load only when a profile uses it.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { Scope } from "effect"
import { Context, Effect, Layer, ParseResult, Schema, SchemaAST } from "effect"
import { Profile } from "./Profile.js"
import { fromPromiseProvider } from "./PromiseAdapter.js"
import type { PromiseProfile, PromiseProviderModule } from "./PromiseProvider.js"
import { ConfigError, ProviderError, UsageError } from "./SandboxError.js"
import { CONTRACT_VERSION, type Service } from "./SandboxProvider.js"

/**
 * The services a provider may use from the platform.
 *
 * @since 0.1.0
 * @category models
 */
export type ProviderEnv = FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor

/**
 * A problem found in a backend table by a non-Effect validator.
 *
 * @since 0.1.0
 * @category models
 */
export interface TableIssue {
  readonly path: ReadonlyArray<string>
  readonly message: string
}

/**
 * A profile key set to something a backend cannot honour.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProfileIssue {
  /** The profile key, e.g. `network`. */
  readonly key: string
  readonly expected: string
  readonly got: string
  readonly hint?: string
}

/**
 * A backend: its config table's schema and how to build a provider for a profile.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackendDefinition {
  readonly name: string
  readonly contract_version: number
  /** Decodes the `[sandboxes.<profile>.<backend>]` table (unknown keys should be errors). */
  readonly configSchema: Schema.Schema<any, any, never>
  /**
   * Keys of this backend's table that may also be written on the profile table itself (`[sandboxes.<p>] key = …`).
   * They are merged into the backend table and decoded by `configSchema` like the rest of it; on a profile of
   * another backend they are refused.
   */
  readonly profileKeys?: ReadonlyArray<string>
  /**
   * The first profile setting this backend cannot honour, checked when config is resolved so the error names
   * the file, line and key.
   */
  readonly checkProfile?: (profile: Profile) => ProfileIssue | undefined
  readonly make: (
    options: { readonly profile: Profile }
  ) => Effect.Effect<Service, ProviderError | ConfigError, Scope.Scope | ProviderEnv>
}

/**
 * A registered backend, loaded on first use.
 *
 * @since 0.1.0
 * @category models
 */
export interface LazyBackend {
  readonly name: string
  /** `built-in`, or the package or path it comes from. */
  readonly source: string
  readonly load: () => Promise<unknown>
  /**
   * The profile keys it claims (`BackendDefinition.profileKeys`) when they are known without loading it: a profile
   * of another backend that sets one is told which backend it belongs to.
   */
  readonly profileKeys?: ReadonlyArray<string>
  /** The config file and line that name it under `[providers]`, for load errors. */
  readonly file?: string
  readonly line?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  readonly backends: ReadonlyMap<string, LazyBackend>
  readonly get: (name: string) => Effect.Effect<BackendDefinition, ConfigError | UsageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class ProviderRegistry extends Context.Tag("@org/sandbox-core/ProviderRegistry")<ProviderRegistry, Registry>() {}

/**
 * What a third-party package exports in Promise form (see `PromiseProvider`).
 *
 * @since 0.1.0
 * @category models
 */
export type { PromiseProviderModule }

interface StandardIssue {
  readonly message: string
  readonly path?: ReadonlyArray<unknown>
}

type StandardResult = { readonly value?: unknown; readonly issues?: ReadonlyArray<StandardIssue> }

interface StandardSchemaLike {
  readonly "~standard": { readonly validate: (value: unknown) => StandardResult | Promise<StandardResult> }
}

const isStandardSchema = (u: unknown): u is StandardSchemaLike =>
  typeof u === "object" && u !== null && "~standard" in u &&
  typeof (u as StandardSchemaLike)["~standard"].validate === "function"

const anyTable = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * What a validator's message says was expected, in the words of a config error ("expected X, got Y"): zod's
 * "Invalid input: expected string, received number" becomes "string"; a message without "expected" is kept whole.
 */
const expectedFrom = (message: string): string => {
  const m = /^(?:[^:]*:\s*)?expected\s+(.*?)(?:,\s*received\s+.*)?$/i.exec(message.trim())
  return m?.[1] ? m[1] : message.trim()
}

/** Validate with a Standard Schema, awaiting an async validator; a validator that throws is a failed check. */
const validateStandard = (schema: StandardSchemaLike, u: unknown): Effect.Effect<StandardResult> =>
  Effect.suspend(() => {
    const result = schema["~standard"].validate(u)
    return result instanceof Promise ? Effect.promise(() => result) : Effect.succeed(result)
  }).pipe(
    Effect.catchAllDefect((cause) =>
      Effect.succeed({ issues: [{ message: cause instanceof Error ? cause.message : String(cause) }] })
    )
  )

const fromStandardSchema = (schema: StandardSchemaLike): Schema.Schema<any, any, never> => {
  // Report the validator's own first issue, at its own path, so a config error names the key and says why. The
  // decoded value is the validator's output (zod's .default() and .transform() included); a Standard Schema has no
  // encoder, so encoding gives back the table that output was decoded from: the profile keeps the table as written.
  const written = new WeakMap<object, unknown>()
  const decode = (u: unknown, ast: SchemaAST.AST): Effect.Effect<unknown, ParseResult.ParseIssue> =>
    Effect.flatMap(validateStandard(schema, u), (result) => {
      const issue = result.issues?.[0]
      if (!issue) {
        const value = "value" in result ? result.value : u
        if (typeof value === "object" && value !== null) written.set(value, u)
        return ParseResult.succeed(value)
      }
      const path = (issue.path ?? []).map((p) =>
        (typeof p === "object" && p !== null && "key" in p ? (p as { key: PropertyKey }).key : p) as PropertyKey
      )
      const actual = path.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key], u)
      const expected = expectedFrom(issue.message)
      const described = SchemaAST.annotations(ast, { [SchemaAST.DescriptionAnnotationId]: expected })
      const leaf = new ParseResult.Type(described, actual, expected)
      const [head, ...rest] = path
      return ParseResult.fail(head !== undefined ? new ParseResult.Pointer([head, ...rest], u, leaf) : leaf)
    })
  return Schema.declare([], {
    decode: () => (u, _, ast) => decode(u, ast),
    encode: () => (u) => ParseResult.succeed(typeof u === "object" && u !== null && written.has(u) ? written.get(u) : u)
  }, { [ValidatorOutput]: true })
}

/** Marks a backend table schema made from a Standard Schema: its decoded output is the table with its defaults. */
const ValidatorOutput: unique symbol = Symbol.for("@org/sandbox-core/ProviderRegistry/ValidatorOutput")

/**
 * A backend's table with every default its schema fills in, as `profile show` prints it: an Effect schema's
 * encoded form of what it decodes; a Standard Schema's validated output (zod's `.default()` and `.transform()`
 * included), since such a schema has no encoder. A table that does not validate is shown as written.
 *
 * @since 0.2.0
 * @category constructors
 */
export const settingsOf = (
  definition: BackendDefinition,
  table: Readonly<Record<string, unknown>>
): Effect.Effect<Readonly<Record<string, unknown>>> => {
  const schema = definition.configSchema
  const decoded = Schema.decodeUnknown(schema)(table)
  const filled = SchemaAST.getAnnotation(schema.ast, ValidatorOutput)._tag === "Some"
    ? decoded
    : Effect.flatMap(decoded, Schema.encode(schema))
  return filled.pipe(
    Effect.map((value) => (typeof value === "object" && value !== null ? value : table) as Record<string, unknown>),
    Effect.orElseSucceed(() => table)
  )
}

const badModule = (backend: LazyBackend, detail: string, hint?: string) =>
  new ConfigError({
    file: backend.file ?? "<providers>",
    key_path: `providers.${backend.name}`,
    expected: `a sandbox-cli provider module at ${JSON.stringify(backend.source)}`,
    got: detail,
    ...(backend.line !== undefined ? { line: backend.line } : {}),
    ...(hint !== undefined ? { hint } : {})
  })

/** The first line of an error's message: Node's module errors add lines (and stacks) that belong in --verbose. */
const firstLine = (cause: unknown): string =>
  (cause instanceof Error ? cause.message : String(cause)).split("\n")[0]!.trim()

const isPackageName = (spec: string): boolean => !spec.startsWith(".") && !spec.startsWith("/")

const loadFailure = (backend: LazyBackend, cause: unknown): ConfigError => {
  const code = (cause as { code?: unknown } | null)?.code
  const missing = (cause as { notInstalled?: unknown } | null)?.notInstalled === true ||
    code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND"
  const hint = !missing
    ? undefined
    : isPackageName(backend.source)
    ? `install it beside the config file: npm install ${backend.source}`
    : "check the path; it is relative to the config file"
  return badModule(backend, `a module that failed to load: ${firstLine(cause)}`, hint)
}

/**
 * The profile a Promise-form provider sees: plain JSON, with its backend table as the backend's schema decodes it
 * (defaults filled in, transforms applied), the same in the module's factory and in every `create`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const promiseProfile = (
  configSchema: Schema.Schema<any, any, never>,
  profile: Profile
): Effect.Effect<PromiseProfile, ConfigError> =>
  ParseResult.decodeUnknown(configSchema)(profile.backend_config).pipe(
    Effect.mapError((issue) =>
      new ConfigError({
        file: profile.source,
        key_path: `sandboxes.${profile.name}.${profile.backend}`,
        expected: `a table the ${profile.backend} backend accepts`,
        got: ParseResult.TreeFormatter.formatIssueSync(issue).split("\n")[0]!
      })
    ),
    Effect.map((decoded) => ({
      ...(Schema.encodeSync(Profile)(profile) as PromiseProfile),
      backend_config: decoded as Readonly<Record<string, unknown>>
    }))
  )

/**
 * Turn what a provider module exports into a backend definition: Effect form (`definition`, or a default
 * export with `make`) or Promise form (`provider`). Refuses another contract version.
 *
 * @since 0.1.0
 * @category constructors
 */
export const definitionFromModule = (
  mod: unknown,
  source: string | LazyBackend
): Effect.Effect<BackendDefinition, ConfigError> =>
  Effect.gen(function*() {
    const origin: LazyBackend = typeof source === "string"
      ? { name: source, source, load: () => Promise.resolve(mod) }
      : source
    const m = mod as Record<string, unknown> | null
    const candidate = (m?.["definition"] ?? m?.["default"] ?? m) as Record<string, unknown> | null
    if (!candidate || typeof candidate !== "object") return yield* badModule(origin, "a module with no provider export")
    const name = candidate["name"] ?? candidate["backend"]
    if (typeof name !== "string") return yield* badModule(origin, "an export without a backend name")
    const version = candidate["contract_version"]
    if (version !== CONTRACT_VERSION) {
      return yield* badModule(
        origin,
        `a provider for contract version ${String(version)}`,
        `this sandbox-cli speaks contract version ${CONTRACT_VERSION}`
      )
    }
    if (typeof candidate["make"] === "function") return candidate as unknown as BackendDefinition
    if (typeof candidate["provider"] !== "function") return yield* badModule(origin, "neither make nor provider")
    const promiseModule = candidate as unknown as PromiseProviderModule
    const configSchema = Schema.isSchema(promiseModule.configSchema)
      ? (promiseModule.configSchema as unknown as Schema.Schema<any, any, never>)
      : isStandardSchema(promiseModule.configSchema)
      ? fromStandardSchema(promiseModule.configSchema)
      : anyTable
    const definition: BackendDefinition = {
      name,
      contract_version: CONTRACT_VERSION,
      configSchema,
      ...(promiseModule.profileKeys !== undefined ? { profileKeys: promiseModule.profileKeys } : {}),
      make: ({ profile }) =>
        Effect.gen(function*() {
          const plain = yield* promiseProfile(configSchema, profile)
          const provider = yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: () => promiseModule.provider({ profile: plain }),
              catch: (cause) =>
                ProviderError.of({
                  provider: name,
                  operation: "init",
                  reason: "Unknown",
                  detail: firstLine(cause),
                  cause
                })
            }),
            (p) =>
              Effect.tryPromise(async () => {
                await p.close?.()
              }).pipe(Effect.ignore)
          )
          return fromPromiseProvider(provider, plain)
        })
    }
    return definition
  })

/**
 * Build a registry from lazy backends. Loading happens at most once per backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (backends: ReadonlyArray<LazyBackend>): Registry => {
  const byName = new Map(backends.map((b) => [b.name, b]))
  const cache = new Map<string, Effect.Effect<BackendDefinition, ConfigError>>()
  return {
    backends: byName,
    get: (name) => {
      const entry = byName.get(name)
      if (!entry) {
        const known = [...byName.keys()].join(", ")
        return Effect.fail(
          new UsageError({ detail: `unknown backend "${name}" (known: ${known}; add others under [providers])` })
        )
      }
      let loaded = cache.get(name)
      if (!loaded) {
        loaded = Effect.tryPromise({
          try: entry.load,
          catch: (cause) => loadFailure(entry, cause)
        }).pipe(
          Effect.flatMap((mod) => definitionFromModule(mod, entry)),
          Effect.cached,
          Effect.runSync
        )
        cache.set(name, loaded)
      }
      return loaded
    }
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (backends: ReadonlyArray<LazyBackend>): Layer.Layer<ProviderRegistry> =>
  Layer.succeed(ProviderRegistry, make(backends))

/**
 * Decode a backend table with its definition's schema, as a `ConfigError` naming the key path.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeTable = (definition: BackendDefinition, table: unknown) =>
  ParseResult.decodeUnknown(definition.configSchema, { onExcessProperty: "error", errors: "first" })(table)
