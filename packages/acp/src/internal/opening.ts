/**
 * Opening an agent session: `initialize` (the protocol version must be ours), then the session asked to be
 * continued (`session/load` or `session/resume`) when the agent can, otherwise a new one (`session/new`),
 * authenticating first when the agent requires it and offers a method it handles itself.
 *
 * @internal
 */
import * as acp from "@agentclientprotocol/sdk"
import { Effect, Option, Schema } from "effect"
import { AcpError } from "../AcpError.js"
import type { Connection } from "./handlers.js"
import { AUTH_REQUIRED, InitializeResponse, NewSessionResponse } from "./protocol.js"

/** A request whose reply is decoded by `schema`; a failure says what was asked and how it went wrong. */
export type Call = <A, I>(
  what: string,
  schema: Schema.Schema<A, I>,
  send: () => Promise<unknown>
) => Effect.Effect<A, AcpError>

export interface OpenOptions {
  readonly agent: string
  /** The agent session to continue, if any. */
  readonly resume: string | undefined
  /** The session's cwd: the sandbox's working directory. */
  readonly cwd: string
  readonly connection: Connection
  readonly call: Call
  /** The start timeout around one request. */
  readonly withStartTimeout: <A>(what: string, effect: Effect.Effect<A, AcpError>) => Effect.Effect<A, AcpError>
  readonly record: (kind: string, text: string, data?: Record<string, unknown>) => void
}

/** Initialise the agent and open (or continue) its session. */
export const open = ({ agent, call, connection, cwd, record, resume, withStartTimeout }: OpenOptions) =>
  Effect.gen(function*() {
    const init = yield* withStartTimeout(
      "initialize",
      call("initialize", InitializeResponse, () =>
        connection.agent.request(acp.methods.agent.initialize, {
          protocolVersion: acp.PROTOCOL_VERSION,
          clientCapabilities: { fs: { readTextFile: true, writeTextFile: true }, terminal: true },
          clientInfo: { name: "sandbox-cli", version: "0.1.0" }
        }))
    )
    if (init.protocolVersion !== acp.PROTOCOL_VERSION) {
      return yield* new AcpError({
        agent,
        reason: "Protocol",
        detail:
          `the agent speaks ACP version ${init.protocolVersion}; sandbox-cli speaks version ${acp.PROTOCOL_VERSION}`
      })
    }
    /** Continue `resume` if the agent can; `None` when it cannot or no longer knows that session. */
    const continued = (
      init: typeof InitializeResponse.Type
    ): Effect.Effect<Option.Option<{ readonly sessionId: string }>, AcpError> => {
      const sessionId = resume
      if (sessionId === undefined) return Effect.succeedNone
      const capabilities = init.agentCapabilities
      const how = capabilities?.loadSession === true
        ? "session/load" as const
        : capabilities?.sessionCapabilities?.resume != null
        ? "session/resume" as const
        : undefined
      if (how === undefined) return Effect.succeedNone
      return withStartTimeout(
        how,
        call(how, Schema.Unknown, () =>
          connection.agent.request(
            how === "session/load" ? acp.methods.agent.session.load : acp.methods.agent.session.resume,
            { sessionId, cwd: cwd, mcpServers: [] }
          ))
      ).pipe(
        Effect.map(() => {
          record("note", `continued agent session ${sessionId} (${how})`)
          return Option.some({ sessionId })
        }),
        Effect.catchIf((e) => e.reason === "Refused", (e) =>
          Effect.sync(() => {
            record("note", `agent session ${sessionId} could not be continued (${e.message}); a new one is opened`)
            return Option.none()
          }))
      )
    }
    const newSession = withStartTimeout(
      "session/new",
      call(
        "session/new",
        NewSessionResponse,
        () => connection.agent.request(acp.methods.agent.session.new, { cwd: cwd, mcpServers: [] })
      )
    )
    // An agent that needs authentication says so (auth_required) and lists its methods: the first one it handles
    // itself (not a terminal login, which the client would have to run interactively) is used, then asked again.
    const method = (init.authMethods ?? []).find((m) => m.type === undefined || m.type === "agent")
    const opened = yield* continued(init).pipe(
      Effect.flatMap(Option.match({ onSome: Effect.succeed, onNone: () => newSession })),
      Effect.catchIf(
        (e) => e.reason === "Refused" && e.code === AUTH_REQUIRED && method !== undefined,
        () =>
          withStartTimeout(
            "authenticate",
            call("authenticate", Schema.Unknown, () =>
              connection.agent.request(acp.methods.agent.authenticate, { methodId: method!.id }))
          ).pipe(
            Effect.tap(() =>
              Effect.sync(() =>
                record("note", `authenticated with ${method!.name} (${method!.id})`)
              )
            ),
            Effect.zipRight(newSession)
          )
      )
    )
    return { init, opened }
  })
