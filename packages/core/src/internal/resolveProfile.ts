import { Effect, Schema } from "effect"
import { ProfileName } from "../Ids.js"
import { builtinLocal, defaultNetwork, defaults, Profile, ProfileFields, ProfileInput } from "../Profile.js"
import { type BackendDefinition, decodeTable, type Registry } from "../ProviderRegistry.js"
import type { ConfigError, UsageError } from "../SandboxError.js"
import { collector, describe, didYouMean, type DocText, errorAt, firstIssue, unknownKey } from "./configIssues.js"

const profileKeys = Object.keys(ProfileFields)

/** Decode a backend table with the backend's own schema, its problems named at their key paths. */
const backendTable = (
  definition: BackendDefinition,
  value: unknown,
  doc: DocText,
  at: ReadonlyArray<string>
): Effect.Effect<Record<string, unknown>, ConfigError> =>
  decodeTable(definition, value).pipe(
    Effect.mapError((error) => {
      const issue = firstIssue(error)
      const full = [...at, ...issue.path.map(String)]
      return issue.unexpectedKey
        ? unknownKey(doc, full, issue.unexpectedKey.known)
        : errorAt(doc, full, issue.expected, issue.got)
    }),
    Effect.map((decoded) => Schema.encodeSync(definition.configSchema)(decoded) as Record<string, unknown>)
  )

/**
 * Settings that would be accepted and then do nothing are refused here, each with its own line: backend-only keys
 * on another backend, `live` sync (not built yet). What a backend itself cannot honour is its `checkProfile`'s.
 */
const inertSettings = (
  definition: BackendDefinition,
  name: string,
  table: Record<string, unknown>,
  docFor: (keyPath: ReadonlyArray<string>) => DocText
): ReadonlyArray<ConfigError> => {
  const at = (key: string) => ["sandboxes", name, key]
  const problems: Array<ConfigError> = []
  const backend = definition.name
  for (const key of ["isolation", "network"] as const) {
    if (table[key] !== undefined && !(definition.profileKeys ?? []).includes(key)) {
      problems.push(
        errorAt(
          docFor(at(key)),
          at(key),
          `no ${key} for backend ${backend}`,
          describe(table[key]),
          `${key} applies to the local backend only`
        )
      )
    }
  }
  if (table["sync_mode"] === "live") {
    problems.push(
      errorAt(
        docFor(at("sync_mode")),
        at("sync_mode"),
        "none, seed or session-bidirectional",
        "\"live\"",
        "live sync is not available yet; use session-bidirectional and `sandbox-cli session sync`"
      )
    )
  }
  return problems
}

/**
 * Resolve one `[sandboxes.<name>]` table (merged over its files) into a profile: the backend must exist, its
 * table must decode, and every default is filled in. All of the profile's problems are reported together.
 */
export const resolveProfile = (
  registry: Registry,
  name: string,
  table: Record<string, unknown>,
  docFor: (keyPath: ReadonlyArray<string>) => DocText
): Effect.Effect<Profile, ConfigError | UsageError> =>
  Effect.gen(function*() {
    // `[sandboxes.local]` refines the built-in profile.
    const base = name === "local" ? (Schema.encodeSync(Profile)(builtinLocal) as Record<string, unknown>) : {}
    const entry = { ...base, ...table }
    const doc = docFor(["sandboxes", name])
    const backendNames = [...registry.backends.keys()]
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
    const { attempt, done, problems } = collector()
    let backendConfig: Record<string, unknown> | undefined
    for (const [key, value] of Object.entries(table)) {
      if (profileKeys.includes(key)) continue
      const docKey = docFor(["sandboxes", name, key])
      if (key === backend) {
        const decoded = yield* attempt(backendTable(definition, value, docKey, ["sandboxes", name, key]))
        backendConfig = decoded._tag === "Some" ? decoded.value : {}
      } else {
        problems.push(
          registry.backends.has(key)
            ? errorAt(
              docKey,
              ["sandboxes", name, key],
              `a [sandboxes.${name}.${backend}] table`,
              `a table for backend ${key}`,
              `this profile uses backend ${backend}`
            )
            : unknownKey(docKey, ["sandboxes", name, key], [...profileKeys, backend])
        )
      }
    }
    problems.push(...inertSettings(definition, name, table, docFor))
    if (backendConfig === undefined) {
      // Decode an empty table so backends with required keys report them.
      const decoded = yield* attempt(backendTable(definition, {}, doc, ["sandboxes", name, backend]))
      backendConfig = decoded._tag === "Some" ? decoded.value : {}
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
      ...(input.stop_grace !== undefined ? { stop_grace: input.stop_grace } : {}),
      backend_config: backendConfig,
      source: doc.file
    })
    const issue = definition.checkProfile?.(profile)
    if (issue !== undefined) {
      const at = ["sandboxes", name, issue.key]
      problems.push(errorAt(docFor(at), at, issue.expected, issue.got, issue.hint))
    }
    return yield* done(profile)
  })
