/**
 * The client side of an ACP connection: starts the agent, initialises it, opens a session whose cwd is the
 * sandbox's working directory, sends prompts and records everything (turns, messages, tool calls with
 * their arguments and results, permission decisions) in order. The agent's `fs/*` and `terminal/*`
 * requests go to the tool host, so they run inside the sandbox.
 *
 * @since 0.1.0
 */
import * as acp from "@agentclientprotocol/sdk"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { HistoryEntry } from "@org/sandbox-core/History"
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import type { Scope } from "effect"
import { Duration, Effect, Option, ParseResult, Runtime, Schema } from "effect"
import { AcpError } from "./AcpError.js"
import * as AgentProcess from "./AgentProcess.js"
import * as Handlers from "./internal/handlers.js"
import * as Opening from "./internal/opening.js"
import { errorText, PromptResponse } from "./internal/protocol.js"
import * as Recorder from "./internal/recorder.js"
import * as Wire from "./internal/wire.js"
import * as Permission from "./Permission.js"
import * as ToolHost from "./ToolHost.js"

/**
 * The `sandbox.transport.*` event types a connection records.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportEvent = Recorder.TransportEvent

/**
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /** The agent's name (its `[agents.<name>]` table). */
  readonly agent: string
  readonly command: ReadonlyArray<string>
  /** Environment for the agent process (and, under the profile's, for its terminals). */
  readonly env?: Readonly<Record<string, string>>
  readonly provider: ProviderService
  readonly instance: Instance
  /**
   * `sandbox` (default: the agent process and its own tools run in the runtime, through the provider's
   * `execInteractive`) or `host` (only its `fs/*` and `terminal/*` requests do; its own tools run unsandboxed).
   */
  readonly location?: AgentProcess.Location
  /** Where a host-side agent process runs. Defaults to the sandbox's workdir (right for the local backend). */
  readonly hostCwd?: string
  /** Environment for the agent's terminals inside the sandbox. */
  readonly sandboxEnv?: Readonly<Record<string, string>>
  readonly permissions?: Permission.PermissionPolicy
  /** Asks a person (policy `ask`); absent without a terminal. */
  readonly ask?: Permission.Asker
  /** Every history entry, in order. */
  readonly onHistory: (entry: HistoryEntry) => Effect.Effect<void>
  /** Every `sandbox.transport.*` event. */
  readonly onEvent: (type: TransportEvent, attrs: Record<string, unknown>) => Effect.Effect<void>
  /** How long to wait for the agent to answer `initialize` and `session/new`. Default 60 seconds. */
  readonly startTimeout?: Duration.DurationInput
  /**
   * The agent session to continue (an earlier `session_id` in the same sandbox): loaded (`session/load`) or
   * resumed (`session/resume`) when the agent supports it, otherwise, or when the agent no longer has it, a new
   * session is opened.
   */
  readonly resume?: string
}

/**
 * How a turn ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface TurnResult {
  readonly turn: number
  readonly stop_reason: acp.StopReason
}

/**
 * A live ACP session with its agent.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcpSession {
  /** The agent's session id. */
  readonly session_id: string
  readonly agent_info: { readonly name: string; readonly version: string } | null
  readonly location: AgentProcess.Location
  /** A host-side agent's pid (and process group id), so a crash of this process can be cleaned up after. */
  readonly pid: number | null
  /** Send one prompt and run until the turn ends. Interrupting it cancels the turn. */
  readonly prompt: (text: string) => Effect.Effect<TurnResult, AcpError>
  /** Completes when the agent process has exited, with its exit code. */
  readonly exited: Effect.Effect<number | null>
}

/**
 * Start the agent, initialise it and open a session in the sandbox's working directory. The scope owns the
 * agent process and the connection: closing it ends both and records `sandbox.transport.close`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = Effect.fn("AcpClient.start")(function*(options: StartOptions) {
  const runtime = yield* Effect.runtime<never>()
  const runPromise = Runtime.runPromise(runtime)
  const agent = options.agent
  const policy = options.permissions ?? Permission.defaultPolicy

  // ---- Recording, in the order things happened.
  const { event, flush, onUpdate, record } = yield* Recorder.make(options.onHistory, options.onEvent)

  // ---- The agent process.
  const location = options.location ?? "sandbox"
  const launch: AgentProcess.LaunchOptions = {
    agent,
    command: options.command,
    env: { ...options.env },
    onStderr: (text) => Effect.sync(() => record("stderr", text))
  }
  const process = location === "sandbox"
    ? yield* AgentProcess.inSandbox(options.provider, options.instance, launch)
    : yield* AgentProcess.onHost({ ...launch, cwd: options.hostCwd ?? options.instance.workdir })

  const host = yield* ToolHost.make({
    provider: options.provider,
    instance: options.instance,
    env: { ...options.sandboxEnv }
  })

  // ---- Wire the SDK: malformed lines and session updates are recorded as they pass; requests are answered.
  const wire = Wire.make(process, agent, record, event, onUpdate)
  const app = Handlers.client({ ask: options.ask, host, location, policy, record, runPromise })

  const connection = app.connect({ readable: wire.readable, writable: wire.writable })
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      // End of input first, so a well-behaved agent exits on its own; the process scope kills it otherwise.
      yield* process.closeStdin
      connection.close()
      // Finalizers are uninterruptible; these waits must not be, or their timeouts could never cut them short.
      const code = yield* Effect.interruptible(process.exited).pipe(Effect.timeout(Duration.seconds(5)), Effect.option)
      // Whatever malformed lines are still waiting for their turn are recorded now.
      const malformed = wire.drain()
      event("sandbox.transport.close", {
        agent,
        location,
        exit_code: Option.getOrNull(code),
        malformed
      })
      yield* Effect.interruptible(flush).pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore)
    })
  )

  /** The agent is gone (or broke the connection): the failure says how, with its exit code and stderr. */
  const connectionFailure = (what: string, cause: unknown) =>
    Effect.gen(function*() {
      if (!connection.signal.aborted) {
        const code = cause instanceof acp.RequestError ? ` (${cause.code})` : ""
        return new AcpError({
          agent,
          reason: "Refused",
          detail: `${what} failed${code}: ${errorText(cause)}`,
          ...(cause instanceof acp.RequestError ? { code: cause.code } : {}),
          cause
        })
      }
      const exit = yield* Effect.interruptible(process.exited).pipe(Effect.timeout(Duration.seconds(5)), Effect.option)
      const stderr = yield* process.stderrTail
      const code = Option.getOrNull(exit)
      if (location === "sandbox" && (code === 126 || code === 127)) {
        // Inside the sandbox the command is looked up as a shell would: 127 not found, 126 not executable.
        const error = new AcpError({
          agent,
          reason: "Spawn",
          detail: `cannot start ${options.command.join(" ")} in the sandbox: ${
            code === 127 ? "command not found" : "permission denied"
          }`,
          exit_code: code,
          stderr
        })
        event("sandbox.transport.error", { agent, error: error.message, exit_code: code })
        return error
      }
      const how = Option.match(exit, {
        onNone: () => "closed its connection",
        onSome: (code) => (code === null ? "was killed" : `exited with code ${code}`)
      })
      const error = new AcpError({
        agent,
        reason: "AgentExited",
        detail: `the agent ${how} during ${what}`,
        exit_code: Option.getOrNull(exit),
        stderr
      })
      event("sandbox.transport.error", { agent, error: error.message, exit_code: error.exit_code ?? null })
      return error
    })

  const call = <A, I>(
    what: string,
    schema: Schema.Schema<A, I>,
    send: () => Promise<unknown>
  ): Effect.Effect<A, AcpError> =>
    Effect.tryPromise({ try: send, catch: (cause) => cause }).pipe(
      Effect.catchAll((cause) => Effect.flatMap(connectionFailure(what, cause), Effect.fail)),
      Effect.flatMap((reply) =>
        Schema.decodeUnknown(schema)(reply).pipe(
          Effect.mapError((e) =>
            new AcpError({
              agent,
              reason: "Protocol",
              detail: `the agent's reply to ${what} is malformed: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
            })
          )
        )
      )
    )

  const startTimeout = options.startTimeout ?? Duration.seconds(60)
  const withStartTimeout = <A>(what: string, effect: Effect.Effect<A, AcpError>) =>
    Effect.timeoutFail(effect, {
      duration: startTimeout,
      onTimeout: () =>
        new AcpError({
          agent,
          reason: "Protocol",
          detail: `no answer to ${what} within ${Duration.format(Duration.decode(startTimeout))}`
        })
    })

  const opening = Opening.open({
    agent,
    resume: options.resume,
    cwd: host.root,
    connection,
    call,
    withStartTimeout,
    record
  }).pipe(
    Effect.tapError((e) =>
      Effect.zipRight(
        Effect.sync(() => {
          record("error", e.message, { reason: e.reason })
          event("sandbox.transport.error", { agent, error: e.message })
        }),
        flush
      )
    )
  )
  const { init, opened } = yield* opening
  const agent_info = init.agentInfo ? { name: init.agentInfo.name, version: init.agentInfo.version } : null
  event("sandbox.transport.open", {
    agent,
    command: options.command,
    location,
    protocol_version: init.protocolVersion,
    agent_info,
    acp_session_id: opened.sessionId,
    cwd: host.root
  })
  yield* flush

  let turns = 0
  const prompt = (text: string) =>
    Effect.gen(function*() {
      const turn = ++turns
      record("turn", text, { turn })
      const reply = yield* call("session/prompt", PromptResponse, () =>
        connection.agent.request(acp.methods.agent.session.prompt, {
          sessionId: opened.sessionId,
          prompt: [{ type: "text", text }]
        })).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              // Ask the agent to stop the turn; the process itself ends with the scope.
              connection.agent.notify(acp.methods.agent.session.cancel, { sessionId: opened.sessionId }).catch(
                () =>
                  undefined
              )
              record("turn_end", "cancelled", { turn, stop_reason: "cancelled" })
            })
          )
        )
      record("turn_end", reply.stopReason, { turn, stop_reason: reply.stopReason })
      yield* flush
      return { turn, stop_reason: reply.stopReason } satisfies TurnResult
    }).pipe(
      Effect.tapError((e) =>
        Effect.zipRight(
          Effect.sync(() =>
            record("error", e.message, { reason: e.reason })
          ),
          flush
        )
      ),
      Effect.withSpan("AcpClient.prompt")
    )

  const session: AcpSession = {
    session_id: opened.sessionId,
    agent_info,
    location,
    pid: process.pid,
    prompt,
    exited: process.exited
  }
  return session
}) satisfies (
  options: StartOptions
) => Effect.Effect<AcpSession, AcpError, Scope.Scope | CommandExecutor.CommandExecutor>
