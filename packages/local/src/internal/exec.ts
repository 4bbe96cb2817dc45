import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { ExecOutput, ExecRequest, ExecResult } from "@org/sandbox-core/SandboxProvider"
import type { Scope } from "effect"
import { Chunk, Duration, Effect, Option, Stream } from "effect"
import { type Bubblewrap, bwrapArgs } from "./bubblewrap.js"
import { fromProcess, providerError } from "./errors.js"
import type { Located } from "./layout.js"
import { confine } from "./paths.js"
import { concat, missingExecutable, output, type Spawn, start, type Started } from "./process.js"

/**
 * What running a command in a sandbox needs from the provider.
 *
 * @internal
 */
export interface Runner {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  /** The inherited minimum (PATH, HOME, LANG, TERM) with the profile's env over it. */
  readonly baseEnv: Readonly<Record<string, string>>
  readonly isolation: Option.Option<Bubblewrap>
  /** How long a command asked to stop may clean up before it is killed (the profile's `stop_grace`). */
  readonly stopGrace?: Duration.DurationInput
  /** Register a running process group so `stop`/`archive`/`destroy` can kill it. */
  readonly track: (
    instance_id: string,
    pgid: number,
    killGroup: Effect.Effect<void>
  ) => Effect.Effect<void, never, Scope.Scope>
}

/** The argv to spawn for a command in this sandbox: itself, or wrapped in bubblewrap. */
const wrap = (
  runner: Runner,
  found: Located,
  cwd: string,
  home: string | undefined,
  argv: readonly [string, ...Array<string>]
) =>
  Option.match(runner.isolation, {
    onNone: () => argv,
    onSome: (isolation): readonly [string, ...Array<string>] => [
      isolation.bwrap,
      ...bwrapArgs(runner.path, isolation, found.roots, cwd, home),
      ...argv
    ]
  })

const encoder = new TextEncoder()

/** What a command reads: fixed bytes, or a stream that keeps stdin open while it runs (`execInteractive`). */
export type Stdin = ExecRequest["stdin"] | Stream.Stream<Uint8Array>

const stdinOf = (stdin: Stdin): Spawn["stdin"] =>
  stdin === undefined
    ? undefined
    : typeof stdin !== "string" && !(stdin instanceof Uint8Array)
    ? stdin
    : stdin.length === 0
    ? undefined
    : Stream.succeed(typeof stdin === "string" ? encoder.encode(stdin) : stdin)

/**
 * Start a command in a running sandbox: cwd confined to the sandbox, env merged, optionally under
 * bubblewrap, tracked for `stop`. The caller's scope owns the process group.
 *
 * @internal
 */
export const startIn = (
  runner: Runner,
  found: Located,
  operation: string,
  options: {
    readonly argv: readonly [string, ...Array<string>]
    readonly cwd?: string | undefined
    readonly env?: Readonly<Record<string, string>> | undefined
    readonly stdin?: Spawn["stdin"]
    readonly stop?: Spawn["stop"]
  }
): Effect.Effect<Started | number, ProviderError, Scope.Scope> =>
  Effect.gen(function*() {
    const id = found.meta.sandbox_id
    const cwd = yield* confine(runner.fs, runner.path, found, operation, options.cwd ?? ".", "follow")
    const isDirectory = yield* runner.fs.stat(cwd).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    if (!isDirectory) {
      return yield* providerError(
        operation,
        "InvalidState",
        `working directory ${options.cwd ?? "."} does not exist`,
        id
      )
    }
    const env = { ...runner.baseEnv, ...found.meta.env, ...options.env }
    const missing = yield* missingExecutable(runner.fs, runner.path, options.argv[0], cwd, env["PATH"])
    if (missing !== undefined) return missing
    const started = yield* start({
      argv: wrap(runner, found, cwd, env["HOME"], options.argv),
      cwd,
      env,
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      ...(runner.stopGrace !== undefined ? { grace: runner.stopGrace } : {}),
      ...(options.stop !== undefined ? { stop: options.stop } : {})
    }).pipe(Effect.mapError(fromProcess(operation, id)))
    yield* runner.track(id, started.pid, started.killGroup)
    return started
  })

/** A failed lookup as a shell would report it. */
const notRunnable = (command: string, code: number): Stream.Stream<ExecOutput> =>
  Stream.make<Array<ExecOutput>>(
    {
      _tag: "Stderr",
      data: encoder.encode(`${command}: ${code === 127 ? "command not found" : "permission denied"}\n`)
    },
    { _tag: "Exit", exit_code: code }
  )

/**
 * A command's output as a stream, ending with one `Exit`. A timeout or an interruption kills the whole
 * process group.
 *
 * @internal
 */
export const execStream = (
  runner: Runner,
  found: Located,
  request: Omit<ExecRequest, "stdin"> & { readonly stdin?: Stdin },
  operation: string
): Stream.Stream<ExecOutput, ProviderError> => {
  const id = found.meta.sandbox_id
  const argv: readonly [string, ...Array<string>] | undefined = request.argv !== undefined && request.argv.length > 0
    ? [request.argv[0]!, ...request.argv.slice(1)]
    : request.shell !== undefined
    ? ["/bin/sh", "-c", request.shell]
    : undefined
  if (argv === undefined) {
    return Stream.fail(providerError(operation, "InvalidState", "exec needs argv or shell", id))
  }
  const stream = Stream.unwrapScoped(
    Effect.map(
      startIn(runner, found, operation, {
        argv,
        cwd: request.cwd,
        env: request.env,
        stdin: stdinOf(request.stdin),
        stop: request.stop
      }),
      (started) =>
        typeof started === "number"
          ? notRunnable(argv[0], started)
          : Stream.mapError(output(started), fromProcess(operation, id))
    )
  )
  if (request.timeout === undefined) return stream
  const limit = Duration.decode(request.timeout)
  return Stream.interruptWhen(
    stream,
    Effect.zipRight(
      Effect.sleep(limit),
      Effect.fail(
        providerError(
          operation,
          "Timeout",
          `command timed out after ${Duration.format(limit)}; its process group was killed`,
          id
        )
      )
    )
  )
}

const decoder = new TextDecoder()

/**
 * Run a streamed command to the end and keep its output.
 *
 * @internal
 */
export const collect = (stream: Stream.Stream<ExecOutput, ProviderError>): Effect.Effect<ExecResult, ProviderError> =>
  Stream.runFold(
    stream,
    { stdout: Chunk.empty<Uint8Array>(), stderr: Chunk.empty<Uint8Array>(), exit_code: -1 },
    (acc, chunk) =>
      chunk._tag === "Stdout"
        ? { ...acc, stdout: Chunk.append(acc.stdout, chunk.data) }
        : chunk._tag === "Stderr"
        ? { ...acc, stderr: Chunk.append(acc.stderr, chunk.data) }
        : { ...acc, exit_code: chunk.exit_code }
  ).pipe(
    Effect.map((acc) => ({
      exit_code: acc.exit_code,
      stdout: decoder.decode(concat(acc.stdout)),
      stderr: decoder.decode(concat(acc.stderr))
    }))
  )
