import type { PlatformError } from "@effect/platform/Error"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { ArchiveFormat, GetArchiveRequest, PutArchiveRequest } from "@org/sandbox-core/SandboxProvider"
import { Effect, Sink, Stream } from "effect"
import { fromPlatform, fromProcess, providerError } from "./errors.js"
import { type Runner, startIn } from "./exec.js"
import { type Located, tempSuffix } from "./layout.js"
import { confine } from "./paths.js"
import { complete, run, type Spawn } from "./process.js"

const encoder = new TextEncoder()

const zip = (format: ArchiveFormat): ReadonlyArray<string> => (format === "tar.gz" ? ["-z"] : [])

/** Run `tar` inside the sandbox (under bubblewrap when isolated), feeding stdin and draining stdout. */
const tarIn = (
  runner: Runner,
  found: Located,
  operation: string,
  options: {
    readonly args: readonly [string, ...Array<string>]
    readonly cwd: string
    readonly stdin: Stream.Stream<Uint8Array, unknown>
    readonly stdout: Sink.Sink<void, Uint8Array, never, PlatformError>
  }
): Effect.Effect<void, ProviderError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const id = found.meta.sandbox_id
      const started = yield* startIn(runner, found, operation, {
        argv: ["tar", ...options.args],
        cwd: options.cwd,
        env: { LC_ALL: "C" },
        stdin: options.stdin
      })
      if (typeof started === "number") {
        return yield* providerError(operation, "Unsupported", "the system tar is not on PATH", id)
      }
      const { exit_code, stderr } = yield* complete(started, options.stdout).pipe(
        Effect.catchTags({
          ProcessError: fromProcess(operation, id),
          SystemError: fromPlatform(operation, id, "tar output"),
          BadArgument: fromPlatform(operation, id, "tar output")
        })
      )
      if (exit_code !== 0) {
        const reason = /Cannot stat|No such file/.test(stderr) ? "NotFound" : "Unknown"
        return yield* providerError(operation, reason, `tar exited ${exit_code}: ${stderr.trim()}`, id)
      }
    })
  )

const hostFile = (runner: Runner, operation: string, id: string, file: string) =>
  runner.fs.stat(file).pipe(
    Effect.mapError(() => providerError(operation, "InvalidState", `${file}: no such archive on the host`, id)),
    Effect.asVoid
  )

/**
 * Extract a host tar into `dest` (created), keeping modes and links and not the archive's owners. Tar runs
 * inside the sandbox, so under bubblewrap a link planted in the runtime cannot redirect a write outside.
 *
 * @internal
 */
export const putArchive = (runner: Runner, found: Located, request: PutArchiveRequest) =>
  Effect.gen(function*() {
    const id = found.meta.sandbox_id
    yield* hostFile(runner, "putArchive", id, request.archive_path)
    const dest = yield* confine(runner.fs, runner.path, found, "putArchive", request.dest, "follow")
    yield* runner.fs.makeDirectory(dest, { recursive: true }).pipe(
      Effect.mapError(fromPlatform("putArchive", id, request.dest))
    )
    yield* tarIn(runner, found, "putArchive", {
      args: ["-x", "-p", "--no-same-owner", ...zip(request.format), "-f", "-", "-C", dest],
      cwd: dest,
      stdin: runner.fs.stream(request.archive_path),
      stdout: Sink.drain
    })
  })

/**
 * Pack `paths` (relative to `root`; a listed directory brings its subtree; links stay links) into a host
 * file, written through a temp file and a rename.
 *
 * @internal
 */
export const getArchive = (runner: Runner, found: Located, request: GetArchiveRequest) =>
  Effect.gen(function*() {
    const id = found.meta.sandbox_id
    const root = yield* confine(runner.fs, runner.path, found, "getArchive", request.root, "follow")
    for (const p of request.paths) {
      if (p === "" || runner.path.isAbsolute(p) || p.split("/").includes("..")) {
        return yield* providerError(
          "getArchive",
          "InvalidState",
          `${p}: path escapes the runtime (give paths relative to root)`,
          id
        )
      }
    }
    // A name starting with "-" would be read as an option from the list by GNU tar; "./" keeps it a name.
    const list = request.paths.map((p) => (p.startsWith("-") ? `./${p}` : p)).map((p) => `${p}\0`).join("")
    const tmp = `${request.archive_path}.tmp-${yield* tempSuffix}`
    const pack = tarIn(runner, found, "getArchive", {
      args: ["-c", ...zip(request.format), "-f", "-", "-C", root, "--null", "-T", "-"],
      cwd: root,
      stdin: Stream.succeed(encoder.encode(list)),
      stdout: runner.fs.sink(tmp)
    }).pipe(
      Effect.zipRight(
        runner.fs.rename(tmp, request.archive_path).pipe(
          Effect.mapError(fromPlatform("getArchive", id, request.archive_path))
        )
      )
    )
    yield* Effect.onError(pack, () => Effect.ignore(runner.fs.remove(tmp)))
  })

const hostTar = (runner: Runner, operation: string, id: string, args: Spawn["argv"], cwd: string) =>
  run({ argv: args, cwd, env: { PATH: runner.baseEnv["PATH"] ?? "/usr/bin:/bin", LC_ALL: "C" } }).pipe(
    Effect.mapError(fromProcess(operation, id)),
    Effect.flatMap(({ exit_code, stderr }) =>
      exit_code === 0
        ? Effect.void
        : Effect.fail(providerError(operation, "Unknown", `tar exited ${exit_code}: ${stderr.trim()}`, id))
    )
  )

/**
 * Pack a whole runtime directory (`<parent>/<id>`) into a tar.gz on the host.
 *
 * @internal
 */
export const packRuntime = (runner: Runner, id: string, parent: string, archive: string) =>
  hostTar(runner, "archive", id, ["tar", "-c", "-z", "-f", archive, "-C", parent, id], parent)

/**
 * Unpack a runtime archive into `into` (which then holds `<id>/`).
 *
 * @internal
 */
export const unpackRuntime = (runner: Runner, id: string, archive: string, into: string) =>
  hostTar(runner, "start", id, ["tar", "-x", "-z", "-p", "--no-same-owner", "-f", archive, "-C", into], into)
