/**
 * The history and transport events of one ACP connection, in the order things happened: one queue, one writer.
 * Streamed message chunks are gathered into one entry; session updates become entries (a tool call once).
 */
import { HistoryEntry } from "@org/sandbox-core/History"
import type { Effect as E } from "effect"
import { DateTime, Deferred, Effect, Queue } from "effect"
import { clip } from "./text.js"

/** The `sandbox.transport.*` event types a connection records. */
export type TransportEvent = "sandbox.transport.open" | "sandbox.transport.close" | "sandbox.transport.error"

type Item =
  | { readonly _tag: "History"; readonly entry: HistoryEntry }
  | { readonly _tag: "Event"; readonly type: TransportEvent; readonly attrs: Record<string, unknown> }
  | { readonly _tag: "Flush"; readonly done: Deferred.Deferred<void> }

/** How long streamed message chunks gather before they are written as one history entry. */
const CHUNK_WINDOW_MS = 250

/** Updates that say nothing a history reader needs. */
const QUIET_UPDATES = new Set(["available_commands_update", "usage_update", "user_message_chunk"])

const contentText = (content: unknown): string => {
  if (content !== null && typeof content === "object" && "type" in content) {
    if (content.type === "text" && "text" in content && typeof content.text === "string") return content.text
    return `[${String(content.type)}]`
  }
  return ""
}

/** Start the writer (it belongs to the scope) and return what records into it. */
export const make = (
  onHistory: (entry: HistoryEntry) => E.Effect<void>,
  onEvent: (type: TransportEvent, attrs: Record<string, unknown>) => E.Effect<void>
) =>
  Effect.gen(function*() {
    const items = yield* Queue.unbounded<Item>()
    yield* Queue.take(items).pipe(
      Effect.flatMap((item) => {
        switch (item._tag) {
          case "History":
            return onHistory(item.entry)
          case "Event":
            return onEvent(item.type, item.attrs)
          case "Flush":
            return Deferred.succeed(item.done, undefined)
        }
      }),
      Effect.forever,
      Effect.forkScoped
    )
    let pending: { kind: "message" | "thought"; text: string; at: DateTime.Utc } | null = null
    const push = (entry: HistoryEntry) => Queue.unsafeOffer(items, { _tag: "History", entry })
    // Streamed chunks are gathered into one entry, written once something else happens or a moment passes (so a
    // person following the history sees a message while the agent is still busy).
    let timer: ReturnType<typeof setTimeout> | undefined
    const flushPending = () => {
      if (timer !== undefined) {
        clearTimeout(timer)
        timer = undefined
      }
      if (pending === null) return
      push(HistoryEntry.make({ at: pending.at, kind: pending.kind, text: pending.text }))
      pending = null
    }
    const record = (kind: string, text: string, data?: Record<string, unknown>) => {
      flushPending()
      push(HistoryEntry.make({ at: DateTime.unsafeNow(), kind, text, ...(data ? { data } : {}) }))
    }
    const event = (type: TransportEvent, attrs: Record<string, unknown>) => {
      flushPending()
      Queue.unsafeOffer(items, { _tag: "Event", type, attrs })
    }
    const flush = Effect.gen(function*() {
      flushPending()
      const done = yield* Deferred.make<void>()
      yield* Queue.offer(items, { _tag: "Flush", done })
      yield* Deferred.await(done)
    })

    const chunk = (kind: "message" | "thought", text: string) => {
      if (pending !== null && pending.kind !== kind) flushPending()
      if (pending === null) pending = { kind, text, at: DateTime.unsafeNow() }
      else pending.text += text
      if (timer === undefined) timer = setTimeout(flushPending, CHUNK_WINDOW_MS)
    }

    const toolCalls = new Set<string>()
    const onUpdate = (update: { readonly sessionUpdate: string; readonly [key: string]: unknown }): void => {
      const u = update as Record<string, unknown>
      switch (update.sessionUpdate) {
        case "agent_message_chunk":
          return chunk("message", contentText(u["content"]))
        case "agent_thought_chunk":
          return chunk("thought", contentText(u["content"]))
        case "tool_call": {
          // Some agents (Claude Code) announce a call again once its input is complete: one call, one entry.
          const id = typeof u["toolCallId"] === "string" ? u["toolCallId"] : undefined
          if (id !== undefined && toolCalls.has(id)) return onUpdate({ ...update, sessionUpdate: "tool_call_update" })
          if (id !== undefined) toolCalls.add(id)
          return record("tool_call", String(u["title"] ?? u["toolCallId"]), {
            tool_call_id: u["toolCallId"] ?? null,
            title: u["title"] ?? null,
            tool_kind: u["kind"] ?? null,
            status: u["status"] ?? null,
            input: clip(u["rawInput"]),
            ...(u["locations"] !== undefined ? { locations: clip(u["locations"]) } : {})
          })
        }
        case "tool_call_update":
          return record("tool_call_update", `${String(u["toolCallId"])} ${String(u["status"] ?? "updated")}`, {
            tool_call_id: u["toolCallId"] ?? null,
            status: u["status"] ?? null,
            ...(u["rawInput"] !== undefined ? { input: clip(u["rawInput"]) } : {}),
            ...(u["rawOutput"] !== undefined ? { output: clip(u["rawOutput"]) } : {}),
            ...(u["content"] != null ? { content: clip(u["content"]) } : {})
          })
        case "plan": {
          const entries = Array.isArray(u["entries"]) ? (u["entries"] as Array<Record<string, unknown>>) : []
          return record("plan", entries.map((e) => `[${String(e["status"])}] ${String(e["content"])}`).join("\n"), {
            entries: clip(entries)
          })
        }
        default:
          if (QUIET_UPDATES.has(update.sessionUpdate)) return
          return record("update", update.sessionUpdate, { update: clip(update) })
      }
    }

    return { record, event, flush, chunk, onUpdate }
  })
