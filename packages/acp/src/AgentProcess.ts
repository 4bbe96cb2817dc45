/**
 * The agent process and its stdio: started on the host (the default; its tools still run in the sandbox) or
 * inside the sandbox through the provider's `execInteractive`. Either way the connection sees a byte
 * stream each way, the exit code and the tail of stderr.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Option, Queue, Ref, Runtime, Stream } from "effect"
import { AcpError } from "./AcpError.js"

/**
 * Where the agent process runs.
 *
 * @since 0.1.0
 * @category models
 */
export type Location = "host" | "sandbox"

/**
 * A running agent process.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentProcess {
  readonly location: Location
  readonly command: ReadonlyArray<string>
  /** A host-side agent's pid, which is also its process group's id; `null` inside the sandbox. */
  readonly pid: number | null
  /** What the client writes to the agent. */
  readonly stdin: WritableStream<Uint8Array>
  /** What the agent writes to the client. */
  readonly stdout: ReadableStream<Uint8Array>
  /** Completes when the process has exited, with its exit code (`null` when killed by a signal or unknown). */
  readonly exited: Effect.Effect<number | null>
  /** Whether the process has exited yet. */
  readonly hasExited: Effect.Effect<boolean>
  /** The last few KiB the agent wrote to stderr. */
  readonly stderrTail: Effect.Effect<string>
  /** Close the agent's stdin: a well-behaved agent exits on end of input. */
  readonly closeStdin: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface LaunchOptions {
  /** The agent's name, for errors. */
  readonly agent: string
  /** argv of the agent. */
  readonly command: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  /** Everything the agent writes to stderr, as it arrives. */
  readonly onStderr?: (text: string) => Effect.Effect<void>
}

type Output =
  | { readonly _tag: "Stdout"; readonly data: Uint8Array }
  | { readonly _tag: "Stderr"; readonly data: Uint8Array }
  | { readonly _tag: "Exit"; readonly exit_code: number | null }

const STDERR_TAIL = 4096
const KILL_GRACE = Duration.seconds(5)

/**
 * Wire an output stream (stdout, stderr and one exit) to the web streams the SDK reads, and stdin to a queue.
 * The consumer fiber belongs to the scope.
 */
const wire = (
  options: LaunchOptions,
  location: Location,
  pid: number | null,
  stdinQueue: Queue.Queue<Uint8Array>,
  output: Stream.Stream<Output, AcpError>
): Effect.Effect<AgentProcess, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const exit = yield* Deferred.make<number | null>()
    const tail = yield* Ref.make("")
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined
    const stdout = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c
      }
    })
    const stderrDecoder = new TextDecoder()
    const closeStdout = Effect.sync(() => {
      try {
        controller?.close()
      } catch {
        // already closed
      }
    })
    yield* output.pipe(
      Stream.runForEach((chunk) => {
        switch (chunk._tag) {
          case "Stdout":
            return Effect.sync(() => controller?.enqueue(chunk.data))
          case "Stderr": {
            const text = stderrDecoder.decode(chunk.data, { stream: true })
            return Effect.zipRight(
              Ref.update(tail, (t) => (t + text).slice(-STDERR_TAIL)),
              options.onStderr ? options.onStderr(text) : Effect.void
            )
          }
          case "Exit":
            return Deferred.succeed(exit, chunk.exit_code)
        }
      }),
      Effect.catchAll((e) => Ref.update(tail, (t) => `${t}\n${e.message}`.slice(-STDERR_TAIL))),
      Effect.ensuring(Effect.zipRight(closeStdout, Deferred.succeed(exit, null))),
      Effect.forkScoped
    )
    const stdin = new WritableStream<Uint8Array>({
      write(chunk) {
        // The SDK writes a whole message per chunk; once the process is gone there is nobody to write to.
        if (!Queue.unsafeOffer(stdinQueue, chunk)) throw new Error(`agent ${options.agent}: stdin is closed`)
      },
      close() {
        return Runtime.runPromise(runtime)(Queue.shutdown(stdinQueue))
      }
    })
    const process: AgentProcess = {
      location,
      command: options.command,
      pid,
      stdin,
      stdout,
      exited: Deferred.await(exit),
      hasExited: Deferred.isDone(exit),
      stderrTail: Ref.get(tail),
      closeStdin: Queue.shutdown(stdinQueue)
    }
    return process
  })

const argvOf = (options: LaunchOptions) =>
  options.command.length === 0
    ? Effect.fail(new AcpError({ agent: options.agent, reason: "Spawn", detail: "the agent has no command" }))
    : Effect.succeed([options.command[0]!, ...options.command.slice(1)] as const)

/**
 * Start the agent on the host, in `cwd`, with the host's environment and `env` over it (a host-side agent
 * needs its own credentials). Closing the scope ends it: SIGTERM, then SIGKILL after a grace period.
 *
 * @since 0.1.0
 * @category constructors
 */
export const onHost = Effect.fn("AgentProcess.onHost")(function*(options: LaunchOptions & { readonly cwd: string }) {
  const [file, ...args] = yield* argvOf(options)
  const stdinQueue = yield* Queue.unbounded<Uint8Array>()
  const command = Command.make(file, ...args).pipe(
    Command.workingDirectory(options.cwd),
    Command.env({ ...options.env }),
    Command.stdin(Stream.fromQueue(stdinQueue, { shutdown: true }))
  )
  const process = yield* Command.start(command).pipe(
    Effect.mapError((e) =>
      new AcpError({
        agent: options.agent,
        reason: "Spawn",
        detail: `cannot start ${options.command.join(" ")}: ${e.message}`,
        cause: e
      })
    )
  )
  const exitCode = process.exitCode.pipe(
    Effect.map((code): number | null => code),
    Effect.orElseSucceed(() => null)
  )
  const output: Stream.Stream<Output, AcpError> = Stream.merge(
    Stream.map(process.stdout, (data): Output => ({ _tag: "Stdout", data })),
    Stream.map(process.stderr, (data): Output => ({ _tag: "Stderr", data }))
  ).pipe(
    Stream.orElse(() => Stream.empty),
    Stream.concat(Stream.fromEffect(Effect.map(exitCode, (exit_code): Output => ({ _tag: "Exit", exit_code }))))
  )
  const agentProcess = yield* wire(options, "host", process.pid, stdinQueue, output)
  // Runs before the executor's own release (which would wait forever for an agent that ignores SIGTERM).
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* Queue.shutdown(stdinQueue)
      if (yield* agentProcess.hasExited) return
      yield* Effect.ignore(process.kill("SIGTERM"))
      // Finalizers are uninterruptible; the wait must not be, or the timeout could never cut it short.
      const ended = yield* Effect.timeout(Effect.interruptible(agentProcess.exited), KILL_GRACE).pipe(Effect.option)
      if (Option.isNone(ended)) yield* Effect.ignore(process.kill("SIGKILL"))
    })
  )
  return agentProcess
}) satisfies (
  options: LaunchOptions & { readonly cwd: string }
) => Effect.Effect<AgentProcess, AcpError, Scope.Scope | CommandExecutor.CommandExecutor>

/**
 * Whether a provider can run the agent inside the sandbox (it carries stdin as a stream).
 *
 * @since 0.1.0
 * @category predicates
 */
export const canRunInSandbox = (provider: ProviderService): boolean => provider.execInteractive !== undefined

/**
 * Start the agent inside the sandbox, in its working directory, through the provider's `execInteractive`.
 * Closing the scope interrupts the command, which kills it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inSandbox = Effect.fn("AgentProcess.inSandbox")(function*(
  provider: ProviderService,
  instance: Instance,
  options: LaunchOptions
) {
  const argv = yield* argvOf(options)
  const execInteractive = provider.execInteractive
  if (execInteractive === undefined) {
    return yield* new AcpError({
      agent: options.agent,
      reason: "Unsupported",
      detail: `the ${provider.name} backend cannot carry an agent's stdio; run it on the host`
    })
  }
  const stdinQueue = yield* Queue.unbounded<Uint8Array>()
  const output = execInteractive(instance, {
    argv,
    env: { ...options.env },
    stdin: Stream.fromQueue(stdinQueue, { shutdown: true })
  }).pipe(
    Stream.mapError((e) =>
      new AcpError({
        agent: options.agent,
        reason: "Spawn",
        detail: `cannot run the agent in the sandbox: ${e.message}`
      })
    )
  )
  yield* Effect.addFinalizer(() => Queue.shutdown(stdinQueue))
  return yield* wire(options, "sandbox", null, stdinQueue, output)
}) satisfies (
  provider: ProviderService,
  instance: Instance,
  options: LaunchOptions
) => Effect.Effect<AgentProcess, AcpError, Scope.Scope>
