import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { ExecOutput, StopRequest } from "@org/sandbox-core/SandboxProvider"
import type { Scope } from "effect"
import { Chunk, Data, Deferred, Duration, Effect, Exit, Option, Sink, Stream } from "effect"
import { type ChildProcess, spawn as nodeSpawn } from "node:child_process"
import { constants } from "node:os"
import type { Readable } from "node:stream"

// Why not @effect/platform's CommandExecutor: it attaches to a child's stdout only when the stream is
// first pulled, and Node discards the unread output of a child that has already exited (flushStdio), so a
// fast command (`tar -c` of a small tree) sometimes produced no output at all. Here the readers are
// attached in the same tick as the spawn.

/**
 * A child process could not be started, fed or read.
 *
 * @internal
 */
export class ProcessError extends Data.TaggedError("ProcessError")<{
  readonly command: string
  /** The errno code, e.g. `ENOENT`. */
  readonly code: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return `${this.command}: ${this.detail}`
  }
}

/**
 * A child process to start: argv (no shell), a working directory, the complete environment and what to
 * feed its stdin (nothing means stdin is closed at once, so `cat` ends instead of waiting forever).
 *
 * @internal
 */
export interface Spawn {
  readonly argv: readonly [string, ...Array<string>]
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly stdin?: Stream.Stream<Uint8Array, unknown>
  /**
   * How long a process asked to stop (SIGTERM to its group) may take to clean up before its group is SIGKILLed.
   * Without it the group is SIGKILLed at once.
   */
  readonly grace?: Duration.DurationInput
  /** Asked when the process is stopped: the signal and grace for this stop (over `grace` and SIGTERM). */
  readonly stop?: Effect.Effect<StopRequest>
}

/**
 * A started process, leader of its own process group. When the scope closes before its exit code was observed
 * (interruption, timeout, a consumer that stopped early) the group gets SIGTERM and `grace` to clean up (a shell's
 * `trap … TERM` runs), then SIGKILL: a `sleep` a shell left behind must not outlive us.
 *
 * @internal
 */
export interface Started {
  readonly pid: number
  readonly stdout: Stream.Stream<Uint8Array, ProcessError>
  readonly stderr: Stream.Stream<Uint8Array, ProcessError>
  /** The exit code as a shell reports it (128 + n for signal n). */
  readonly exitCode: Effect.Effect<number>
  readonly killGroup: Effect.Effect<void>
}

const errorOf = (command: string, cause: unknown): ProcessError => {
  const error = cause as NodeJS.ErrnoException
  return new ProcessError({ command, code: error.code, detail: error.message ?? String(cause) })
}

/** Pull-based reading with a listener attached now (which also tells Node the output is being read). */
const reader = (command: string, readable: Readable): Stream.Stream<Uint8Array, ProcessError> => {
  let ended = false
  let failure: unknown = undefined
  let signaled = false
  let wake: (() => void) | undefined
  const notify = () => {
    signaled = true
    const w = wake
    wake = undefined
    w?.()
  }
  readable.on("readable", notify)
  readable.on("end", () => {
    ended = true
    notify()
  })
  readable.on("error", (error) => {
    failure = error
    notify()
  })
  const pull: Effect.Effect<Uint8Array, Option.Option<ProcessError>> = Effect.suspend(function loop(): Effect.Effect<
    Uint8Array,
    Option.Option<ProcessError>
  > {
    signaled = false
    const chunk = readable.read() as Buffer | null
    if (chunk !== null) return Effect.succeed(chunk)
    if (failure !== undefined) return Effect.fail(Option.some(errorOf(command, failure)))
    if (ended || readable.readableEnded) return Effect.fail(Option.none())
    return Effect.async<void>((resume) => {
      if (signaled) return resume(Effect.void)
      wake = () => resume(Effect.void)
      return Effect.sync(() => {
        wake = undefined
      })
    }).pipe(Effect.zipRight(Effect.suspend(loop)))
  })
  return Stream.repeatEffectOption(pull)
}

/** Feed a stream into stdin with backpressure, then close it; a child that stops reading just ends it. */
const feed = (child: ChildProcess, input: Stream.Stream<Uint8Array, unknown>) => {
  const stdin = child.stdin!
  const write = (chunk: Uint8Array) =>
    Effect.async<void>((resume) => {
      if (stdin.destroyed || stdin.writableEnded) return resume(Effect.void)
      if (stdin.write(chunk)) return resume(Effect.void)
      const done = () => {
        stdin.off("drain", done)
        stdin.off("close", done)
        resume(Effect.void)
      }
      stdin.once("drain", done)
      stdin.once("close", done)
    })
  return Stream.runForEach(input, write).pipe(
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => stdin.end()))
  )
}

/** @internal */
export const start = (spawn: Spawn): Effect.Effect<Started, ProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const [file, ...args] = spawn.argv
    const exited = yield* Deferred.make<number>()
    let observed = false
    const child = yield* Effect.acquireRelease(
      Effect.async<ChildProcess, ProcessError>((resume) => {
        const child = nodeSpawn(file, args, {
          cwd: spawn.cwd,
          env: { ...spawn.env },
          detached: true,
          stdio: ["pipe", "pipe", "pipe"]
        })
        child.stdin!.on("error", () => {
          // EPIPE: the child exited or closed stdin without reading all of it; that is its business.
        })
        child.on("exit", (code, signal) => {
          const number = signal === null ? undefined : constants.signals[signal]
          Deferred.unsafeDone(exited, Exit.succeed(code ?? (number === undefined ? 1 : 128 + number)))
        })
        child.once("error", (error) => resume(Effect.fail(errorOf(file, error))))
        child.once("spawn", () => resume(Effect.succeed(child)))
      }),
      (child) =>
        Effect.gen(function*() {
          if (!observed) {
            const asked = spawn.stop !== undefined ? yield* spawn.stop : undefined
            const signal = asked?.signal ?? "SIGTERM"
            const grace = asked?.grace ?? Duration.decode(spawn.grace ?? 0)
            const graceful = Duration.toMillis(grace) > 0
            // Finalizers run uninterruptibly: the wait itself must be interruptible for its timeout to end it.
            const exitWithin = (duration: Duration.DurationInput) =>
              Deferred.await(exited).pipe(Effect.interruptible, Effect.timeout(duration), Effect.option)
            const ended = graceful && (yield* signalGroupOf(child, signal)) &&
              Option.isSome(yield* exitWithin(grace))
            if (!ended) {
              yield* killGroupOf(child)
              yield* exitWithin("5 seconds")
            }
          }
          child.stdin?.destroy()
          child.stdout?.destroy()
          child.stderr?.destroy()
        })
    )
    const started: Started = {
      pid: child.pid!,
      stdout: reader(file, child.stdout!),
      stderr: reader(file, child.stderr!),
      exitCode: Effect.tap(Deferred.await(exited), () =>
        Effect.sync(() => {
          observed = true
        })),
      killGroup: killGroupOf(child)
    }
    yield* Effect.forkScoped(feed(child, spawn.stdin ?? Stream.empty))
    return started
  })

/** Signal the whole group; `false` when there is no group left to signal. */
const signalGroupOf = (child: ChildProcess, signal: NodeJS.Signals): Effect.Effect<boolean> =>
  Effect.try(() => process.kill(-child.pid!, signal)).pipe(Effect.as(true), Effect.orElseSucceed(() => false))

const killGroupOf = (child: ChildProcess): Effect.Effect<void> =>
  Effect.try(() => process.kill(-child.pid!, "SIGKILL")).pipe(
    // No group left (every member gone): make sure of the leader itself.
    Effect.orElse(() => Effect.try(() => child.kill("SIGKILL"))),
    Effect.ignore
  )

/**
 * Output chunks as they arrive, then exactly one `Exit`.
 *
 * @internal
 */
export const output = (started: Started): Stream.Stream<ExecOutput, ProcessError> =>
  Stream.merge(
    Stream.map(started.stdout, (data): ExecOutput => ({ _tag: "Stdout", data })),
    Stream.map(started.stderr, (data): ExecOutput => ({ _tag: "Stderr", data }))
  ).pipe(
    Stream.concat(
      Stream.fromEffect(Effect.map(started.exitCode, (exit_code): ExecOutput => ({ _tag: "Exit", exit_code })))
    )
  )

/** @internal */
export const concat = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  const all = Chunk.toReadonlyArray(chunks)
  const out = new Uint8Array(all.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of all) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

const decoder = new TextDecoder()

/**
 * Run a started process to completion, sending stdout to a sink and keeping stderr for messages.
 *
 * @internal
 */
export const complete = <E>(
  started: Started,
  stdout: Sink.Sink<void, Uint8Array, never, E>
): Effect.Effect<{ readonly exit_code: number; readonly stderr: string }, ProcessError | E> =>
  Effect.all(
    [Stream.run(started.stdout, stdout), Stream.runCollect(started.stderr), started.exitCode],
    { concurrency: "unbounded" }
  ).pipe(Effect.map(([, stderr, exit_code]) => ({ exit_code, stderr: decoder.decode(concat(stderr)) })))

/**
 * Start, run to completion and drain stdout.
 *
 * @internal
 */
export const run = (
  spawn: Spawn
): Effect.Effect<{ readonly exit_code: number; readonly stderr: string }, ProcessError> =>
  Effect.scoped(Effect.flatMap(start(spawn), (started) => complete(started, Sink.drain)))

/**
 * Like a shell: 127 when the command is not found, 126 when it is not an executable file, `undefined` when
 * it can run. Checked up front so that bubblewrap (which reports exec failures as its own exit 1) and a
 * plain spawn behave the same.
 *
 * @internal
 */
export const missingExecutable = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  command: string,
  cwd: string,
  searchPath: string | undefined
): Effect.Effect<number | undefined> => {
  const check = (candidate: string) =>
    fs.stat(candidate).pipe(
      Effect.map((info) => (info.type === "File" && (info.mode & 0o111) !== 0 ? undefined : 126)),
      Effect.orElseSucceed(() => 127)
    )
  if (command.includes("/")) return check(path.resolve(cwd, command))
  const dirs = (searchPath ?? "").split(":").filter((d) => d !== "")
  return Effect.gen(function*() {
    for (const dir of dirs) {
      if ((yield* check(path.resolve(cwd, dir, command))) === undefined) return undefined
    }
    return 127
  })
}
