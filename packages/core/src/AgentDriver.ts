/**
 * Protocol agents (`protocol = "acp"`): what the session lifecycle needs from an ACP client, so that core
 * stays free of the client itself (the CLI supplies one, loaded only when an ACP agent runs).
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import type { Agent } from "./Agent.js"
import type { EventType } from "./Event.js"
import type { HistoryEntry } from "./History.js"
import type { Profile } from "./Profile.js"
import type { ExecError, UsageError } from "./SandboxError.js"
import type { Instance, Service as ProviderService } from "./SandboxProvider.js"

/**
 * How one prompt turn ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface TurnResult {
  readonly turn: number
  readonly stop_reason: string
}

/**
 * A live connection to a protocol agent with one open session.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentConnection {
  /** Where the agent process runs. */
  readonly location: "host" | "sandbox"
  /** Send a prompt and run until the turn ends; a crash of the agent fails it with a clear error. */
  readonly prompt: (text: string) => Effect.Effect<TurnResult, ExecError>
  /** Completes when the agent process has exited, with its exit code. */
  readonly exited: Effect.Effect<number | null>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  readonly agent: Agent
  readonly profile: Profile
  readonly provider: ProviderService
  readonly instance: Instance
  /** The session's environment for the sandbox (profile env and what hooks added). */
  readonly env: Readonly<Record<string, string>>
  /** Turns, messages, tool calls and permission decisions, in order. */
  readonly onHistory: (entry: HistoryEntry) => Effect.Effect<void>
  /** `sandbox.transport.*` events. */
  readonly onEvent: (type: EventType, attrs: Record<string, unknown>) => Effect.Effect<void>
}

/**
 * Starts protocol agents. The scope owns the agent process and its connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentDriver {
  readonly start: (options: StartOptions) => Effect.Effect<AgentConnection, ExecError | UsageError, Scope.Scope>
}
