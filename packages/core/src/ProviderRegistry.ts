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
import { fromPromiseProvider, type PromiseProvider } from "./PromiseProvider.js"
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
  /** Profile keys that only this backend honours (`isolation`, `network` for local). */
  readonly profileKeys?: ReadonlyArray<string>
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
 * What a third-party package exports in Promise form (as its default export or as `provider`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseProviderModule {
  readonly backend: string
  readonly contract_version: number
  /** An Effect Schema or any Standard Schema (zod, valibot, arktype) for the backend table. */
  readonly configSchema?: unknown
  readonly provider: (options: { readonly profile: typeof Profile.Encoded }) => Promise<PromiseProvider>
}

interface StandardSchemaLike {
  readonly "~standard": {
    readonly validate: (value: unknown) =>
      | {
        readonly value?: unknown
        readonly issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }>
      }
      | Promise<unknown>
  }
}

const isStandardSchema = (u: unknown): u is StandardSchemaLike =>
  typeof u === "object" && u !== null && "~standard" in u &&
  typeof (u as StandardSchemaLike)["~standard"].validate === "function"

const anyTable = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const fromStandardSchema = (schema: StandardSchemaLike): Schema.Schema<any, any, never> => {
  // Report the validator's own first issue, at its own path, so a config error names the key and says why.
  const check = (u: unknown, ast: SchemaAST.AST): Effect.Effect<unknown, ParseResult.ParseIssue> => {
    const result = schema["~standard"].validate(u)
    const issue = result instanceof Promise
      ? { message: "a config schema that validates synchronously" }
      : (result as { issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> }).issues?.[0]
    if (!issue) return ParseResult.succeed(u)
    const path = ("path" in issue ? issue.path ?? [] : []).map((p) =>
      (typeof p === "object" && p !== null && "key" in p ? (p as { key: PropertyKey }).key : p) as PropertyKey
    )
    const actual = path.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key], u)
    const described = SchemaAST.annotations(ast, { [SchemaAST.DescriptionAnnotationId]: issue.message })
    const leaf = new ParseResult.Type(described, actual, issue.message)
    const [head, ...rest] = path
    return ParseResult.fail(head !== undefined ? new ParseResult.Pointer([head, ...rest], u, leaf) : leaf)
  }
  return Schema.declare([], {
    decode: () => (u, _, ast) => check(u, ast),
    encode: () => (u, _, ast) => check(u, ast)
  })
}

const badModule = (source: string, detail: string) =>
  new ConfigError({ file: "<providers>", key_path: source, expected: "a sandbox-cli provider module", got: detail })

/**
 * Turn what a provider module exports into a backend definition: Effect form (`definition`, or a default
 * export with `make`) or Promise form (`provider`). Refuses another contract version.
 *
 * @since 0.1.0
 * @category constructors
 */
export const definitionFromModule = (mod: unknown, source: string): Effect.Effect<BackendDefinition, ConfigError> =>
  Effect.gen(function*() {
    const m = mod as Record<string, unknown> | null
    const candidate = (m?.["definition"] ?? m?.["default"] ?? m) as Record<string, unknown> | null
    if (!candidate || typeof candidate !== "object") return yield* badModule(source, "a module with no provider export")
    const name = candidate["name"] ?? candidate["backend"]
    if (typeof name !== "string") return yield* badModule(source, "an export without a backend name")
    const version = candidate["contract_version"]
    if (version !== CONTRACT_VERSION) {
      return yield* new ConfigError({
        file: "<providers>",
        key_path: source,
        expected: `a provider for contract version ${CONTRACT_VERSION}`,
        got: `contract version ${String(version)}`
      })
    }
    if (typeof candidate["make"] === "function") return candidate as unknown as BackendDefinition
    if (typeof candidate["provider"] !== "function") return yield* badModule(source, "neither make nor provider")
    const promiseModule = candidate as unknown as PromiseProviderModule
    const configSchema = Schema.isSchema(promiseModule.configSchema)
      ? (promiseModule.configSchema as Schema.Schema<any, any, never>)
      : isStandardSchema(promiseModule.configSchema)
      ? fromStandardSchema(promiseModule.configSchema)
      : anyTable
    const definition: BackendDefinition = {
      name,
      contract_version: CONTRACT_VERSION,
      configSchema,
      make: ({ profile }) =>
        Effect.acquireRelease(
          Effect.tryPromise({
            try: () => promiseModule.provider({ profile: Schema.encodeSync(Profile)(profile) }),
            catch: (cause) =>
              ProviderError.of({ provider: name, operation: "init", reason: "Unknown", detail: String(cause), cause })
          }),
          (p) =>
            Effect.tryPromise(async () => {
              await p.close?.()
            }).pipe(Effect.ignore)
        ).pipe(Effect.map(fromPromiseProvider))
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
          catch: (cause) =>
            badModule(
              entry.source,
              `a module that failed to load: ${cause instanceof Error ? cause.message : String(cause)}`
            )
        }).pipe(
          Effect.flatMap((mod) => definitionFromModule(mod, entry.source)),
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
