/**
 * Sandbox profiles: how and where a session's sandbox runs.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ProfileName } from "./Ids.js"

/**
 * @since 0.1.0
 * @category models
 */
export const SyncMode = Schema.Literal("none", "seed", "session-bidirectional", "live")
/**
 * @since 0.1.0
 * @category models
 */
export type SyncMode = typeof SyncMode.Type

/**
 * @since 0.1.0
 * @category models
 */
export const Persistence = Schema.Literal("transient", "archive", "reuse")
/**
 * @since 0.1.0
 * @category models
 */
export type Persistence = typeof Persistence.Type

/**
 * @since 0.1.0
 * @category models
 */
export const Seed = Schema.Literal("tree", "git")

/**
 * How a protocol (ACP) agent's permission requests are answered: `allow-in-sandbox` (its tools run in the
 * sandbox anyway), `deny`, or `ask` the person at the terminal (only with a terminal attached).
 *
 * @since 0.1.0
 * @category models
 */
export const Permissions = Schema.Literal("allow-in-sandbox", "deny", "ask")

/**
 * Where a protocol agent's own process runs: on the `host` (its tools still run in the sandbox) or in the
 * `sandbox` (needs a backend that carries stdio both ways).
 *
 * @since 0.1.0
 * @category models
 */
export const AgentLocation = Schema.Literal("host", "sandbox")

/**
 * A command: an argv array, or a string run by `sh -c`.
 *
 * @since 0.1.0
 * @category models
 */
export const Command = Schema.Union(Schema.NonEmptyArray(Schema.String), Schema.NonEmptyString)
/**
 * @since 0.1.0
 * @category models
 */
export type Command = typeof Command.Type

/**
 * @since 0.1.0
 * @category models
 */
export const EnvMap = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * @since 0.1.0
 * @category models
 */
export const Resources = Schema.Struct({
  cpu: Schema.optional(Schema.Number.pipe(Schema.positive())),
  memory_gib: Schema.optional(Schema.Number.pipe(Schema.positive())),
  disk_gib: Schema.optional(Schema.Number.pipe(Schema.positive())),
  gpu: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
})

/**
 * How long a command asked to stop (SIGTERM) may take to clean up before it is killed: `"10s"`, `"500ms"`, `"1m"`.
 *
 * @since 0.1.0
 * @category models
 */
export const StopGrace = Schema.String.pipe(
  Schema.pattern(/^\d+(ms|s|m)$/),
  Schema.annotations({ message: () => "a duration such as \"10s\", \"500ms\" or \"1m\"" })
)

/**
 * The grace period a profile gives a stopping command, in milliseconds (default 10 s).
 *
 * @since 0.1.0
 * @category accessors
 */
export const stopGraceMillis = (profile: { readonly stop_grace?: string | undefined }): number => {
  const match = /^(\d+)(ms|s|m)$/.exec(profile.stop_grace ?? "10s")
  if (match === null) return 10_000
  const unit = match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 60_000
  return Number(match[1]) * unit
}

/**
 * The keys a `[sandboxes.<name>]` table may hold besides its backend table (and the keys its backend claims for
 * the profile table, `BackendDefinition.profileKeys`). Every key is optional in a file; `resolve` fills the
 * defaults after files are merged.
 *
 * @since 0.1.0
 * @category models
 */
export const ProfileFields = {
  backend: Schema.optional(Schema.String.pipe(Schema.pattern(/^[a-z][a-z0-9-]*$/))),
  sync_mode: Schema.optional(SyncMode),
  persistence: Schema.optional(Persistence),
  runtime_root: Schema.optional(Schema.NonEmptyString),
  include: Schema.optional(Schema.Array(Schema.String)),
  exclude: Schema.optional(Schema.Array(Schema.String)),
  seed: Schema.optional(Seed),
  setup: Schema.optional(Schema.Array(Command)),
  env: Schema.optional(EnvMap),
  resources: Schema.optional(Resources),
  permissions: Schema.optional(Permissions),
  agent_location: Schema.optional(AgentLocation),
  stop_grace: Schema.optional(StopGrace)
} as const

/**
 * A profile as written in one config file: every key optional, backend tables kept apart.
 *
 * @since 0.1.0
 * @category models
 */
export const ProfileInput = Schema.Struct(ProfileFields)
/**
 * @since 0.1.0
 * @category models
 */
export type ProfileInput = typeof ProfileInput.Type

/**
 * A resolved profile: defaults applied, backend table decoded by the backend's own schema (kept as JSON).
 *
 * @since 0.1.0
 * @category models
 */
export class Profile extends Schema.Class<Profile>("@org/sandbox-core/Profile")({
  name: ProfileName,
  backend: Schema.String,
  sync_mode: SyncMode,
  persistence: Persistence,
  runtime_root: Schema.optional(Schema.String),
  include: Schema.Array(Schema.String),
  exclude: Schema.Array(Schema.String),
  seed: Seed,
  setup: Schema.Array(Command),
  env: EnvMap,
  resources: Resources,
  /** ACP agents: how permission requests are answered (default `allow-in-sandbox`). */
  permissions: Schema.optional(Permissions),
  /** ACP agents: where the agent process runs (default `sandbox`; see `Agent.locationOf`). */
  agent_location: Schema.optional(AgentLocation),
  /** How long a stopping command may clean up after SIGTERM before SIGKILL (default `10s`). */
  stop_grace: Schema.optional(Schema.String),
  /**
   * The backend table as written (its schema checked it), with the keys the backend claims on the profile table
   * (`BackendDefinition.profileKeys`) merged in: the backend decodes it with its own schema.
   */
  backend_config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** Where the profile came from: a config file path or `<built-in>`. */
  source: Schema.String
}) {}

/**
 * Defaults for every optional profile key.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  sync_mode: "session-bidirectional",
  persistence: "transient",
  seed: "tree"
} as const

/**
 * The built-in `local` profile: a throwaway copy of the workspace on the host whose changes come home.
 *
 * @since 0.1.0
 * @category constants
 */
export const builtinLocal: Profile = Profile.make({
  name: ProfileName.make("local"),
  backend: "local",
  sync_mode: "session-bidirectional",
  persistence: "transient",
  include: [],
  exclude: [],
  seed: "tree",
  setup: [],
  env: {},
  resources: {},
  backend_config: {},
  source: "<built-in>"
})

/**
 * The paths a sync never moves unless a profile's `include` says so.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExcludes: ReadonlyArray<string> = [
  ".git/",
  "node_modules/",
  "__pycache__/",
  ".venv/",
  "venv/",
  ".tox/"
]
