/**
 * The provider conformance suite: one shared set of cases that every provider runs, whatever its test
 * runner. Each case exercises one declared capability through the contract only.
 *
 * ```ts
 * const suite = await conformanceSuite({ makeProvider, layer: NodeContext.layer })
 * describe("conformance", () => {
 *   for (const c of suite) it.skipIf(c.skip)(c.name, c.run, c.timeout)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Cause, Chunk, Clock, Data, Duration, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { Capabilities, CapabilityName } from "./Capabilities.js"
import { makeSandboxId, makeSessionId, ProfileName } from "./Ids.js"
import { builtinLocal, Profile } from "./Profile.js"
import type { ProviderError, ProviderErrorReason } from "./SandboxError.js"
import type { CreateSpec, ExecRequest, ExecResult, Instance, Service } from "./SandboxProvider.js"
import { Label, labelsFor, MANAGED_BY } from "./SandboxProvider.js"

/**
 * A conformance check did not hold.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConformanceFailure extends Data.TaggedError("ConformanceFailure")<{ readonly message: string }> {}

/**
 * The platform services the cases use on the host side (temp dirs, the system `tar`).
 *
 * @since 0.1.0
 * @category models
 */
export type ConformanceEnv = FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor

/**
 * What a case gets: the provider under test and a way to make sandboxes that are destroyed afterwards.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConformanceContext {
  readonly provider: Service
  /** A spec with fresh ids on every call. */
  readonly makeSpec: () => CreateSpec
  /** Create a sandbox that is destroyed when the case ends. */
  readonly sandbox: (spec?: CreateSpec) => Effect.Effect<Instance, ProviderError, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConformanceCase {
  readonly name: string
  readonly capability: CapabilityName | "core"
  /** An optional operation of the contract the case needs; the case is skipped when the provider lacks it. */
  readonly operation?: OptionalOperation
  readonly run: (ctx: ConformanceContext) => Effect.Effect<void, unknown, ConformanceEnv | Scope.Scope>
}

/**
 * Optional operations of the contract that have conformance cases.
 *
 * @since 0.1.0
 * @category models
 */
export type OptionalOperation = "hostPath"

/**
 * One runnable test, shaped for any runner: `it.skipIf(t.skip)(t.name, t.run, t.timeout)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConformanceTest {
  readonly name: string
  readonly capability: CapabilityName | "core"
  /** True only when the provider does not declare the capability (or lacks the optional operation). */
  readonly skip: boolean
  /** A generous per-test limit in milliseconds, for the runner. */
  readonly timeout: number
  readonly run: () => Promise<void>
}

// ---- assertions

const fail = (message: string) => new ConformanceFailure({ message })

const check = (condition: boolean, message: string): Effect.Effect<void, ConformanceFailure> =>
  condition ? Effect.void : Effect.fail(fail(message))

const show = (u: unknown): string => {
  if (u instanceof Uint8Array) return `<${u.length} bytes>`
  const json = JSON.stringify(u)
  return json === undefined ? String(u) : json.length > 200 ? `${json.slice(0, 200)}…` : json
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

const equal = (actual: unknown, expected: unknown, what: string): Effect.Effect<void, ConformanceFailure> => {
  const same = actual instanceof Uint8Array && expected instanceof Uint8Array
    ? sameBytes(actual, expected)
    : show(actual) === show(expected)
  return check(same, `${what}: expected ${show(expected)}, got ${show(actual)}`)
}

/** The effect must fail with a `ProviderError` of this reason. */
const failsWith = <A, R>(
  effect: Effect.Effect<A, ProviderError, R>,
  reason: ProviderErrorReason,
  what: string
): Effect.Effect<ProviderError, ConformanceFailure, R> =>
  effect.pipe(
    Effect.matchEffect({
      onSuccess: (a) =>
        Effect.fail(fail(`${what}: expected a ProviderError (${reason}), but it succeeded with ${show(a)}`)),
      onFailure: (e) =>
        e._tag === "ProviderError" && e.reason === reason
          ? Effect.succeed(e)
          : Effect.fail(
            fail(`${what}: expected a ProviderError (${reason}), got ${e._tag} (${e.reason}): ${e.message}`)
          )
    })
  )

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const baseName = (p: string): string => p.replace(/\/+$/, "").split("/").pop() ?? p

const exec = (
  ctx: ConformanceContext,
  instance: Instance,
  request: ExecRequest
): Effect.Effect<ExecResult, ProviderError> => ctx.provider.exec(instance, request)

const execOk = (ctx: ConformanceContext, instance: Instance, shell: string, env: Record<string, string> = {}) =>
  Effect.flatMap(exec(ctx, instance, { shell, env }), (r) =>
    r.exit_code === 0
      ? Effect.succeed(r)
      : Effect.fail(fail(`shell ${show(shell)} exited ${r.exit_code}: ${r.stderr.trim()}`)))

const listIds = (ctx: ConformanceContext, labels: Record<string, string>) =>
  Stream.runCollect(ctx.provider.list({ labels })).pipe(Effect.map((c) => Chunk.toReadonlyArray(c)))

/** Run the system `tar` on the host. */
const hostTar = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const code = yield* Command.exitCode(Command.make("tar", ...args))
    yield* check(code === 0, `host tar ${args.join(" ")} exited ${code}`)
  })

/** A tree on the host with a file, an executable, a relative symlink and a nested directory. */
const hostTree = (root: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(`${root}/bin`, { recursive: true })
    yield* fs.makeDirectory(`${root}/nested/deep`, { recursive: true })
    yield* fs.writeFile(`${root}/file.txt`, bytes("hello conformance\n"))
    yield* fs.writeFile(`${root}/bin/run.sh`, bytes("#!/bin/sh\necho ran\n"))
    yield* fs.chmod(`${root}/bin/run.sh`, 0o755)
    yield* fs.writeFile(`${root}/nested/deep/inner.bin`, binary)
    yield* fs.symlink("file.txt", `${root}/link.txt`)
  })

const binary = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7 + 3) % 256)

const treePaths = ["file.txt", "bin/run.sh", "link.txt", "nested/deep/inner.bin"] as const

/** Put the host tree into `dest` inside the sandbox through `putArchive`. */
const putTree = (ctx: ConformanceContext, instance: Instance, dest: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const host = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-conformance-" })
    yield* hostTree(`${host}/src`)
    yield* hostTar(["-czf", `${host}/in.tar.gz`, "-C", `${host}/src`, "file.txt", "bin", "link.txt", "nested"])
    yield* ctx.provider.putArchive(instance, { archive_path: `${host}/in.tar.gz`, format: "tar.gz", dest })
  })

/** A process in the sandbox is alive (zombies count as gone). */
const aliveScript = (pidFile: string) =>
  `pid=$(cat ${pidFile}); if kill -0 "$pid" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z ' /proc/"$pid"/stat 2>/dev/null; ` +
  `then echo alive; else echo gone; fi`

/** Poll (bounded) until a background process in the sandbox is gone: signals land asynchronously. */
const awaitGone = (ctx: ConformanceContext, instance: Instance, pidFile: string) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 30; attempt++) {
      const r = yield* execOk(ctx, instance, aliveScript(pidFile))
      if (r.stdout.trim() === "gone") return
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.fail(fail("a background child of the timed-out command is still running"))
  })

/** Poll (bounded) until a counter file a command bumps every 0.1 s stops changing: the command is gone. */
const awaitStill = (ctx: ConformanceContext, instance: Instance, tickFile: string) =>
  Effect.gen(function*() {
    const read = Effect.map(execOk(ctx, instance, `cat ${tickFile} 2>/dev/null || echo none`), (r) => r.stdout)
    let last = yield* read
    // still for two looks in a row (1 s): on a loaded machine a live loop can miss one 500 ms look
    let still = 0
    for (let attempt = 0; attempt < 20; attempt++) {
      yield* Effect.sleep("500 millis")
      const now = yield* read
      still = now === last ? still + 1 : 0
      if (still === 2) return
      last = now
    }
    return yield* Effect.fail(fail("the command of the stopped stream is still running"))
  })

const ourLabels = (spec: CreateSpec) => labelsFor(spec)

// ---- cases

const core: ReadonlyArray<ConformanceCase> = [
  {
    name: "create is idempotent: a second create with the same spec returns the same instance",
    capability: "core",
    run: (ctx) =>
      Effect.gen(function*() {
        const spec = ctx.makeSpec()
        const first = yield* ctx.sandbox(spec)
        const second = yield* ctx.provider.create(spec)
        yield* equal(second.instance_id, first.instance_id, "instance_id of the second create")
        yield* equal(first.state, "running", "state after create")
        yield* check(first.workdir !== "", "create returned an empty workdir")
      })
  },
  {
    name: "get and list by our labels find a created sandbox",
    capability: "core",
    run: (ctx) =>
      Effect.gen(function*() {
        const spec = ctx.makeSpec()
        const instance = yield* ctx.sandbox(spec)
        const got = yield* ctx.provider.get(instance.instance_id)
        yield* equal(got.instance_id, instance.instance_id, "get(instance_id).instance_id")
        yield* equal(got.workdir, instance.workdir, "get(instance_id).workdir")
        const found = yield* listIds(ctx, { [Label.managedBy]: MANAGED_BY, [Label.sandboxId]: spec.sandbox_id })
        yield* equal(found.map((i) => i.instance_id), [instance.instance_id], "list by managed-by and sandbox-id")
        const all = yield* listIds(ctx, ourLabels(spec))
        yield* equal(all.map((i) => i.instance_id), [instance.instance_id], "list by all five labels")
        const other = yield* listIds(ctx, { [Label.sandboxId]: ctx.makeSpec().sandbox_id })
        yield* check(!other.some((i) => i.instance_id === instance.instance_id), "list by another sandbox-id found it")
      })
  },
  {
    name: "destroy is idempotent and get afterwards fails NotFound",
    capability: "core",
    run: (ctx) =>
      Effect.gen(function*() {
        const spec = ctx.makeSpec()
        const instance = yield* ctx.sandbox(spec)
        yield* ctx.provider.destroy(instance)
        yield* ctx.provider.destroy(instance)
        yield* failsWith(ctx.provider.get(instance.instance_id), "NotFound", "get after destroy")
        const found = yield* listIds(ctx, { [Label.sandboxId]: spec.sandbox_id })
        yield* equal(found.length, 0, "instances listed after destroy")
      })
  }
]

const labels: ReadonlyArray<ConformanceCase> = [
  {
    name: "all five of our labels round-trip on the instance",
    capability: "labels",
    run: (ctx) =>
      Effect.gen(function*() {
        const spec = ctx.makeSpec()
        const expected = ourLabels(spec)
        const created = yield* ctx.sandbox(spec)
        const got = yield* ctx.provider.get(created.instance_id)
        const [listed] = yield* listIds(ctx, { [Label.sandboxId]: spec.sandbox_id })
        for (const [source, instance] of [["create", created], ["get", got], ["list", listed]] as const) {
          yield* check(instance !== undefined, `${source} returned no instance`)
          for (const [key, value] of Object.entries(expected)) {
            yield* equal(instance?.labels[key], value, `label ${key} from ${source}`)
          }
        }
      })
  }
]

const execCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "exec runs argv without a shell and a shell script",
    capability: "exec",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const argv = yield* exec(ctx, instance, { argv: ["printf", "%s|%s", "a b", "$HOME"] })
        yield* equal(argv, { exit_code: 0, stdout: "a b|$HOME", stderr: "" }, "argv result")
        const shell = yield* exec(ctx, instance, { shell: "echo $((1 + 2)); echo oops >&2" })
        yield* equal(shell, { exit_code: 0, stdout: "3\n", stderr: "oops\n" }, "shell result")
      })
  },
  {
    name: "exec runs in the workdir by default and resolves a relative cwd against it",
    capability: "exec",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const env = { CONFORMANCE_WORKDIR: instance.workdir }
        yield* execOk(
          ctx,
          instance,
          "mkdir -p sub/dir && test \"$(pwd -P)\" = \"$(cd \"$CONFORMANCE_WORKDIR\" && pwd -P)\"",
          env
        )
        const r = yield* exec(ctx, instance, {
          shell: "test \"$(pwd -P)\" = \"$(cd \"$CONFORMANCE_WORKDIR/sub/dir\" && pwd -P)\"",
          cwd: "sub/dir",
          env
        })
        yield* equal(r.exit_code, 0, "exit code of a cwd check in sub/dir")
      })
  },
  {
    name: "exec passes env and stdin (text and bytes)",
    capability: "exec",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const env = yield* exec(ctx, instance, {
          shell: "printf %s \"$CONFORMANCE_VAR\"",
          env: { CONFORMANCE_VAR: "a b=c" }
        })
        yield* equal(env.stdout, "a b=c", "env var seen by the command")
        const textIn = yield* exec(ctx, instance, { argv: ["cat"], stdin: "line one\nline two\n" })
        yield* equal(textIn.stdout, "line one\nline two\n", "stdin string echoed by cat")
        const bytesIn = yield* exec(ctx, instance, { argv: ["wc", "-c"], stdin: binary })
        yield* equal(bytesIn.stdout.trim(), String(binary.length), "byte count of a binary stdin")
        const none = yield* exec(ctx, instance, { argv: ["cat"] })
        yield* equal(none, { exit_code: 0, stdout: "", stderr: "" }, "cat without stdin (stdin must be closed)")
      })
  },
  {
    name: "exec returns a non-zero exit code as a result, not a failure",
    capability: "exec",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const r = yield* exec(ctx, instance, { shell: "echo partial; exit 7" })
        yield* equal(r.exit_code, 7, "exit code")
        yield* equal(r.stdout, "partial\n", "stdout before the exit")
        const f = yield* exec(ctx, instance, { argv: ["false"] })
        yield* equal(f.exit_code, 1, "exit code of false")
      })
  },
  {
    name: "exec timeout fails with Timeout and kills the whole process group",
    capability: "exec",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const started = yield* Clock.currentTimeMillis
        yield* failsWith(
          exec(ctx, instance, { shell: "sleep 30 & echo $! > .conformance-bg.pid; wait", timeout: "1500 millis" }),
          "Timeout",
          "exec with a timeout"
        )
        const elapsed = (yield* Clock.currentTimeMillis) - started
        yield* check(elapsed < 15_000, `a 1.5 s timeout took ${elapsed} ms to fire`)
        yield* awaitGone(ctx, instance, ".conformance-bg.pid")
      })
  }
]

const execStreamCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "execStream keeps stdout and stderr apart and ends with exactly one Exit",
    capability: "exec_stream",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const chunks = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            ctx.provider.execStream(instance, { shell: "printf out; printf err >&2; printf more; exit 3" })
          )
        )
        const join = (tag: "Stdout" | "Stderr") =>
          text(Uint8Array.from(chunks.flatMap((c) => (c._tag === tag ? Array.from(c.data) : []))))
        yield* equal(join("Stdout"), "outmore", "stdout chunks")
        yield* equal(join("Stderr"), "err", "stderr chunks")
        const exits = chunks.filter((c) => c._tag === "Exit")
        yield* equal(exits.length, 1, "number of Exit chunks")
        yield* equal(chunks[chunks.length - 1], { _tag: "Exit", exit_code: 3 }, "last chunk")
      })
  },
  {
    name: "execStream runs in the workdir by default, resolves a relative cwd against it and passes env",
    capability: "exec_stream",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const env = { CONFORMANCE_WORKDIR: instance.workdir, CONFORMANCE_VAR: "a b=c" }
        yield* execOk(ctx, instance, "mkdir -p sub/dir")
        const check = (cwd: string | undefined, dir: string) =>
          Effect.gen(function*() {
            const chunks = Chunk.toReadonlyArray(
              yield* Stream.runCollect(ctx.provider.execStream(instance, {
                shell:
                  `test "$(pwd -P)" = "$(cd "$CONFORMANCE_WORKDIR${dir}" && pwd -P)" && printf %s "$CONFORMANCE_VAR"`,
                env,
                ...(cwd !== undefined ? { cwd } : {})
              }))
            )
            const stdout = text(Uint8Array.from(chunks.flatMap((c) => (c._tag === "Stdout" ? Array.from(c.data) : []))))
            const exit = chunks.find((c) => c._tag === "Exit")
            yield* equal(exit, { _tag: "Exit", exit_code: 0 }, `exit of a cwd check in ${cwd ?? "the workdir"}`)
            yield* equal(stdout, "a b=c", "env var seen by the streamed command")
          })
        yield* check(undefined, "")
        yield* check("sub/dir", "/sub/dir")
      })
  },
  {
    name: "execStream stopped by its consumer kills the command (one that never ends by itself)",
    capability: "exec_stream",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const started = yield* Clock.currentTimeMillis
        // A counter file that the command bumps for as long as it lives: pids do not cross a PID namespace (a
        // sandbox may give every exec its own), files do.
        const first = yield* Stream.runHead(
          ctx.provider.execStream(instance, {
            shell: "i=0; echo started; while :; do i=$((i+1)); echo $i > .conformance-stream.tick; sleep 0.1; done"
          }).pipe(Stream.filter((c) => c._tag === "Stdout"))
        )
        yield* check(first._tag === "Some", "the stream ended before any output")
        const elapsed = (yield* Clock.currentTimeMillis) - started
        yield* check(elapsed < 15_000, `stopping the stream took ${elapsed} ms`)
        yield* awaitStill(ctx, instance, ".conformance-stream.tick")
      })
  }
]

const fsCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "writeFile and readFile round-trip text and binary bytes (relative and absolute paths)",
    capability: "fs",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        yield* ctx.provider.mkdir(instance, "rt")
        yield* ctx.provider.writeFile(instance, "rt/a.txt", bytes("héllo\n"))
        yield* equal(text(yield* ctx.provider.readFile(instance, "rt/a.txt")), "héllo\n", "text read back")
        const all = Uint8Array.from({ length: 4096 }, (_, i) => i % 256)
        yield* ctx.provider.writeFile(instance, "rt/all.bin", all)
        yield* equal(yield* ctx.provider.readFile(instance, "rt/all.bin"), all, "binary read back")
        yield* equal(
          yield* ctx.provider.readFile(instance, `${instance.workdir}/rt/all.bin`),
          all,
          "binary read by absolute path"
        )
        yield* ctx.provider.writeFile(instance, "rt/a.txt", bytes("replaced"))
        yield* equal(text(yield* ctx.provider.readFile(instance, "rt/a.txt")), "replaced", "overwritten file")
        yield* ctx.provider.writeFile(instance, "rt/empty", new Uint8Array(0))
        yield* equal((yield* ctx.provider.readFile(instance, "rt/empty")).length, 0, "size of an empty file")
      })
  },
  {
    name: "writeFile sets the mode and stat reports kinds, sizes and modes",
    capability: "fs",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        yield* ctx.provider.mkdir(instance, "st")
        yield* ctx.provider.writeFile(instance, "st/run.sh", bytes("#!/bin/sh\n"), { mode: 0o755 })
        yield* ctx.provider.writeFile(instance, "st/secret", bytes("s"), { mode: 0o600 })
        const run = yield* ctx.provider.stat(instance, "st/run.sh")
        yield* equal(run.kind, "file", "kind of a file")
        yield* equal(run.size, 10, "size of a file")
        yield* equal((run.mode & 0o777).toString(8), "755", "mode of an executable")
        yield* equal(((yield* ctx.provider.stat(instance, "st/secret")).mode & 0o777).toString(8), "600", "mode 600")
        yield* equal((yield* ctx.provider.stat(instance, "st")).kind, "directory", "kind of a directory")
        if (ctx.provider.capabilities.exec) {
          yield* execOk(ctx, instance, "ln -s run.sh st/link")
          yield* equal(
            (yield* ctx.provider.stat(instance, "st/link")).kind,
            "symlink",
            "kind of a symlink (not followed)"
          )
        }
        yield* failsWith(ctx.provider.stat(instance, "st/missing"), "NotFound", "stat of a missing path")
      })
  },
  {
    name: "mkdir creates nested directories and listDir lists entries",
    capability: "fs",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        yield* ctx.provider.mkdir(instance, "ls/a/b")
        yield* ctx.provider.writeFile(instance, "ls/one.txt", bytes("1"))
        yield* ctx.provider.writeFile(instance, "ls/two.txt", bytes("22"))
        const entries = yield* ctx.provider.listDir(instance, "ls")
        const byName = new Map(entries.map((e) => [baseName(e.path), e]))
        yield* equal([...byName.keys()].sort(), ["a", "one.txt", "two.txt"], "names listed")
        yield* equal(byName.get("a")?.kind, "directory", "kind of a listed directory")
        yield* equal(byName.get("two.txt")?.size, 2, "size of a listed file")
        yield* equal((yield* ctx.provider.stat(instance, "ls/a/b")).kind, "directory", "nested directory made by mkdir")
      })
  },
  {
    name: "remove deletes a file and a directory recursively; readFile of a missing path fails NotFound",
    capability: "fs",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        yield* ctx.provider.mkdir(instance, "rm/tree/deep")
        yield* ctx.provider.writeFile(instance, "rm/tree/deep/x", bytes("x"))
        yield* ctx.provider.writeFile(instance, "rm/file", bytes("f"))
        yield* ctx.provider.remove(instance, "rm/file")
        yield* failsWith(ctx.provider.readFile(instance, "rm/file"), "NotFound", "readFile of a removed file")
        yield* ctx.provider.remove(instance, "rm/tree", { recursive: true })
        yield* failsWith(ctx.provider.stat(instance, "rm/tree"), "NotFound", "stat of a removed directory")
        yield* failsWith(ctx.provider.readFile(instance, "never/was/here"), "NotFound", "readFile of a missing path")
      })
  }
]

const hostPathCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "hostPath is a host directory holding what the runtime sees at its workdir, both ways",
    capability: "core",
    operation: "hostPath",
    run: (ctx) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const instance = yield* ctx.sandbox()
        const dir = yield* ctx.provider.hostPath!(instance)
        yield* check(path.isAbsolute(dir), `hostPath ${show(dir)} is not an absolute path`)
        yield* check((yield* fs.stat(dir)).type === "Directory", `hostPath ${show(dir)} is not a directory`)
        yield* fs.writeFileString(path.join(dir, "from-host.txt"), "written on the host\n")
        if (ctx.provider.capabilities.exec) {
          const r = yield* execOk(ctx, instance, "cat from-host.txt && printf runtime > from-runtime.txt")
          yield* equal(r.stdout, "written on the host\n", "a host write read in the runtime")
          yield* equal(
            yield* fs.readFileString(path.join(dir, "from-runtime.txt")),
            "runtime",
            "a runtime write read on the host"
          )
        }
        if (ctx.provider.capabilities.fs) {
          yield* equal(
            text(yield* ctx.provider.readFile(instance, "from-host.txt")),
            "written on the host\n",
            "readFile of a host write"
          )
        }
      })
  }
]

const archiveTransferCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "putArchive extracts a host tar.gz with a file, an executable, a symlink and a nested dir",
    capability: "archive_transfer",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        yield* putTree(ctx, instance, "incoming")
        if (ctx.provider.capabilities.fs) {
          yield* equal(
            text(yield* ctx.provider.readFile(instance, "incoming/file.txt")),
            "hello conformance\n",
            "file.txt"
          )
          yield* equal(
            yield* ctx.provider.readFile(instance, "incoming/nested/deep/inner.bin"),
            binary,
            "nested binary"
          )
          const run = yield* ctx.provider.stat(instance, "incoming/bin/run.sh")
          yield* equal((run.mode & 0o777).toString(8), "755", "mode of the executable")
          yield* equal((yield* ctx.provider.stat(instance, "incoming/link.txt")).kind, "symlink", "kind of link.txt")
        }
        if (ctx.provider.capabilities.exec) {
          const r = yield* execOk(
            ctx,
            instance,
            "readlink incoming/link.txt && ./incoming/bin/run.sh && cat incoming/link.txt"
          )
          yield* equal(
            r.stdout,
            "file.txt\nran\nhello conformance\n",
            "link target, executable output, content via link"
          )
        }
      })
  },
  {
    name: "getArchive packs a list of paths into a host tar that extracts to the same bytes, modes and links",
    capability: "archive_transfer",
    run: (ctx) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const instance = yield* ctx.sandbox()
        yield* putTree(ctx, instance, "incoming")
        const host = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-conformance-" })
        for (const format of ["tar.gz", "tar"] as const) {
          const archive = `${host}/out.${format}`
          const out = `${host}/out-${format}`
          yield* ctx.provider.getArchive(instance, {
            root: "incoming",
            paths: treePaths,
            archive_path: archive,
            format
          })
          yield* fs.makeDirectory(out)
          yield* hostTar([format === "tar.gz" ? "-xzf" : "-xf", archive, "-C", out])
          yield* equal(text(yield* fs.readFile(`${out}/file.txt`)), "hello conformance\n", `${format}: file.txt`)
          yield* equal(yield* fs.readFile(`${out}/nested/deep/inner.bin`), binary, `${format}: nested binary`)
          yield* equal(
            ((yield* fs.stat(`${out}/bin/run.sh`)).mode & 0o777).toString(8),
            "755",
            `${format}: executable mode`
          )
          yield* equal(yield* fs.readLink(`${out}/link.txt`), "file.txt", `${format}: symlink kept as a link`)
        }
      })
  }
]

/** Write a marker file through whichever capability the provider has, and read it back. */
const marker = (ctx: ConformanceContext) => ({
  write: (instance: Instance) =>
    ctx.provider.capabilities.fs
      ? ctx.provider.writeFile(instance, "marker.txt", bytes("kept\n"))
      : Effect.asVoid(execOk(ctx, instance, "echo kept > marker.txt")),
  read: (instance: Instance) =>
    ctx.provider.capabilities.fs
      ? Effect.map(ctx.provider.readFile(instance, "marker.txt"), text)
      : Effect.map(execOk(ctx, instance, "cat marker.txt"), (r) => r.stdout)
})

const persistenceCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "stop then start keeps files",
    capability: "reuse",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const m = marker(ctx)
        yield* m.write(instance)
        const stopped = yield* ctx.provider.stop(instance)
        yield* equal(stopped.state, "stopped", "state after stop")
        yield* equal((yield* ctx.provider.get(instance.instance_id)).state, "stopped", "state from get after stop")
        const started = yield* ctx.provider.start(stopped)
        yield* equal(started.state, "running", "state after start")
        yield* equal(yield* m.read(started), "kept\n", "marker after stop and start")
      })
  },
  {
    name: "archive then start restores files",
    capability: "archive",
    run: (ctx) =>
      Effect.gen(function*() {
        const spec = ctx.makeSpec()
        const instance = yield* ctx.sandbox(spec)
        const m = marker(ctx)
        yield* m.write(instance)
        const archived = yield* ctx.provider.archive(instance)
        yield* check(
          archived.state === "archived" || archived.state === "stopped",
          `state after archive: ${archived.state}`
        )
        const got = yield* ctx.provider.get(instance.instance_id)
        yield* equal(got.state, archived.state, "state from get after archive")
        const listed = yield* listIds(ctx, { [Label.sandboxId]: spec.sandbox_id })
        yield* equal(listed.map((i) => i.instance_id), [instance.instance_id], "list after archive")
        const started = yield* ctx.provider.start(got)
        yield* equal(started.state, "running", "state after start from archive")
        yield* equal(yield* m.read(started), "kept\n", "marker after archive and start")
      })
  }
]

/**
 * Every conformance case, core lifecycle first.
 *
 * @since 0.1.0
 * @category cases
 */
export const cases: ReadonlyArray<ConformanceCase> = [
  ...core,
  ...labels,
  ...execCases,
  ...execStreamCases,
  ...fsCases,
  ...archiveTransferCases,
  ...hostPathCases,
  ...persistenceCases
]

/**
 * A spec with fresh ids and our labels, for a provider named `backend`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSpec = (backend: string): CreateSpec => {
  const base = {
    sandbox_id: makeSandboxId(),
    session_id: makeSessionId(),
    workspace: "conformance",
    owner: "conformance@sandbox-cli"
  }
  return {
    ...base,
    profile: Profile.make({ ...builtinLocal, name: ProfileName.make("conformance"), backend, source: "<conformance>" }),
    labels: labelsFor(base),
    env: {}
  }
}

const TIMEOUT_MS = 60_000

/**
 * Build the suite for one provider. `makeProvider` runs once to read the declared capabilities and optional
 * operations (skipped when `capabilities` is given and no selected case needs an optional operation), then
 * once per case, inside that case's scope; `layer` provides the platform services (and anything
 * `makeProvider` needs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const conformanceSuite = async <R>(options: {
  readonly makeProvider: Effect.Effect<Service, unknown, Scope.Scope | ConformanceEnv | NoInfer<R>>
  readonly layer: Layer.Layer<ConformanceEnv | R, unknown>
  /** Fresh ids on every call; our five labels are added when missing. */
  readonly makeSpec?: () => CreateSpec
  /** Declared capabilities, to skip building the provider just to read them. */
  readonly capabilities?: Capabilities
  readonly cases?: ReadonlyArray<ConformanceCase>
}): Promise<ReadonlyArray<ConformanceTest>> => {
  const runtime = (effect: Effect.Effect<void, unknown, ConformanceEnv | R | Scope.Scope>) =>
    Effect.runPromiseExit(Effect.scoped(effect).pipe(Effect.provide(options.layer))).then((exit) => {
      // The runner's protocol is a rejected promise with a readable message.
      if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
    })
  const selected = options.cases ?? cases
  let capabilities = options.capabilities
  let operations = new Set<OptionalOperation>()
  // optional operations are not declared anywhere but on the provider itself: build it once to look
  if (capabilities === undefined || selected.some((c) => c.operation !== undefined)) {
    let read: Capabilities | undefined
    await runtime(Effect.map(options.makeProvider, (p) => {
      read = p.capabilities
      operations = new Set(p.hostPath !== undefined ? ["hostPath"] : [])
    }))
    capabilities ??= read!
  }
  const declared = capabilities
  return selected.map((c): ConformanceTest => ({
    name: `${c.capability}: ${c.name}`,
    capability: c.capability,
    skip: (c.capability !== "core" && !declared[c.capability]) ||
      (c.operation !== undefined && !operations.has(c.operation)),
    timeout: TIMEOUT_MS,
    run: () =>
      runtime(Effect.gen(function*() {
        const provider = yield* options.makeProvider
        const spec = (): CreateSpec => {
          const s = options.makeSpec ? options.makeSpec() : makeSpec(provider.name)
          return { ...s, labels: { ...labelsFor(s), ...s.labels } }
        }
        const ctx: ConformanceContext = {
          provider,
          makeSpec: spec,
          sandbox: (s = spec()) => Effect.acquireRelease(provider.create(s), (i) => Effect.ignore(provider.destroy(i)))
        }
        yield* c.run(ctx).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(TIMEOUT_MS - 5_000),
            onTimeout: () => fail(`did not finish within ${TIMEOUT_MS - 5_000} ms`)
          })
        )
      }))
  }))
}
