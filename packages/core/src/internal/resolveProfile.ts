import { Effect, ParseResult, Schema } from "effect"
import { ProfileName } from "../Ids.js"
import { builtinLocal, defaults, Profile, ProfileFields, ProfileInput } from "../Profile.js"
import { type BackendDefinition, decodeTable, type Registry } from "../ProviderRegistry.js"
import type { ConfigError, UsageError } from "../SandboxError.js"
import { collector, describe, didYouMean, type DocText, errorAt, firstIssue, unknownKey } from "./configIssues.js"

const profileKeys = Object.keys(ProfileFields)

const isTable = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Decode a backend's settings with its own schema: its table, with the keys it claims on the profile table merged
 * in. A problem is named where it was written: `sandboxes.<p>.<key>` for a claimed key set on the profile table,
 * `sandboxes.<p>.<backend>.<key>` otherwise.
 */
const backendTable = (
  definition: BackendDefinition,
  value: unknown,
  onProfile: ReadonlySet<string>,
  profileAt: ReadonlyArray<string>,
  docOf: (written: ReadonlyArray<string>) => DocText
): Effect.Effect<Record<string, unknown>, ConfigError> =>
  decodeTable(definition, value).pipe(
    Effect.mapError((error) => {
      const issue = firstIssue(error)
      const [head, ...rest] = issue.path.map(String)
      const written = head !== undefined && onProfile.has(head)
        ? [...profileAt, head]
        : [...profileAt, definition.name, ...(head !== undefined ? [head] : [])]
      const full = [...written, ...rest]
      return issue.unexpectedKey
        ? unknownKey(docOf(written), full, issue.unexpectedKey.known)
        : errorAt(docOf(written), full, issue.expected, issue.got)
    }),
    Effect.map((decoded) => Schema.encodeSync(definition.configSchema)(decoded) as Record<string, unknown>)
  )

/** The backends, other than `except`, that claim `key` on the profile table (as far as known without loading). */
const claimedElsewhere = (registry: Registry, key: string, except: string): ReadonlyArray<string> =>
  [...registry.backends.values()].filter((b) => b.name !== except && (b.profileKeys ?? []).includes(key)).map((b) =>
    b.name
  )

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
    const { attempt, done, problems } = collector()
    // Each key of every profile on its own, so that every wrong value is reported, in the file that wrote it.
    for (const [key, value] of Object.entries(table)) {
      if (!profileKeys.includes(key)) continue
      yield* attempt(
        ParseResult.decodeUnknown(ProfileInput, { onExcessProperty: "error", errors: "first" })({ [key]: value }).pipe(
          Effect.mapError((error) => {
            const issue = firstIssue(error)
            const at = ["sandboxes", name, ...issue.path.map(String)]
            return issue.unexpectedKey
              ? unknownKey(docFor(["sandboxes", name, key]), at, issue.unexpectedKey.known)
              : errorAt(docFor(["sandboxes", name, key]), at, issue.expected, issue.got)
          })
        )
      )
    }
    const backendNames = [...registry.backends.keys()]
    const backend = entry["backend"]
    if (typeof backend !== "string" || !registry.backends.has(backend)) {
      const hint = typeof backend === "string" ? didYouMean(backend, backendNames) : undefined
      problems.push(
        typeof backend !== "string"
          ? errorAt(
            doc,
            ["sandboxes", name, "backend"],
            `one of ${backendNames.join(", ")}`,
            "nothing (the key is required)"
          )
          : errorAt(
            docFor(["sandboxes", name, "backend"]),
            ["sandboxes", name, "backend"],
            `one of ${backendNames.join(", ")}`,
            JSON.stringify(backend),
            hint
              ? `did you mean "${hint}"? Third-party backends go under [providers]`
              : "third-party backends go under [providers]"
          )
      )
      return yield* done(builtinLocal)
    }
    const definition = yield* registry.get(backend)
    const claimed = new Set(definition.profileKeys ?? [])
    // The backend's own settings: its table, and the keys it claims that are set on the profile table.
    let settings: Record<string, unknown> = {}
    const onProfile = new Set<string>()
    for (const [key, value] of Object.entries(table)) {
      if (profileKeys.includes(key)) continue
      const at = ["sandboxes", name, key]
      const docKey = docFor(at)
      if (key === backend) {
        if (isTable(value)) settings = { ...value, ...settings }
        else problems.push(errorAt(docKey, at, `a [sandboxes.${name}.${backend}] table`, describe(value)))
      } else if (claimed.has(key)) {
        settings = { ...settings, [key]: value }
        onProfile.add(key)
      } else if (registry.backends.has(key)) {
        problems.push(
          errorAt(
            docKey,
            at,
            `a [sandboxes.${name}.${backend}] table`,
            `a table for backend ${key}`,
            `this profile uses backend ${backend}`
          )
        )
      } else {
        const others = claimedElsewhere(registry, key, backend)
        problems.push(
          others.length > 0
            ? errorAt(
              docKey,
              at,
              `no ${key} for backend ${backend}`,
              describe(value),
              `${key} applies to backend ${others.join(", ")} only`
            )
            : unknownKey(docKey, at, [...profileKeys, ...claimed, backend])
        )
      }
    }
    const inTable = isTable(table[backend]) ? (table[backend] as Record<string, unknown>) : {}
    for (const key of onProfile) {
      if (key in inTable) {
        const at = ["sandboxes", name, key]
        problems.push(
          errorAt(
            docFor(at),
            at,
            `${key} set once`,
            `${key} in both [sandboxes.${name}] and [sandboxes.${name}.${backend}]`,
            "keep one of them"
          )
        )
      }
    }
    // Decode even an empty table, so that backends with required keys report them. A problem is named in the file
    // that wrote the key, else the one that wrote the backend table, else the one that wrote the profile.
    const docOf = (written: ReadonlyArray<string>) =>
      table[backend] === undefined && written.length > 3
        ? docFor(["sandboxes", name])
        : docFor(written.length > 3 && !(written[3]! in inTable) ? written.slice(0, 3) : written)
    const decoded = yield* attempt(backendTable(definition, settings, onProfile, ["sandboxes", name], docOf))
    const backendConfig = decoded._tag === "Some" ? decoded.value : {}
    // A profile with wrong values is not built: what is wrong so far is the report.
    if (problems.length > 0) return yield* done(builtinLocal)
    const input = Schema.decodeUnknownSync(ProfileInput)(
      Object.fromEntries(Object.entries(entry).filter(([k]) => profileKeys.includes(k)))
    )
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
      ...(input.permissions !== undefined ? { permissions: input.permissions } : {}),
      ...(input.agent_location !== undefined ? { agent_location: input.agent_location } : {}),
      ...(input.stop_grace !== undefined ? { stop_grace: input.stop_grace } : {}),
      backend_config: backendConfig,
      source: doc.file
    })
    const issue = definition.checkProfile?.(profile)
    if (issue !== undefined) {
      // A key the backend claims may sit in its table.
      const at = issue.key in inTable ? ["sandboxes", name, backend, issue.key] : ["sandboxes", name, issue.key]
      problems.push(errorAt(docFor(at), at, issue.expected, issue.got, issue.hint))
    }
    return yield* done(profile)
  })
