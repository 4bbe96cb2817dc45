/**
 * Agents: what a session launches in its sandbox.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Profile } from "./Profile.js"
import { EnvMap } from "./Profile.js"

/**
 * @since 0.1.0
 * @category models
 */
export const Protocol = Schema.Literal("command", "acp")

/**
 * An `[agents.<name>]` table.
 *
 * @since 0.1.0
 * @category models
 */
export const AgentInput = Schema.Struct({
  command: Schema.NonEmptyArray(Schema.String),
  protocol: Schema.optionalWith(Protocol, { default: () => "command" as const }),
  env: Schema.optionalWith(EnvMap, { default: () => ({}) })
})

/**
 * @since 0.1.0
 * @category models
 */
export class Agent extends Schema.Class<Agent>("@org/sandbox-core/Agent")({
  name: Schema.String,
  command: Schema.Array(Schema.String),
  protocol: Protocol,
  env: EnvMap
}) {}

/**
 * Where a profile runs its protocol agents: inside the sandbox unless the profile says `agent_location = "host"`.
 *
 * @since 0.1.0
 * @category resolution
 */
export const locationOf = (profile: Pick<Profile, "agent_location">): "host" | "sandbox" =>
  profile.agent_location ?? "sandbox"

/**
 * The one line said at the start of a session whose agent runs on the host, where nothing contains its own tools.
 *
 * @since 0.1.0
 * @category constants
 */
export const hostWarning = (agent: string): string =>
  `agent ${agent} runs on the host (agent_location = "host"): its own tools (search, edits, shell) run unsandboxed`
