/**
 * The ACP messages the client decodes, and errors as each side of the connection words them.
 *
 * @internal
 */
import * as acp from "@agentclientprotocol/sdk"
import { Schema } from "effect"
import type * as ToolHost from "../ToolHost.js"
import { excerpt } from "./text.js"

export const AuthMethod = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  type: Schema.optional(Schema.String)
})
export const InitializeResponse = Schema.Struct({
  protocolVersion: Schema.Number,
  agentCapabilities: Schema.optional(Schema.NullOr(Schema.Struct({
    loadSession: Schema.optional(Schema.NullOr(Schema.Boolean)),
    sessionCapabilities: Schema.optional(Schema.NullOr(Schema.Struct({ resume: Schema.optional(Schema.Unknown) })))
  }))),
  authMethods: Schema.optional(Schema.NullOr(Schema.Array(AuthMethod))),
  agentInfo: Schema.optional(Schema.NullOr(Schema.Struct({ name: Schema.String, version: Schema.String })))
})
export const NewSessionResponse = Schema.Struct({ sessionId: Schema.String })
export const PromptResponse = Schema.Struct({
  stopReason: Schema.Literal("end_turn", "max_tokens", "max_turn_requests", "refusal", "cancelled")
})
export const SessionUpdateMessage = Schema.Struct({
  method: Schema.Literal("session/update"),
  params: Schema.Struct({
    sessionId: Schema.String,
    update: Schema.Struct({ sessionUpdate: Schema.String }, { key: Schema.String, value: Schema.Unknown })
  })
})
export const decodeUpdate = Schema.decodeUnknownOption(SessionUpdateMessage)

/** The spec's auth_required error code. */
export const AUTH_REQUIRED = -32000

/** An error's text; a JSON-RPC error keeps its `data`, where agents put the detail ("Internal error" says nothing). */
export const errorText = (cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause)
  if (!(cause instanceof acp.RequestError) || cause.data === undefined || cause.data === null) return text
  const data = cause.data as Record<string, unknown> | string
  const detail = typeof data === "string"
    ? data
    : typeof data["details"] === "string"
    ? data["details"]
    : typeof data["message"] === "string"
    ? data["message"]
    : JSON.stringify(data)
  return text.includes(detail) ? text : `${text}: ${excerpt(detail, 1000)}`
}

/**
 * A tool error as the JSON-RPC error the agent receives, with the spec's codes. A missing file is the spec's
 * resource-not-found error (code -32002, "Resource not found: <path>"): agents such as Gemini CLI decide from it
 * that a file is new, so its wording is the SDK's own.
 */
export const toRequestError = (e: ToolHost.ToolError): acp.RequestError => {
  const data = { reason: e.reason, ...(e.path !== undefined ? { path: e.path } : {}) }
  switch (e.reason) {
    case "OutsideRoot":
      return new acp.RequestError(-32602, e.message, data)
    case "NotFound": {
      const error = acp.RequestError.resourceNotFound(e.path)
      return new acp.RequestError(error.code, error.message, {
        ...data,
        ...(e.path !== undefined ? { uri: e.path } : {})
      })
    }
    case "UnknownTerminal":
      return acp.RequestError.resourceNotFound(e.detail)
    case "Provider":
      return new acp.RequestError(-32603, e.message, data)
  }
}
