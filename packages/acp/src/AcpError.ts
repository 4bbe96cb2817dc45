/**
 * Errors of an ACP agent connection: the agent could not start, exited, or broke the protocol.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Why an agent connection failed.
 *
 * - `Spawn`: the agent command could not be started.
 * - `AgentExited`: the agent process ended before the turn did.
 * - `Protocol`: the agent sent something ACP does not allow (a malformed reply, another protocol version).
 * - `Refused`: the agent answered a request with an error (e.g. it needs authentication).
 * - `Unsupported`: the requested launch is not possible with this backend.
 *
 * @since 0.1.0
 * @category models
 */
export const AcpErrorReason = Schema.Literal("Spawn", "AgentExited", "Protocol", "Refused", "Unsupported")
/**
 * @since 0.1.0
 * @category models
 */
export type AcpErrorReason = typeof AcpErrorReason.Type

/**
 * An ACP agent connection failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class AcpError extends Schema.TaggedError<AcpError>("@org/sandbox-acp/AcpError")("AcpError", {
  /** The agent's name (its `[agents.<name>]` table) or its command. */
  agent: Schema.String,
  reason: AcpErrorReason,
  detail: Schema.String,
  /** The JSON-RPC error code the agent answered with (`Refused`). */
  code: Schema.optional(Schema.Number),
  /** The agent's exit code, when it exited. */
  exit_code: Schema.optional(Schema.NullOr(Schema.Number)),
  /** The last lines the agent wrote to stderr, for `AgentExited` and `Spawn`. */
  stderr: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const lastLine = this.stderr?.trim().split("\n").at(-1)
    const tail = lastLine ? ` (agent stderr: ${lastLine})` : ""
    return `agent ${this.agent}: ${this.detail}${tail}`
  }
}
