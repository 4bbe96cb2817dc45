/**
 * The connection's byte streams as the SDK reads them, watched on the way: a malformed line is recorded once the
 * messages before it are, and every session update is recorded in wire order.
 *
 * @internal
 */
import * as acp from "@agentclientprotocol/sdk"
import { Option } from "effect"
import type { AgentProcess } from "../AgentProcess.js"
import { decodeUpdate } from "./protocol.js"
import type { TransportEvent } from "./recorder.js"
import { excerpt, LineWatcher } from "./text.js"

export interface Wire {
  /** The agent's messages, each session update recorded as it passes. */
  readonly readable: ReadableStream<acp.AnyMessage>
  readonly writable: WritableStream<acp.AnyMessage>
  /** Record every malformed line still waiting for its turn (the connection is over); how many there were. */
  readonly drain: () => number
}

export const make = (
  process: Pick<AgentProcess, "stdin" | "stdout">,
  agent: string,
  record: (kind: string, text: string, data?: Record<string, unknown>) => void,
  event: (type: TransportEvent, attrs: Record<string, unknown>) => void,
  onUpdate: (update: { readonly sessionUpdate: string; readonly [key: string]: unknown }) => void
): Wire => {
  let messagesIn = 0
  let malformed = 0
  // The raw bytes are watched before the SDK parses them: a report waits until the messages before it are.
  const reports: Array<{ readonly line: string; readonly validBefore: number }> = []
  const report = () => {
    while (reports.length > 0 && reports[0]!.validBefore <= messagesIn) {
      const { line } = reports.shift()!
      malformed++
      const detail = `malformed message from the agent: ${excerpt(line, 200)}`
      record("error", detail, { line: excerpt(line, 2000) })
      event("sandbox.transport.error", { agent, error: detail })
    }
  }
  const watcher = new LineWatcher((line, validBefore) => {
    reports.push({ line, validBefore })
    report()
  })
  const stdout = process.stdout.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(bytes, controller) {
        watcher.push(bytes)
        controller.enqueue(bytes)
      },
      flush() {
        watcher.end()
      }
    })
  )
  const base = acp.ndJsonStream(process.stdin, stdout)
  // The SDK may dispatch a notification after the reply that follows it; recording here keeps wire order.
  const readable = base.readable.pipeThrough(
    new TransformStream<acp.AnyMessage, acp.AnyMessage>({
      transform(message, controller) {
        messagesIn++
        const update = decodeUpdate(message)
        if (Option.isSome(update)) onUpdate(update.value.params.update)
        report()
        controller.enqueue(message)
      }
    })
  )
  return {
    readable,
    writable: base.writable,
    drain: () => {
      messagesIn = Number.POSITIVE_INFINITY
      report()
      return malformed
    }
  }
}
