/**
 * The supervisor: a detached process (`sandbox-cli __supervise …`, hidden) that owns one durable session until
 * it stops. It holds a lock file with its pid and a heartbeat; SIGTERM/SIGINT/SIGHUP ask it to stop, SIGUSR1
 * tells it to look for sync requests in its control directory and answer each in a result file.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import { SessionId } from "@org/sandbox-core/Ids"
import { Label } from "@org/sandbox-core/SandboxProvider"
import * as SessionLifecycle from "@org/sandbox-core/SessionLifecycle"
import type * as WorkspaceSync from "@org/sandbox-core/WorkspaceSync"
import { Cause, Deferred, Duration, Effect, Either, Exit, Option, Queue, Runtime, Schedule, Schema } from "effect"
import { spawn } from "node:child_process"
import { openSync } from "node:fs"
import * as AcpDriver from "./AcpDriver.js"
import * as AppConfig from "./AppConfig.js"
import * as ConfigHooks from "./ConfigHooks.js"
import { ControlReply, ControlRequestBody } from "./Control.js"
import * as Progress from "./Progress.js"
import * as Sessions from "./Sessions.js"
import * as SmallFileSystem from "./SmallFileSystem.js"

export const SupervisorSpec = Schema.Struct({
  session_id: Schema.String,
  workspace: Schema.String,
  profile: Schema.optional(Schema.String),
  agent: Schema.optional(Schema.String),
  command: Schema.Array(Schema.String),
  /** The first prompt for an ACP agent. */
  prompt: Schema.optional(Schema.String),
  config: Schema.optional(Schema.String),
  cwd: Schema.String,
  /** `session new --attach` from a terminal: permission questions (`permissions = "ask"`) go to that terminal. */
  ask_via_terminal: Schema.optional(Schema.Boolean),
  /** `session new --trust-hooks`: config hooks that changed since the user last ran them run, and are trusted. */
  trust_hooks: Schema.optional(Schema.Boolean)
})
export type SupervisorSpec = typeof SupervisorSpec.Type

const SpecArg = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(SupervisorSpec))

/**
 * How to start this same CLI again: Node runs the launcher, Deno runs the bundle. A supervisor syncs its
 * workspace for as long as the session lives; on Node its young generation keeps semi-spaces of 4 MiB instead of
 * V8's default (its worker threads take the flag too), which takes a third off its peak memory on a big tree.
 * The flag must be given at start: V8 sizes the main thread's heap before any code runs.
 */
const selfCommand = (): ReadonlyArray<string> => {
  const script = process.argv[1]!
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
    ? [process.execPath, "run", "-A", script]
    : [process.execPath, "--max-semi-space-size=4", script]
}

/** Start a detached supervisor for a session that does not exist yet; its output goes to a log file. */
export const spawnSupervisor = (spec: SupervisorSpec) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const paths = yield* Sessions.supervisorPaths(spec.session_id)
    yield* fs.makeDirectory(path.dirname(paths.log), { recursive: true })
    const [exe, ...args] = selfCommand()
    const pid = yield* Effect.sync(() => {
      const log = openSync(paths.log, "a")
      const child = spawn(exe!, [...args, "__supervise", Schema.encodeSync(SpecArg)(spec)], {
        detached: true,
        stdio: ["ignore", log, log],
        cwd: spec.cwd,
        env: process.env
      })
      child.unref()
      return child.pid ?? -1
    })
    return { pid, log: paths.log }
  })

/** The supervisor's own program. Resolves with the exit code of the process. */
/**
 * A permission question relayed to the attached terminal: written as `<n>.ask.json` in the control directory,
 * answered by the attached `session new --attach` with `<n>.answer.json` (an option id, or null). No answer in
 * ten minutes (the terminal went away) cancels the request.
 */
const askThrough = (fs: FileSystem.FileSystem, path: Path.Path, controlDir: string): AcpDriver.Ask => (request) =>
  Effect.gen(function*() {
    const nonce = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`
    const question = path.join(controlDir, `${nonce}.ask.json`)
    const answer = path.join(controlDir, `${nonce}.answer.json`)
    yield* fs.makeDirectory(controlDir, { recursive: true })
    yield* fs.writeFileString(`${question}.tmp`, JSON.stringify(request))
    yield* fs.rename(`${question}.tmp`, question)
    const reply = yield* fs.readFileString(answer).pipe(
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 minutes"))),
      Effect.option
    )
    yield* Effect.all([fs.remove(question), fs.remove(answer)].map(Effect.ignore))
    return reply.pipe(
      Option.flatMap(Schema.decodeUnknownOption(Schema.parseJson(AskAnswer))),
      Option.flatMap((a) => Option.fromNullable(a.option_id))
    )
  }).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/** What the attached terminal answers. */
export const AskAnswer = Schema.Struct({ option_id: Schema.NullOr(Schema.String) })

export const supervise = (encoded: string) =>
  Effect.gen(function*() {
    const spec = yield* Schema.decode(SpecArg)(encoded)
    // its own files (lock, control requests and answers, live status) are small: read and written on this thread
    const fs = SmallFileSystem.make(yield* FileSystem.FileSystem)
    const path = yield* Path.Path
    const paths = yield* Sessions.supervisorPaths(spec.session_id)
    yield* fs.makeDirectory(path.dirname(paths.lock), { recursive: true })
    yield* fs.makeDirectory(paths.control, { recursive: true })
    const startedAt = new Date().toISOString()
    const writeLock = Effect.suspend(() => {
      const temp = `${paths.lock}.${process.pid}.tmp`
      const lock = {
        pid: process.pid,
        session_id: spec.session_id,
        started_at: startedAt,
        heartbeat_at: new Date().toISOString()
      }
      return fs.writeFileString(temp, JSON.stringify(lock)).pipe(Effect.zipRight(fs.rename(temp, paths.lock)))
    })
    yield* writeLock
    yield* Effect.addFinalizer(() => fs.remove(paths.lock).pipe(Effect.ignore))
    yield* writeLock.pipe(Effect.ignore, Effect.repeat(Schedule.spaced(Sessions.HEARTBEAT_EVERY_MS)), Effect.forkScoped)

    const control = yield* Queue.unbounded<SessionLifecycle.ControlRequest>()
    let live: WorkspaceSync.LiveHandle | undefined
    // the status file is replaced whole (temp file, rename): a reader never sees half of it
    const writeLive = (status: WorkspaceSync.LiveStatus) =>
      fs.writeFileString(`${paths.live}.tmp`, JSON.stringify(status)).pipe(
        Effect.zipRight(fs.rename(`${paths.live}.tmp`, paths.live)),
        Effect.ignore
      )
    yield* Effect.addFinalizer(() => fs.remove(paths.live).pipe(Effect.ignore))
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)

    const answerSyncRequests = Effect.gen(function*() {
      const names = yield* fs.readDirectory(paths.control).pipe(Effect.orElseSucceed(() => [] as Array<string>))
      for (const name of names.filter((n) => n.endsWith(".req"))) {
        const request = path.join(paths.control, name)
        const reply = path.join(paths.control, name.replace(/\.req$/, ".json"))
        const temp = `${reply}.tmp`
        const answer = (body: typeof ControlReply.Type) =>
          fs.writeFileString(temp, JSON.stringify(body)).pipe(Effect.zipRight(fs.rename(temp, reply)), Effect.ignore)
        // A request names its action: `sync` or `prompt` with the text of a further turn. One that does not
        // decode is refused, reported and kept aside: it never runs as anything.
        const text = yield* fs.readFileString(request).pipe(Effect.either)
        const requested = Either.flatMap(
          text,
          (t) => Schema.decodeUnknownEither(Schema.parseJson(ControlRequestBody))(t)
        )
        if (Either.isLeft(requested)) {
          const why = requested.left.message.split("\n")[0] ?? "unreadable"
          yield* fs.makeDirectory(path.join(paths.control, "quarantine"), { recursive: true }).pipe(Effect.ignore)
          yield* fs.rename(request, path.join(paths.control, "quarantine", name)).pipe(
            Effect.orElse(() => fs.remove(request)),
            Effect.ignore
          )
          yield* Effect.sync(() => process.stderr.write(`control request ${name} refused: ${why}\n`))
          yield* answer({ ok: false, error: `control request refused: it does not decode (${why})` })
          continue
        }
        yield* fs.remove(request).pipe(Effect.ignore)
        if (requested.right.action === "live") {
          const handle = live
          if (handle === undefined) {
            yield* answer({ ok: false, error: "live sync is not running in this session (its sync_mode is not live)" })
            continue
          }
          yield* requested.right.live === "pause" ? handle.pause : handle.resume
          yield* answer({ ok: true, result: yield* handle.status })
          continue
        }
        if (requested.right.action === "stop") {
          const { force, grace_ms } = requested.right
          yield* Queue.offer(control, {
            _tag: "Stop",
            force,
            ...(grace_ms !== undefined ? { grace: Duration.millis(grace_ms) } : {})
          })
          yield* answer({ ok: true, result: "stopping" })
          continue
        }
        const deferred = yield* Deferred.make<unknown, SessionLifecycle.LifecycleError>()
        yield* Queue.offer(
          control,
          requested.right.action === "prompt"
            ? { _tag: "Prompt", text: requested.right.text, reply: deferred as never }
            : {
              _tag: "Sync",
              reply: deferred as never,
              ...(requested.right.action === "sync" && requested.right.accept_held === true
                ? { accept_held: true }
                : {}),
              ...(requested.right.action === "sync" && requested.right.force === true ? { force: true } : {})
            }
        )
        const exit = yield* Effect.exit(Deferred.await(deferred))
        const body = Exit.match(exit, {
          onSuccess: (result) => ({ ok: true, result }),
          onFailure: (cause) => ({
            ok: false,
            error: Option.match(Cause.failureOption(cause), { onNone: () => "interrupted", onSome: (e) => e.message })
          })
        })
        yield* answer(body)
      }
    })

    const onStop = () => void runFork(Queue.offer(control, { _tag: "Stop" }))
    const onSync = () => void runFork(answerSyncRequests)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGTERM", onStop)
        process.on("SIGINT", onStop)
        process.on("SIGHUP", onStop)
        process.on("SIGUSR1", onSync)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGTERM", onStop)
          process.off("SIGINT", onStop)
          process.off("SIGHUP", onStop)
          process.off("SIGUSR1", onSync)
        })
    )

    const workspace = yield* Sessions.workspaceByName(spec.workspace)
    const loaded = yield* AppConfig.load(Option.fromNullable(spec.config), workspace.path)
    const profile = yield* ConfigFile.selectProfile(loaded.config, { flag: spec.profile, workspace: workspace.sandbox })
    const agent = yield* Sessions.agentFor(loaded.config, spec.agent)
    const provider = yield* Sessions.providerFor(loaded.registry, profile)
    const outcome = yield* SessionLifecycle.run({
      sessionId: SessionId.make(spec.session_id),
      workspace,
      profile,
      provider,
      agent: Option.getOrNull(agent),
      command: spec.command,
      owner: Sessions.owner(),
      labels: { [Label.stateDir]: yield* Sessions.stateDirLabel },
      hooks: yield* ConfigHooks.fromConfig(loaded.config.hooks, workspace.path, spec.trust_hooks === true),
      protectedPaths: ConfigHooks.protectedPaths(loaded.config.hooks, workspace.path),
      syncStateDir: paths.syncState,
      control,
      driver: yield* AcpDriver.make(spec.ask_via_terminal === true ? askThrough(fs, path, paths.control) : undefined),
      onLive: (handle) => Effect.sync(() => void (live = handle)),
      onLiveStatus: writeLive,
      ...(spec.prompt !== undefined ? { prompt: spec.prompt } : {})
    }).pipe(Effect.provide(Progress.toFile(paths.progress)))
    return outcome.exit_code
  }).pipe(Effect.scoped, Effect.provide(Sessions.runtimeLayer))
