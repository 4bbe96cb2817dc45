/**
 * What the client answers to the agent's requests: `fs/*` and `terminal/*` run in the sandbox through the tool host,
 * each recorded with its arguments and result; permission requests are decided by the policy (or a person).
 *
 * @internal
 */
import * as acp from "@agentclientprotocol/sdk"
import { Effect, Either } from "effect"
import type { Location } from "../AgentProcess.js"
import * as Permission from "../Permission.js"
import type * as ToolHost from "../ToolHost.js"
import { toRequestError } from "./protocol.js"
import { clip, excerpt } from "./text.js"

export interface HandlerOptions {
  readonly host: ToolHost.ToolHost
  readonly location: Location
  readonly policy: Permission.PermissionPolicy
  readonly ask: Permission.Asker | undefined
  readonly record: (kind: string, text: string, data?: Record<string, unknown>) => void
  readonly runPromise: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
}

/** The SDK's client with every request the agent may send handled. */
export const client = ({ ask, host, location, policy, record, runPromise }: HandlerOptions) => {
  /** Run a tool request in the sandbox, record it with its arguments and result, answer the agent. */
  const tool = <A>(
    method: string,
    args: Record<string, unknown>,
    effect: Effect.Effect<A, ToolHost.ToolError>,
    summarize: (a: A) => unknown
  ): Promise<A> =>
    runPromise(Effect.either(effect)).then((result) => {
      if (Either.isRight(result)) {
        record("tool", `${method} ${String(args["path"] ?? args["command"] ?? args["terminal_id"] ?? "")}`.trim(), {
          method,
          args: clip(args),
          result: clip(summarize(result.right))
        })
        return result.right
      }
      record("tool", `${method} failed: ${result.left.message}`, {
        method,
        args: clip(args),
        error: { reason: result.left.reason, message: result.left.message }
      })
      // The SDK turns a thrown RequestError into the JSON-RPC error the agent receives.
      throw toRequestError(result.left)
    })

  return acp
    .client({ name: "sandbox-cli" })
    .onRequest(acp.methods.client.fs.readTextFile, ({ params }) =>
      tool(
        "fs/read_text_file",
        { path: params.path, line: params.line ?? null, limit: params.limit ?? null },
        host.readTextFile(params),
        (r) => ({ bytes: r.content.length, content: excerpt(r.content) })
      ))
    .onRequest(acp.methods.client.fs.writeTextFile, ({ params }) =>
      tool(
        "fs/write_text_file",
        { path: params.path, bytes: params.content.length, content: excerpt(params.content) },
        host.writeTextFile(params),
        () => ({ ok: true })
      ).then(() => ({})))
    .onRequest(acp.methods.client.terminal.create, ({ params }) =>
      tool(
        "terminal/create",
        { command: params.command, args: params.args ?? [], cwd: params.cwd ?? null },
        host.createTerminal(params),
        (r) => ({ terminal_id: r.terminalId })
      ))
    .onRequest(acp.methods.client.terminal.output, ({ params }) =>
      tool(
        "terminal/output",
        { terminal_id: params.terminalId },
        host.terminalOutput(params.terminalId),
        (r) => ({ output: excerpt(r.output), truncated: r.truncated, exit: r.exitStatus ?? null })
      ))
    .onRequest(acp.methods.client.terminal.waitForExit, ({ params }) =>
      tool(
        "terminal/wait_for_exit",
        { terminal_id: params.terminalId },
        host.waitForExit(params.terminalId),
        (r) => ({ exit_code: r.exitCode, signal: r.signal })
      ))
    .onRequest(
      acp.methods.client.terminal.kill,
      ({ params }) =>
        tool("terminal/kill", { terminal_id: params.terminalId }, host.killTerminal(params.terminalId), () => ({}))
          .then(() => ({}))
    )
    .onRequest(
      acp.methods.client.terminal.release,
      ({ params }) =>
        tool(
          "terminal/release",
          { terminal_id: params.terminalId },
          host.releaseTerminal(params.terminalId),
          () => ({})
        )
          .then(() => ({}))
    )
    .onRequest(acp.methods.client.session.requestPermission, ({ params }) => {
      const request: Permission.PermissionRequest = {
        tool_call_id: params.toolCall.toolCallId,
        title: params.toolCall.title ?? params.toolCall.toolCallId,
        kind: params.toolCall.kind ?? null,
        input: params.toolCall.rawInput ?? null,
        options: params.options.map((o) => ({ option_id: o.optionId, name: o.name, kind: o.kind }))
      }
      return runPromise(Permission.decide(policy, request, ask)).then((decision) => {
        // A host-side agent's own tools run on the host: the record never says they are contained.
        const uncontained = location === "host" ? "; the agent runs on the host, its own tools unsandboxed" : ""
        const text = decision.outcome === "selected"
          ? `${request.title}: ${decision.option_kind} (${
            decision.by === "user" ? "by the user" : `policy ${policy}`
          }${uncontained})`
          : `${request.title}: cancelled (${decision.note}${uncontained})`
        record("permission", text, {
          tool_call_id: request.tool_call_id,
          title: request.title,
          tool_kind: request.kind,
          input: clip(request.input),
          options: request.options,
          policy,
          contained: location === "sandbox",
          decision: decision.outcome === "selected" ? decision.option_id : "cancelled",
          decided_by: decision.by
        })
        return {
          outcome: decision.outcome === "selected"
            ? { outcome: "selected" as const, optionId: decision.option_id }
            : { outcome: "cancelled" as const }
        }
      })
    })
    .onNotification(acp.methods.client.session.update, () => {
      // Recorded from the wire (see `Wire`), in order.
    })
}

/** A connection of that client to the agent. */
export type Connection = ReturnType<ReturnType<typeof client>["connect"]>
