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
 * An environment variable name, as `pass_env` lists them.
 *
 * @since 0.1.0
 * @category models
 */
export const EnvName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: () => "an environment variable name" })
)

/**
 * The values of an agent's `pass_env` variables, looked up in the environment the agent starts from. A name
 * that is not set is an error naming it (its value would be the secret, so nothing else is said).
 *
 * @since 0.1.0
 * @category resolution
 */
export const passedEnv = (
  agent: Pick<Agent, "name" | "pass_env">,
  lookup: (name: string) => string | undefined
): { readonly _tag: "Right"; readonly env: Record<string, string> } | {
  readonly _tag: "Left"
  readonly missing: string
} => {
  const env: Record<string, string> = {}
  for (const name of agent.pass_env) {
    const value = lookup(name)
    if (value === undefined) return { _tag: "Left", missing: name }
    env[name] = value
  }
  return { _tag: "Right", env }
}

/**
 * An `[agents.<name>]` table.
 *
 * @since 0.1.0
 * @category models
 */
export const AgentInput = Schema.Struct({
  command: Schema.NonEmptyArray(Schema.String),
  protocol: Schema.optionalWith(Protocol, { default: () => "command" as const }),
  env: Schema.optionalWith(EnvMap, { default: () => ({}) }),
  pass_env: Schema.optionalWith(Schema.Array(EnvName), { default: () => [] })
})

/**
 * @since 0.1.0
 * @category models
 */
export class Agent extends Schema.Class<Agent>("@org/sandbox-core/Agent")({
  name: Schema.String,
  command: Schema.Array(Schema.String),
  protocol: Protocol,
  env: EnvMap,
  /**
   * Names of host environment variables (credentials such as `ANTHROPIC_API_KEY`) whose values are read when the
   * agent starts and given to the agent process alone: never to other commands, and never written anywhere.
   */
  pass_env: Schema.optionalWith(Schema.Array(EnvName), { default: () => [] })
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
