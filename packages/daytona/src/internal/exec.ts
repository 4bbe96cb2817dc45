/**
 * Commands in a sandbox: blocking (`/process/execute`, one request) and streamed (a session of its own whose
 * command's logs are followed over a WebSocket).
 */
import type { Sandbox } from "@daytonaio/sdk"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { ExecOutput, ExecRequest, ExecResult, Instance, StopRequest } from "@org/sandbox-core/SandboxProvider"
import { Duration, Effect, Option, Schedule, Schema, type Scope, Stream } from "effect"
import { type Call, homeDirOf, scratchOf } from "./client.js"
import { providerError } from "./errors.js"
import {
  blockingScript,
  commandLine,
  INLINE_STDIN_LIMIT,
  isEnvName,
  parseBlockingOutput,
  relativePosix,
  resolvePosix,
  sessionScript,
  signalScript,
  stdinBytes,
  type StdinPlan,
  text,
  toBase64,
  viaSh
} from "./shell.js"

/** What the exec and transfer helpers need from the provider. */
export interface Toolbox {
  readonly sandboxFor: (operation: string, instance: Instance) => Effect.Effect<Sandbox, ProviderError>
  /** One SDK call, sent once. */
  readonly call: Call
  /** The failure of an SDK promise the helper awaits itself (a log stream). */
  readonly fail: (operation: string, instance_id: string) => (cause: unknown) => ProviderError
  /** The retry of an idempotent step (the one layer for it: nothing above or below retries it again). */
  readonly retry: <A, R>(self: Effect.Effect<A, ProviderError, R>) => Effect.Effect<A, ProviderError, R>
  /** The retry of a step that must not run twice: only when the API refused it before acting. */
  readonly retryRejected: <A, R>(self: Effect.Effect<A, ProviderError, R>) => Effect.Effect<A, ProviderError, R>
  /**
   * Keeps the sandbox from auto-stopping for as long as the scope is open: work that runs without API traffic (a
   * long command whose output streams over one WebSocket) is not inactivity.
   */
  readonly keepAlive: (sb: Sandbox) => Effect.Effect<void, never, Scope.Scope>
}

/** A fresh token for temp names and markers. */
export const nonce = (): string => globalThis.crypto.randomUUID().replace(/-/g, "")

/** The SDK wants a Node Buffer where it has one (Readable.from would iterate a bare Uint8Array). */
export const sdkBytes = (bytes: Uint8Array): Buffer =>
  (typeof Buffer === "function" ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes) as Buffer

const ExecuteResponse = Schema.Struct({
  exitCode: Schema.optional(Schema.NullOr(Schema.Number)),
  result: Schema.optional(Schema.NullOr(Schema.String))
})

/** Decode the reply of `/process/execute`. */
export const executed = (operation: string, instance_id: string, u: unknown) =>
  Schema.decodeUnknown(ExecuteResponse)(u).pipe(
    Effect.map((r) => ({ exit_code: r.exitCode ?? -1, result: r.result ?? "" })),
    Effect.mapError((e) => providerError(operation, "Unknown", `unexpected exec reply: ${e.message}`, instance_id, e))
  )

const timeoutSeconds = (timeout: ExecRequest["timeout"]): number =>
  timeout === undefined ? 0 : Math.max(1, Math.ceil(Duration.toMillis(Duration.decode(timeout)) / 1000))

/**
 * Stdin as the command will read it: nothing, inline in the script, or uploaded to the scratch directory
 * first (one request) when too big to travel inside the command. `from` is where the script resolves paths.
 */
const planStdin = (
  tb: Toolbox,
  sb: Sandbox,
  instance: Instance,
  operation: string,
  stdin: ExecRequest["stdin"],
  from: string
): Effect.Effect<StdinPlan, ProviderError> => {
  const bytes = stdinBytes(stdin)
  if (bytes === undefined) return Effect.succeed({ _tag: "None" })
  if (bytes.length <= INLINE_STDIN_LIMIT) return Effect.succeed({ _tag: "Inline", base64: toBase64(bytes) })
  const remote = `${scratchOf(instance)}/stdin-${nonce()}`
  return tb.retry(tb.call(operation, instance.instance_id, () => sb.fs.uploadFile(sdkBytes(bytes), remote))).pipe(
    Effect.as({ _tag: "File", path: relativePosix(from, remote) } as const)
  )
}

const commandOf = (operation: string, instance: Instance, request: ExecRequest) => {
  const command = commandLine(request)
  return command === undefined
    ? Effect.fail(providerError(operation, "InvalidState", "an exec request needs argv or shell", instance.instance_id))
    : Effect.succeed(command)
}

/**
 * Run a command to completion: one `/process/execute` request (plus one upload for a large stdin). A
 * timeout is enforced by the daemon, which kills the command's whole process group.
 */
export const exec = (tb: Toolbox, instance: Instance, request: ExecRequest): Effect.Effect<ExecResult, ProviderError> =>
  Effect.gen(function*() {
    const operation = "exec"
    const id = instance.instance_id
    const command = yield* commandOf(operation, instance, request)
    const sb = yield* tb.sandboxFor(operation, instance)
    const cwd = resolvePosix(instance.workdir, request.cwd ?? ".")
    const marker = `__sandbox_cli_${nonce()}__`
    const stdin = yield* planStdin(tb, sb, instance, operation, request.stdin, cwd)
    const script = blockingScript({ command, stdin, marker })
    const seconds = timeoutSeconds(request.timeout)
    const call = tb.retryRejected(
      tb.call(operation, id, () => sb.process.executeCommand(viaSh(script), cwd, { ...request.env }, seconds))
    )
    // The daemon answers 408 at the deadline; this guard only covers a reply that never comes.
    const guarded = seconds > 0
      ? Effect.timeoutFail(call, {
        duration: Duration.seconds(seconds + 30),
        onTimeout: () => providerError(operation, "Timeout", `no reply ${seconds + 30} s after starting`, id)
      })
      : call
    const reply = yield* Effect.flatMap(
      Effect.scoped(Effect.zipRight(tb.keepAlive(sb), guarded)),
      (u) => executed(operation, id, u)
    )
    const parsed = parseBlockingOutput(reply.result, marker)
    if (parsed === undefined) {
      const detail = reply.result.trim().slice(0, 500)
      return yield* reply.exit_code === -1
        ? providerError(operation, "InvalidState", `cannot run in ${cwd}: ${detail}`, id)
        : providerError(operation, "Unknown", `the command wrapper failed (exit ${reply.exit_code}): ${detail}`, id)
    }
    return { exit_code: parsed.exit_code, stdout: text(parsed.stdout), stderr: text(parsed.stderr) }
  }).pipe(Effect.withSpan("DaytonaProvider.exec"))

const Command = Schema.Struct({ exitCode: Schema.optional(Schema.NullOr(Schema.Number)) })

/**
 * Stop a session command as a process group is stopped on the host: its signal to the command and everything
 * below it (a second, blocking exec: the daemon has no signal call), up to `grace` for it to exit, then SIGKILL.
 * Runs in a finalizer (uninterruptible): the wait is made interruptible so its timeout can end it; failures are
 * ignored (deleting the session still ends the command).
 */
const stopGracefully = (
  tb: Toolbox,
  sb: Sandbox,
  id: string,
  sessionId: string,
  cmdId: string,
  token: string,
  asked: StopRequest
): Effect.Effect<void> => {
  const operation = "execStream.stop"
  const signal = (name: "TERM" | "INT" | "KILL") =>
    tb.call(operation, id, () => sb.process.executeCommand(viaSh(signalScript(token, name)), undefined, undefined, 30))
  const ended = tb.call(operation, id, () => sb.process.getSessionCommand(sessionId, cmdId)).pipe(
    Effect.flatMap((u) => Schema.decodeUnknown(Command)(u)),
    Effect.map((c) => typeof c.exitCode === "number"),
    Effect.orElseSucceed(() => false)
  )
  const endedWithin = (grace: Duration.Duration) =>
    ended.pipe(
      Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (done) => done }),
      Effect.interruptible,
      Effect.timeout(grace),
      Effect.option,
      Effect.map(Option.isSome)
    )
  return Effect.gen(function*() {
    if (Duration.toMillis(asked.grace) > 0) {
      yield* signal(asked.signal === "SIGINT" ? "INT" : "TERM")
      if (yield* endedWithin(asked.grace)) return
    }
    yield* signal("KILL")
  }).pipe(Effect.ignore, Effect.withSpan("DaytonaProvider.execStream.stop"))
}

const encoder = new TextEncoder()

/**
 * Run a command with its output streamed: a session of its own (deleted at the end, which also ends the
 * command if the stream is interrupted or times out), an async session command, and its logs followed over
 * the WebSocket until it exits; then its exit code.
 */
export const execStream = (
  tb: Toolbox,
  instance: Instance,
  request: ExecRequest,
  /** `execInteractive`: what the command reads, sent in order through the API's session input while it runs. */
  input?: Stream.Stream<Uint8Array>
): Stream.Stream<ExecOutput, ProviderError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const operation = "execStream"
    const id = instance.instance_id
    const command = yield* commandOf(operation, instance, request)
    const env = request.env ?? {}
    const bad = Object.keys(env).find((k) => !isEnvName(k))
    if (bad !== undefined) {
      return yield* providerError(operation, "InvalidState", `${JSON.stringify(bad)} is not an environment name`, id)
    }
    const sb = yield* tb.sandboxFor(operation, instance)
    const cwd = resolvePosix(instance.workdir, request.cwd ?? ".")
    const stdin: StdinPlan = input !== undefined
      ? { _tag: "Session" }
      : yield* planStdin(tb, sb, instance, operation, request.stdin, cwd)
    const token = nonce()
    const script = sessionScript({ command, cwdFromHome: relativePosix(homeDirOf(instance), cwd), env, stdin, token })
    const sessionId = `sandbox-cli-${nonce()}`
    yield* tb.keepAlive(sb)
    // A retried create whose first reply was lost finds its session made: 409 is success for a fresh id.
    yield* Effect.acquireRelease(
      tb.retry(tb.call(operation, id, () => sb.process.createSession(sessionId))).pipe(
        Effect.catchIf((e) => e.reason === "Conflict", () => Effect.void)
      ),
      () => Effect.ignore(tb.call(operation, id, () => sb.process.deleteSession(sessionId)))
    )
    const started = yield* tb.retryRejected(tb.call(
      operation,
      id,
      () =>
        sb.process.executeSessionCommand(sessionId, {
          command: viaSh(script),
          runAsync: true,
          // The daemon would otherwise copy every input line into the command's stdout.
          ...(input !== undefined ? { suppressInputEcho: true } : {})
        })
    ))
    const cmdId = started.cmdId
    // Stopped before its exit (interrupted, timed out): the command gets its signal and grace before the session's
    // deletion kills what is left.
    let exited = false
    yield* Effect.addFinalizer(() =>
      exited || request.stop === undefined
        ? Effect.void
        : Effect.flatMap(request.stop, (asked) => stopGracefully(tb, sb, id, sessionId, cmdId, token, asked))
    )
    if (input !== undefined) {
      // One input request at a time, in order; the daemon ends each with a newline (ours already do).
      const decoder = new TextDecoder()
      yield* input.pipe(
        Stream.runForEach((bytes) => {
          const data = decoder.decode(bytes, { stream: true })
          return data === ""
            ? Effect.void
            : tb.retryRejected(tb.call(operation, id, () => sb.process.sendSessionCommandInput(sessionId, cmdId, data)))
        }),
        Effect.ignore,
        Effect.forkScoped
      )
    }
    const outputs = Stream.async<ExecOutput, ProviderError>((emit) => {
      const chunk = (tag: "Stdout" | "Stderr") => (s: string) => {
        if (s.length > 0) void emit.single({ _tag: tag, data: encoder.encode(s) })
      }
      sb.process.getSessionCommandLogs(sessionId, cmdId, chunk("Stdout"), chunk("Stderr")).then(
        () => void emit.end(),
        (e: unknown) => void emit.fail(tb.fail(operation, id)(e))
      )
    })
    // The log stream closes when the command has exited; its exit code may lag a moment behind.
    const exitCode = tb.call(operation, id, () => sb.process.getSessionCommand(sessionId, cmdId)).pipe(
      Effect.flatMap((u) => Schema.decodeUnknown(Command)(u).pipe(Effect.orElseSucceed(() => ({ exitCode: null })))),
      Effect.flatMap((c) =>
        typeof c.exitCode === "number"
          ? Effect.succeed(c.exitCode)
          : Effect.fail(providerError(operation, "Unavailable", "the command has no exit code yet", id))
      ),
      Effect.retry({
        schedule: Schedule.exponential("50 millis", 1.5).pipe(Schedule.upTo("30 seconds")),
        while: (e) => e.retryable
      })
    )
    const all = Stream.concat(
      outputs,
      Stream.fromEffect(Effect.map(exitCode, (exit_code): ExecOutput => {
        exited = true
        return { _tag: "Exit", exit_code }
      }))
    )
    const seconds = timeoutSeconds(request.timeout)
    if (seconds === 0) return all
    const limit = Duration.decode(request.timeout!)
    return Stream.interruptWhen(
      all,
      Effect.sleep(limit).pipe(
        Effect.zipRight(
          Effect.fail(providerError(operation, "Timeout", `timed out after ${Duration.format(limit)}`, id))
        )
      )
    )
  })).pipe(Stream.withSpan("DaytonaProvider.execStream"))
