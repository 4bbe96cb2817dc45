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
import { HistoryEntry } from "@org/sandbox-core/History"
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import type { Scope } from "effect"
import { Duration, Effect, Either, Option, ParseResult, Runtime, Schema } from "effect"
import { AcpError } from "./AcpError.js"
import * as AgentProcess from "./AgentProcess.js"
import * as Recorder from "./internal/recorder.js"
import { clip, excerpt, LineWatcher } from "./internal/text.js"
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

const AuthMethod = Schema.Struct({ id: Schema.String, name: Schema.String, type: Schema.optional(Schema.String) })
const InitializeResponse = Schema.Struct({
  protocolVersion: Schema.Number,
  agentCapabilities: Schema.optional(Schema.NullOr(Schema.Struct({
    loadSession: Schema.optional(Schema.NullOr(Schema.Boolean)),
    sessionCapabilities: Schema.optional(Schema.NullOr(Schema.Struct({ resume: Schema.optional(Schema.Unknown) })))
  }))),
  authMethods: Schema.optional(Schema.NullOr(Schema.Array(AuthMethod))),
  agentInfo: Schema.optional(Schema.NullOr(Schema.Struct({ name: Schema.String, version: Schema.String })))
})
const NewSessionResponse = Schema.Struct({ sessionId: Schema.String })
const PromptResponse = Schema.Struct({
  stopReason: Schema.Literal("end_turn", "max_tokens", "max_turn_requests", "refusal", "cancelled")
})
const SessionUpdateMessage = Schema.Struct({
  method: Schema.Literal("session/update"),
  params: Schema.Struct({
    sessionId: Schema.String,
    update: Schema.Struct({ sessionUpdate: Schema.String }, { key: Schema.String, value: Schema.Unknown })
  })
})
const decodeUpdate = Schema.decodeUnknownOption(SessionUpdateMessage)

/** The spec's auth_required error code. */
const AUTH_REQUIRED = -32000

/** An error's text; a JSON-RPC error keeps its `data`, where agents put the detail ("Internal error" says nothing). */
const errorText = (cause: unknown): string => {
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
const toRequestError = (e: ToolHost.ToolError): acp.RequestError => {
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

  // ---- Wire the SDK: watch the raw bytes for malformed lines and the parsed messages for session updates.
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

  const app = acp
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
      return runPromise(Permission.decide(policy, request, options.ask)).then((decision) => {
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
      // Recorded from the wire (see `readable`), in order.
    })

  const connection = app.connect({ readable, writable: base.writable })
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      // End of input first, so a well-behaved agent exits on its own; the process scope kills it otherwise.
      yield* process.closeStdin
      connection.close()
      // Finalizers are uninterruptible; these waits must not be, or their timeouts could never cut them short.
      const code = yield* Effect.interruptible(process.exited).pipe(Effect.timeout(Duration.seconds(5)), Effect.option)
      // Whatever malformed lines are still waiting for their turn are recorded now.
      messagesIn = Number.POSITIVE_INFINITY
      report()
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

  const opening = Effect.gen(function*() {
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
    /** Continue `options.resume` if the agent can; `None` when it cannot or no longer knows that session. */
    const continued = (
      init: typeof InitializeResponse.Type
    ): Effect.Effect<Option.Option<{ readonly sessionId: string }>, AcpError> => {
      const sessionId = options.resume
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
            { sessionId, cwd: host.root, mcpServers: [] }
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
        () => connection.agent.request(acp.methods.agent.session.new, { cwd: host.root, mcpServers: [] })
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
