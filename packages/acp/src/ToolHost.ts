/**
 * The tool host: an ACP agent's `fs/*` and `terminal/*` requests, run inside the sandbox through the provider
 * contract and confined to the sandbox's working directory. Whether the agent itself runs on the host or in
 * the sandbox, its file reads, writes and commands happen in the runtime; the host only sees them when a
 * sync brings changes home.
 *
 * @since 0.1.0
 */
import type * as acp from "@agentclientprotocol/sdk"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { ExecRequest, Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Deferred, Effect, Fiber, Option, Schema, Stream } from "effect"
import type { Scope } from "effect"
import * as Paths from "./internal/paths.js"
import { keepTail } from "./internal/text.js"

/**
 * Why a tool request was refused or failed.
 *
 * @since 0.1.0
 * @category models
 */
export const ToolErrorReason = Schema.Literal("OutsideRoot", "NotFound", "UnknownTerminal", "Provider")

/**
 * A tool request the host could not carry out; the agent gets it as a JSON-RPC error.
 *
 * @since 0.1.0
 * @category errors
 */
export class ToolError extends Schema.TaggedError<ToolError>("@org/sandbox-acp/ToolError")("ToolError", {
  method: Schema.String,
  reason: ToolErrorReason,
  path: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.method}: ${this.detail}`
  }
}

/**
 * How a terminal ended: an exit code, or the signal that ended it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitStatus {
  readonly exitCode: number | null
  readonly signal: string | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolHost {
  /** The directory every path must stay in: the sandbox's working directory. */
  readonly root: string
  readonly readTextFile: (request: acp.ReadTextFileRequest) => Effect.Effect<acp.ReadTextFileResponse, ToolError>
  readonly writeTextFile: (request: acp.WriteTextFileRequest) => Effect.Effect<void, ToolError>
  readonly createTerminal: (request: acp.CreateTerminalRequest) => Effect.Effect<acp.CreateTerminalResponse, ToolError>
  readonly terminalOutput: (terminalId: string) => Effect.Effect<acp.TerminalOutputResponse, ToolError>
  readonly waitForExit: (terminalId: string) => Effect.Effect<ExitStatus, ToolError>
  readonly killTerminal: (terminalId: string) => Effect.Effect<void, ToolError>
  readonly releaseTerminal: (terminalId: string) => Effect.Effect<void, ToolError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly provider: ProviderService
  readonly instance: Instance
  /** Defaults to the instance's workdir. */
  readonly root?: string
  /** Environment for terminals, under what the agent asks for. */
  readonly env?: Readonly<Record<string, string>>
}

interface Terminal {
  output: string
  truncated: boolean
  readonly limit: number | null
  readonly exit: Deferred.Deferred<ExitStatus>
  fiber: Fiber.RuntimeFiber<void> | null
}

const encoder = new TextEncoder()

/**
 * Build a tool host for one sandbox. Terminals belong to the scope: closing it kills whatever still runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("ToolHost.make")(function*(options: MakeOptions) {
  const scope = yield* Effect.scope
  const { instance, provider } = options
  const root = Paths.normalize(options.root ?? instance.workdir)
  const terminals = new Map<string, Terminal>()
  let nextTerminal = 0

  const confine = (method: string, p: string) =>
    Effect.suspend(() => {
      const result = Paths.confine(root, p)
      return result._tag === "Inside"
        ? Effect.succeed(result.path)
        : Effect.fail(new ToolError({ method, reason: "OutsideRoot", path: p, detail: result.reason }))
    })

  const fromProvider = (method: string, p?: string) => (e: ProviderError) =>
    new ToolError({
      method,
      reason: e.reason === "NotFound" ? "NotFound" : "Provider",
      ...(p !== undefined ? { path: p } : {}),
      detail: e.reason === "NotFound" && p !== undefined ? `${p}: no such file` : e.message
    })

  const terminal = (method: string, terminalId: string) =>
    Effect.suspend(() => {
      const found = terminals.get(terminalId)
      return found
        ? Effect.succeed(found)
        : Effect.fail(new ToolError({ method, reason: "UnknownTerminal", detail: `no terminal ${terminalId}` }))
    })

  const append = (t: Terminal, text: string) => {
    const next = t.output + text
    if (t.limit === null) t.output = next
    else {
      const kept = keepTail(next, t.limit)
      t.output = kept.text
      t.truncated = t.truncated || kept.truncated
    }
  }

  const readTextFile = Effect.fn("ToolHost.readTextFile")(function*(request: acp.ReadTextFileRequest) {
    const method = "fs/read_text_file"
    const path = yield* confine(method, request.path)
    const bytes = yield* provider.readFile(instance, path).pipe(Effect.mapError(fromProvider(method, request.path)))
    const content = new TextDecoder().decode(bytes)
    if ((request.line ?? null) === null && (request.limit ?? null) === null) return { content }
    // `line` is 1-based; `limit` counts lines from there.
    const lines = content.split("\n")
    const start = Math.max(0, (request.line ?? 1) - 1)
    const end = request.limit != null ? start + Math.max(0, request.limit) : lines.length
    return { content: lines.slice(start, end).join("\n") }
  })

  const writeTextFile = Effect.fn("ToolHost.writeTextFile")(function*(request: acp.WriteTextFileRequest) {
    const method = "fs/write_text_file"
    const path = yield* confine(method, request.path)
    yield* provider.writeFile(instance, path, encoder.encode(request.content)).pipe(
      Effect.mapError(fromProvider(method, request.path))
    )
  })

  const createTerminal = Effect.fn("ToolHost.createTerminal")(function*(request: acp.CreateTerminalRequest) {
    const method = "terminal/create"
    const cwd = yield* confine(method, request.cwd ?? root)
    const env = {
      ...options.env,
      ...Object.fromEntries((request.env ?? []).map((v) => [v.name, v.value]))
    }
    // Agents commonly send a whole shell command with no args; with args it is an argv.
    const exec: ExecRequest = (request.args ?? []).length > 0
      ? { argv: [request.command, ...(request.args ?? [])], cwd, env }
      : { shell: request.command, cwd, env }
    const terminalId = `term-${++nextTerminal}`
    const t: Terminal = {
      output: "",
      truncated: false,
      limit: request.outputByteLimit ?? null,
      exit: yield* Deferred.make<ExitStatus>(),
      fiber: null
    }
    const decoder = new TextDecoder()
    const run = provider.execStream(instance, exec).pipe(
      Stream.runForEach((chunk) =>
        chunk._tag === "Exit"
          ? Deferred.succeed(t.exit, { exitCode: chunk.exit_code, signal: null })
          : Effect.sync(() => append(t, decoder.decode(chunk.data, { stream: true })))
      ),
      Effect.catchAll((e) =>
        Effect.zipRight(
          Effect.sync(() => append(t, `\n${e.message}\n`)),
          Deferred.succeed(t.exit, { exitCode: null, signal: null })
        )
      ),
      Effect.onInterrupt(() => Deferred.succeed(t.exit, { exitCode: null, signal: "SIGKILL" })),
      // A stream that ended without an Exit (it should not) still ends the terminal.
      Effect.ensuring(Deferred.succeed(t.exit, { exitCode: null, signal: null })),
      Effect.asVoid
    )
    terminals.set(terminalId, t)
    t.fiber = yield* Effect.forkIn(run, scope)
    return { terminalId }
  })

  const terminalOutput = Effect.fn("ToolHost.terminalOutput")(function*(terminalId: string) {
    const t = yield* terminal("terminal/output", terminalId)
    const status = yield* Deferred.poll(t.exit)
    const exitStatus = Option.isSome(status) ? yield* status.value : null
    return { output: t.output, truncated: t.truncated, ...(exitStatus ? { exitStatus } : {}) }
  })

  const waitForExit = Effect.fn("ToolHost.waitForExit")(function*(terminalId: string) {
    const t = yield* terminal("terminal/wait_for_exit", terminalId)
    return yield* Deferred.await(t.exit)
  })

  const killTerminal = Effect.fn("ToolHost.killTerminal")(function*(terminalId: string) {
    const t = yield* terminal("terminal/kill", terminalId)
    if (t.fiber) yield* Fiber.interrupt(t.fiber)
  })

  const releaseTerminal = Effect.fn("ToolHost.releaseTerminal")(function*(terminalId: string) {
    const t = yield* terminal("terminal/release", terminalId)
    terminals.delete(terminalId)
    if (t.fiber) yield* Fiber.interrupt(t.fiber)
  })

  const host: ToolHost = {
    root,
    readTextFile,
    writeTextFile,
    createTerminal,
    terminalOutput,
    waitForExit,
    killTerminal,
    releaseTerminal
  }
  return host
}) satisfies (options: MakeOptions) => Effect.Effect<ToolHost, never, Scope.Scope>
