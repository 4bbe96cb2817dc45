/**
 * Lifecycle events: one per step, gap-free `seq` per session. Every event is also an Effect span.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { SandboxId, SessionId } from "./Ids.js"

/**
 * Every event type sandbox-cli records.
 *
 * @since 0.1.0
 * @category models
 */
export const EventType = Schema.Literal(
  "session.created",
  "session.running",
  "session.stopped",
  "session.failed",
  "session.crashed",
  "sandbox.prepare.start",
  "sandbox.prepare.complete",
  "sandbox.prepare.error",
  "sandbox.ready",
  /** A reuse session found its kept sandbox gone and created a fresh one. */
  "sandbox.replaced",
  "sandbox.sync.before",
  "sandbox.sync.after",
  "sandbox.sync.error",
  "sandbox.setup.start",
  "sandbox.setup.complete",
  "sandbox.setup.error",
  "sandbox.launch.start",
  "sandbox.launch.complete",
  "sandbox.launch.error",
  "sandbox.transport.open",
  "sandbox.transport.close",
  "sandbox.transport.error",
  "sandbox.stop.start",
  "sandbox.stop.complete",
  "sandbox.reconcile.plan",
  "sandbox.reconcile.start",
  "sandbox.reconcile.complete",
  "sandbox.reconcile.error"
)
/**
 * @since 0.1.0
 * @category models
 */
export type EventType = typeof EventType.Type

/**
 * An event as stored and as printed by `session events -o json`.
 *
 * @since 0.1.0
 * @category models
 */
export class SandboxEvent extends Schema.Class<SandboxEvent>("@org/sandbox-core/SandboxEvent")({
  seq: Schema.Int.pipe(Schema.positive()),
  at: Schema.DateTimeUtc,
  session_id: SessionId,
  sandbox_id: Schema.NullOr(SandboxId),
  type: EventType,
  attrs: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/**
 * An event before the store numbers it.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventInput {
  readonly session_id: SessionId
  readonly sandbox_id: SandboxId | null
  readonly type: EventType
  readonly attrs?: Record<string, unknown>
}
