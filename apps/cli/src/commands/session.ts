/**
 * `sandbox-cli session new | list | status | events | history | sync | exec | stop | conflicts`
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Agent from "@org/sandbox-core/Agent"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import { SandboxEvent } from "@org/sandbox-core/Event"
import { HistoryEntry } from "@org/sandbox-core/History"
import { makeSessionId } from "@org/sandbox-core/Ids"
import { UsageError } from "@org/sandbox-core/SandboxError"
import { isFinal, Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import * as Supervision from "@org/sandbox-core/Supervision"
import * as WorkspaceSync from "@org/sandbox-core/WorkspaceSync"
import { DateTime, Duration, Effect, Option, Schedule, Schema } from "effect"
import { createInterface } from "node:readline"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import * as ConfigHooks from "../ConfigHooks.js"
import * as Control from "../Control.js"
import { CommandFailed, ExitWith } from "../Failure.js"
import * as Progress from "../Progress.js"
import * as Render from "../Render.js"
import * as Sessions from "../Sessions.js"
import * as SessionSync from "../SessionSync.js"
import * as Stopping from "../Stopping.js"
import * as Conflicts from "./conflicts.js"

const idArg = Args.text({ name: "ID" }).pipe(Args.withDescription("Session id"))
const cmdArgs = Args.text({ name: "CMD" }).pipe(Args.repeated, Args.withDescription("Command and arguments, after --"))

/** `session status -o json`: the session plus its supervisor, and live sync's health while it runs. */
export const Status = Schema.Struct({
  ...Session.fields,
  last_error: Schema.NullOr(Schema.String),
  supervisor: Schema.Struct({ pid: Schema.NullOr(Schema.Number), alive: Schema.Boolean }),
  live: Schema.NullOr(WorkspaceSync.LiveStatus)
})

// what the supervisor last wrote about live sync (nothing when the session does not sync live, or has ended)
const liveOf = (id: string, alive: boolean) =>
  Effect.gen(function*() {
    if (!alive) return null
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Sessions.supervisorPaths(id)
    const text = yield* fs.readFileString(paths.live).pipe(Effect.option)
    const live = Option.getOrNull(
      Option.flatMap(text, Schema.decodeUnknownOption(Schema.parseJson(WorkspaceSync.LiveStatus)))
    )
    // The supervisor writes the status when something happens, not while changes merely wait (paused, or backing
    // off after an error): the oldest pending change has aged since, and its lag is reckoned from now.
    if (live === null || live.pending === 0) return live
    const written = Date.parse(live.updated_at)
    return Number.isFinite(written) ? { ...live, lag_ms: live.lag_ms + Math.max(0, Date.now() - written) } : live
  })

const statusOf = (session: Session) =>
  Effect.gen(function*() {
    const lock = yield* Sessions.liveSupervisor(session.id)
    return {
      ...session,
      last_error: session.sandbox.last_error ?? session.reason,
      supervisor: { pid: Option.match(lock, { onNone: () => null, onSome: (l) => l.pid }), alive: Option.isSome(lock) },
      live: yield* liveOf(session.id, Option.isSome(lock))
    }
  })

const iso = (d: DateTime.Utc) => DateTime.formatIso(d)

const renderStatus = (s: typeof Status.Type) =>
  Render.fields([
    ["id", s.id],
    ["workspace", s.workspace],
    ["agent", s.agent ?? `(command) ${s.command.join(" ")}`],
    ["state", s.state],
    ["exit_code", s.exit_code === null ? undefined : String(s.exit_code)],
    ["supervisor", s.supervisor.alive ? `pid ${s.supervisor.pid}` : "none"],
    ["sandbox", `${s.sandbox.sandbox_id} (${s.sandbox.backend}, profile ${s.sandbox.profile}, ${s.sandbox.state})`],
    ["instance", s.sandbox.instance_id ?? undefined],
    ["last sync in", s.sandbox.sync.last_to_runtime_at ? iso(s.sandbox.sync.last_to_runtime_at) : undefined],
    ["last sync back", s.sandbox.sync.last_from_runtime_at ? iso(s.sandbox.sync.last_from_runtime_at) : undefined],
    ["conflicts", s.sandbox.sync.conflicts.join(", ")],
    ["live sync", s.live !== null ? SessionSync.renderLive(s.live) : undefined],
    ["last_error", s.last_error ?? undefined],
    ["created", iso(s.created_at)],
    ["ended", s.ended_at ? iso(s.ended_at) : undefined]
  ])

const waitUntil = <A, E, R>(check: Effect.Effect<Option.Option<A>, E, R>, timeout: Duration.DurationInput) =>
  check.pipe(
    Effect.flatMap((o) => (Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail("pending" as const))),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), until: (e) => e !== "pending" }),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const })
  )

const renderHistory = (e: HistoryEntry) => {
  const text = e.text.endsWith("\n") ? e.text.slice(0, -1) : e.text
  return text.split("\n").map((line) => `${iso(e.at)} ${e.kind.padEnd(6)} ${line}`).join("\n")
}

const AskQuestion = Schema.Struct({
  title: Schema.String,
  options: Schema.Array(Schema.Struct({ option_id: Schema.String, name: Schema.String, kind: Schema.String }))
})

/** One line typed at the terminal (empty at end of input). */
const readLine = (question: string) =>
  Effect.async<string>((resume) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false })
    let answered = false
    rl.question(question, (line) => {
      answered = true
      rl.close()
      resume(Effect.succeed(line))
    })
    rl.once("close", () => {
      if (!answered) resume(Effect.succeed(""))
    })
    return Effect.sync(() => rl.close())
  })

/** Answer the permission questions the supervisor relays to this terminal (`permissions = "ask"`). */
const answerQuestions = (id: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { control } = yield* Sessions.supervisorPaths(id)
    const names = yield* fs.readDirectory(control).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    for (const name of names.filter((n) => n.endsWith(".ask.json"))) {
      const asked = yield* fs.readFileString(path.join(control, name)).pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.parseJson(AskQuestion))),
        Effect.option
      )
      if (Option.isNone(asked)) continue
      const { options, title } = asked.value
      const menu = options.map((o, i) => `  ${i + 1}) ${o.name}`).join("\n")
      const line = yield* readLine(
        `permission: ${title}\n${menu}\nchoose 1-${options.length} (anything else cancels): `
      )
      const chosen = options[Number(line.trim()) - 1]
      const answer = path.join(control, name.replace(/\.ask\.json$/, ".answer.json"))
      yield* fs.writeFileString(`${answer}.tmp`, JSON.stringify({ option_id: chosen?.option_id ?? null }))
      yield* fs.rename(`${answer}.tmp`, answer)
    }
  }).pipe(Effect.ignore)

/**
 * A follower's check on the session it follows: the session as it now is, or a failure once its supervisor is
 * gone while the session is not final (killed: nothing will ever end it, only `reconcile` can).
 */
const stillOwned = (id: string) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const session = yield* store.getSession(id)
    if (isFinal(session.state)) return session
    const supervision = yield* Effect.provide(Supervision.Supervision, Sessions.supervisionLayer)
    const liveness = yield* supervision.check(id)
    if (liveness._tag === "Alive") return session
    // It may have ended between the two reads: its final record is written before its lock goes.
    const again = yield* store.getSession(id)
    if (isFinal(again.state)) return again
    return yield* new CommandFailed({
      message: `the supervisor of session ${id} is gone (${liveness.reason}) and the session is left ` +
        `${again.state}; finish it with: sandbox-cli reconcile`
    })
  })

/** Said when a person leaves an attached session that goes on without them. */
const keepsRunning = (id: string) => `session ${id} keeps running; stop it with: sandbox-cli session stop ${id}`

/**
 * Follow a session's history live, writing raw output to our stdout/stderr, until it ends; for an ACP agent,
 * until its first turn ends (the session then waits for `session prompt`).
 */
const attach = (id: string, answering: boolean, untilTurnEnd: boolean) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    let seen = 0
    while (true) {
      if (answering) yield* answerQuestions(id)
      const { items } = yield* store.readHistory(id)
      let turnEnded = false
      for (const e of items.slice(seen)) {
        if (e.kind === "stdout") process.stdout.write(e.text)
        else if (e.kind === "stderr") process.stderr.write(e.text)
        else process.stdout.write(`${renderHistory(e)}\n`)
        if (e.kind === "turn_end") turnEnded = true
      }
      seen = items.length
      const session = yield* stillOwned(id)
      if (untilTurnEnd && turnEnded && !isFinal(session.state)) return Option.none<Session>()
      if (isFinal(session.state) && seen === items.length) {
        const again = yield* store.readHistory(id)
        if (again.items.length === seen) return Option.some(session)
      }
      yield* Effect.sleep("100 millis")
    }
  }).pipe(
    // Ctrl-C leaves the session running (its supervisor is in a process group of its own): say so.
    Effect.onInterrupt(() => Effect.sync(() => process.stderr.write(`${keepsRunning(id)}\n`)))
  )

/** The prompt on standard input, when it is not a terminal and holds something. */
const readStdinPrompt = Effect.promise(async (): Promise<string | undefined> => {
  if (process.stdin.isTTY) return undefined
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString("utf8").trim()
  return text.length > 0 ? text : undefined
})

const TurnResult = Schema.Struct({ turn: Schema.Number, stop_reason: Schema.String })

const prompt = Command.make(
  "prompt",
  {
    ...common,
    id: idArg,
    text: Args.text({ name: "TEXT" }).pipe(
      Args.optional,
      Args.withDescription("The prompt (default: standard input)")
    )
  },
  ({ id, output, text }) =>
    Effect.gen(function*() {
      const given = Option.isSome(text) ? text.value : yield* readStdinPrompt
      if (given === undefined) {
        return yield* new UsageError({ detail: "nothing to send: sandbox-cli session prompt ID TEXT" })
      }
      const reply = yield* Control.ask(id, { action: "prompt", text: given }, "24 hours")
      if (!reply.ok) return yield* new CommandFailed({ message: `prompt failed: ${reply.error ?? "unknown error"}` })
      const result = Schema.decodeUnknownSync(TurnResult)(reply.result)
      yield* Render.by(output, TurnResult, result, (r) => Render.line(`turn ${r.turn} ended: ${r.stop_reason}`))
    })
).pipe(Command.withDescription("Send a further prompt to a live ACP agent session and wait for the turn to end"))

const newSession = Command.make(
  "new",
  {
    ...common,
    workspace: Options.text("workspace").pipe(Options.withDescription("Registered workspace name")),
    agent: Options.text("agent").pipe(
      Options.optional,
      Options.withDescription("Agent from [agents] (default: [defaults] agent)")
    ),
    sandbox: Options.text("sandbox").pipe(
      Options.optional,
      Options.withDescription("Profile (default: the workspace's, then [defaults] sandbox, then local)")
    ),
    prompt: Options.text("prompt").pipe(
      Options.optional,
      Options.withDescription("ACP agents: the first prompt (default: standard input when it is not a terminal)")
    ),
    attach: Options.boolean("attach").pipe(
      Options.withDescription(
        "Stay attached: stream the output until the session ends (an ACP agent: until its first turn ends); " +
          "Ctrl-C detaches and the session keeps running"
      )
    ),
    trustHooks: ConfigHooks.trustHooksOption,
    cmd: cmdArgs
  },
  ({ agent, attach: stay, cmd, config, output, prompt: promptFlag, sandbox, trustHooks, workspace: name }) =>
    Effect.gen(function*() {
      const workspace = yield* Sessions.workspaceByName(name)
      const loaded = yield* AppConfig.load(config, workspace.path)
      const profile = yield* ConfigFile.selectProfile(loaded.config, {
        flag: Option.getOrUndefined(sandbox),
        workspace: workspace.sandbox
      })
      const chosen = yield* Sessions.agentFor(loaded.config, Option.getOrUndefined(agent))
      const command = cmd.length > 0
        ? cmd
        : Option.match(chosen, { onNone: () => [] as Array<string>, onSome: (a) => [...a.command] })
      if (command.length === 0) {
        return yield* new UsageError({
          detail: "nothing to launch: give --agent NAME (or [defaults] agent) or a command after --"
        })
      }
      const isAcp = cmd.length === 0 && Option.isSome(chosen) && chosen.value.protocol === "acp"
      if (Option.isSome(promptFlag) && !isAcp) {
        return yield* new UsageError({ detail: "--prompt is for ACP agents (protocol = \"acp\")" })
      }
      const prompt = isAcp
        ? Option.isSome(promptFlag) ? promptFlag.value : yield* readStdinPrompt
        : undefined
      const id = makeSessionId()
      // Attached from a terminal: permission questions of an ACP agent (`permissions = "ask"`) come here.
      const askViaTerminal = stay && process.stdin.isTTY === true
      if (isAcp && profile.permissions === "ask" && !askViaTerminal) {
        return yield* new UsageError({
          detail: `profile ${profile.name} has permissions = "ask", which needs a terminal: start the session with ${
            stay ? "--attach from a terminal" : "--attach"
          }, or use "allow-in-sandbox" or "deny"`
        })
      }
      if (isAcp && Option.isSome(chosen) && Agent.locationOf(profile) === "host") {
        yield* Render.warn(Agent.hostWarning(chosen.value.name))
      }
      const Supervisor = yield* Effect.promise(() => import("../Supervisor.js"))
      const supervisor = yield* Supervisor.spawnSupervisor({
        session_id: id,
        workspace: workspace.name,
        ...(Option.isSome(sandbox) ? { profile: sandbox.value } : {}),
        ...(Option.isSome(chosen) && cmd.length === 0 ? { agent: chosen.value.name } : {}),
        command,
        ...(prompt !== undefined ? { prompt } : {}),
        ...(Option.isSome(config) ? { config: config.value } : {}),
        cwd: process.cwd(),
        ...(askViaTerminal ? { ask_via_terminal: true } : {}),
        ...(trustHooks ? { trust_hooks: true } : {})
      })
      const store = yield* Store.Store
      const fs = yield* FileSystem.FileSystem
      // The supervisor writes the session record before touching any provider; wait for it (or its death).
      yield* waitUntil(
        store.getSession(id).pipe(
          Effect.map(Option.some),
          Effect.catchAll(() =>
            Sessions.isAlive(supervisor.pid)
              ? Effect.succeed(Option.none())
              : Effect.flatMap(fs.readFileString(supervisor.log).pipe(Effect.orElseSucceed(() => "")), (log) =>
                Effect.fail(
                  new CommandFailed({
                    message: `the supervisor exited before the session started: ${
                      log.trim().split("\n").pop() ?? "no output"
                    } (log: ${supervisor.log})`
                  })
                ))
          )
        ),
        "30 seconds"
      ).pipe(Effect.catchIf((e) => e === "timeout", () =>
        Effect.fail(
          new CommandFailed({ message: `the supervisor did not start the session in 30 s (log: ${supervisor.log})` })
        )))
      yield* Render.by(output, Schema.Struct({ id: Schema.String }), { id }, () => Render.line(id))
      if (stay) {
        // the seed and the end (sync-back, destroy or archive) are the supervisor's: their progress is shown here
        // (a checkpoint's is not, as it would cut into the agent's output)
        const ended = yield* Progress.following(
          (yield* Sessions.supervisorPaths(id)).progress,
          attach(id, askViaTerminal, isAcp),
          ["seed", "sync_back", "destroy", "archive"]
        )
        if (Option.isNone(ended)) {
          // An ACP agent's session outlives its first turn: it waits for further prompts.
          process.stderr.write(
            `session ${id} waits for further prompts (sandbox-cli session prompt ${id} TEXT); ` +
              `stop it with: sandbox-cli session stop ${id}\n`
          )
          return
        }
        const final = ended.value
        if (final.state === "failed" && final.reason) process.stderr.write(`error: ${final.reason}\n`)
        const code = final.exit_code ?? (final.state === "stopped" ? 0 : 1)
        if (code !== 0) return yield* new ExitWith({ code })
      }
    })
).pipe(Command.withDescription("Start a durable session run by a detached supervisor; prints its id"))

const list = Command.make("list", common, ({ output }) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const listing = yield* store.listSessions
    for (const q of listing.quarantined) {
      yield* Render.warn(`corrupt record ${q.path} moved to ${q.moved_to}: ${q.reason}`)
    }
    const items = [...listing.items].sort((a, b) =>
      DateTime.toEpochMillis(b.created_at) - DateTime.toEpochMillis(a.created_at)
    )
    yield* Render.by(output, Schema.Array(Session), items, (ss) =>
      ss.length === 0
        ? Render.line("no sessions")
        : Render.table(
          ["id", "workspace", "state", "backend", "exit", "created"],
          ss.map((
            s
          ) => [
            s.id,
            s.workspace,
            s.state,
            s.sandbox.backend,
            s.exit_code === null ? undefined : String(s.exit_code),
            iso(s.created_at)
          ])
        ))
  })).pipe(Command.withDescription("List sessions, newest first"))

const status = Command.make("status", { ...common, id: idArg }, ({ id, output }) =>
  Effect.gen(function*() {
    const session = yield* Sessions.sessionById(id)
    yield* Render.by(output, Status, yield* statusOf(session), renderStatus)
  })).pipe(Command.withDescription("Show a session: state, sandbox, sync, supervisor, last error"))

const events = Command.make(
  "events",
  {
    ...common,
    id: idArg,
    last: Options.integer("last").pipe(Options.optional, Options.withDescription("Only the last N events (N ≥ 1)")),
    follow: Options.boolean("follow").pipe(
      Options.withAlias("f"),
      Options.withDescription("Keep printing new events until the session ends")
    )
  },
  ({ follow, id, last, output }) =>
    Effect.gen(function*() {
      if (Option.isSome(last) && last.value < 1) {
        return yield* new UsageError({ detail: `--last takes a count of 1 or more, got ${last.value}` })
      }
      const store = yield* Store.Store
      yield* Sessions.sessionById(id)
      const show = (e: SandboxEvent) =>
        output === "json"
          ? Render.line(JSON.stringify(Schema.encodeSync(SandboxEvent)(e)))
          : Render.line(
            `${String(e.seq).padStart(4)} ${iso(e.at)} ${e.type} ${
              Object.keys(e.attrs).length ? JSON.stringify(e.attrs) : ""
            }`.trimEnd()
          )
      const { items, quarantined } = yield* store.readEvents(id)
      // Lines that do not decode are said, never dropped silently.
      for (const q of quarantined) yield* Render.warn(`unreadable event line ${q.path}: ${q.reason}`)
      const initial = Option.match(last, { onNone: () => items, onSome: (n) => items.slice(-n) })
      if (output === "json" && !follow) {
        yield* Render.json(Schema.Array(SandboxEvent), initial)
        return
      }
      yield* Effect.forEach(initial, show, { discard: true })
      if (!follow) return
      let seq = items.at(-1)?.seq ?? 0
      while (true) {
        const next = yield* store.readEvents(id, { afterSeq: seq })
        yield* Effect.forEach(next.items, show, { discard: true })
        seq = next.items.at(-1)?.seq ?? seq
        const session = yield* stillOwned(id)
        if (isFinal(session.state) && next.items.length === 0) return
        yield* Effect.sleep("200 millis")
      }
    })
).pipe(Command.withDescription("Print a session's lifecycle events (JSON lines with --follow -o json)"))

const history = Command.make("history", { ...common, id: idArg }, ({ id, output }) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    yield* Sessions.sessionById(id)
    const { items } = yield* store.readHistory(id)
    yield* Render.by(output, Schema.Array(HistoryEntry), items, (es) =>
      es.length === 0 ? Render.line("no history yet") : Render.line(es.map(renderHistory).join("\n")))
  })).pipe(Command.withDescription("Show what the session's agent printed, with timestamps (stdout and stderr apart)"))

const pauseOption = Options.boolean("pause").pipe(
  Options.withDescription("Pause live sync (sync_mode = \"live\"): changes wait until --resume")
)
const resumeOption = Options.boolean("resume").pipe(
  Options.withDescription("Resume live sync: a full three-way sync catches up, then watching goes on")
)

const syncForceOption = Options.boolean("force").pipe(
  Options.withDescription(
    "Let the sync through even if it would delete most of the host tree (the mass-deletion halt, which also " +
      "pauses live sync); with --resume, live sync goes on after it"
  )
)

const sync = Command.make("sync", {
  ...common,
  id: idArg,
  pause: pauseOption,
  resume: resumeOption,
  force: syncForceOption,
  acceptHeld: ConfigHooks.acceptHeldOption
}, (options) => SessionSync.sync(options)).pipe(
  Command.withDescription(
    "Sync now, both ways, while the session runs (conflicts are kept; config and hook changes held unless " +
      "--accept-held); --pause/--resume control live sync"
  )
)

const exec = Command.make(
  "exec",
  { ...common, id: idArg, cmd: cmdArgs },
  ({ cmd, config, id, output }) =>
    Effect.gen(function*() {
      if (cmd.length === 0) {
        return yield* new UsageError({ detail: "nothing to run: sandbox-cli session exec ID -- CMD" })
      }
      const session = yield* Sessions.sessionById(id)
      const out = Render.execOutput(output)
      yield* out.finish(yield* Sessions.execInSandbox(config, session, cmd, out.sink))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run a command in a session's sandbox"))

const force = Options.boolean("force").pipe(
  Options.withDescription(
    "Let the sync-back pass the mass-deletion guard (the runtime's deletions reach the host); past a wiped runtime, " +
      "end with the host intact"
  )
)

const stop = Command.make(
  "stop",
  { ...common, id: idArg, force, grace: Stopping.graceOption },
  ({ config, force, grace: graceFlag, id, output }) =>
    Effect.gen(function*() {
      const grace = yield* Stopping.parseGrace(graceFlag)
      const store = yield* Store.Store
      const session = yield* Sessions.sessionById(id)
      // An ended session whose sync-back was halted keeps its sandbox: --force finishes it past the guard.
      if (isFinal(session.state) && force && session.sandbox.kept === "unsynced") {
        const Reconcile = yield* Effect.promise(() => import("./reconcile.js"))
        return yield* Reconcile.forceFinish(config, id, output)
      }
      // Idempotent: stopping a session that has ended is done already.
      if (isFinal(session.state)) {
        if (output === "text") yield* Render.line(`session ${id} has already ended (${session.state})`)
        return yield* Render.by(output, Status, yield* statusOf(session), renderStatus)
      }
      // Ask the supervisor to stop and wait for the session's end.
      const stopAndWait = (pid: number) =>
        Effect.gen(function*() {
          if (force || Option.isSome(grace)) {
            yield* Control.ask(id, {
              action: "stop",
              force,
              ...(Option.isSome(grace) ? { grace_ms: Duration.toMillis(grace.value) } : {})
            }, "1 minute")
          } else process.kill(pid, "SIGTERM")
          // A supervisor that dies before it has ended the session (killed mid-stop) leaves it to this command.
          const ended = store.getSession(id).pipe(
            Effect.map((s) => (isFinal(s.state) ? Option.some(s) : Option.none()))
          )
          return yield* waitUntil(
            Effect.flatMap(ended, (s) =>
              Option.isSome(s) || Sessions.isAlive(pid)
                ? Effect.succeed(s)
                : Effect.flatMap(ended, (again) =>
                  Option.isSome(again)
                    ? Effect.succeed(again)
                    : Effect.promise(() => import("./reconcile.js")).pipe(
                      Effect.flatMap((Reconcile) => Reconcile.finishCutOff(config, [id])),
                      Effect.zipRight(ended)
                    ))),
            "15 minutes"
          ).pipe(Effect.mapError(() => new CommandFailed({ message: `session ${id} did not stop in time` })))
        })
      const lock = yield* Sessions.liveSupervisor(id)
      if (Option.isNone(lock)) return yield* Sessions.notRunning(session)
      // the sync-back is the supervisor's: its progress is shown here, from before it is asked to stop
      const final = yield* Progress.following(
        (yield* Sessions.supervisorPaths(id)).progress,
        stopAndWait(lock.value.pid)
      )
      // The supervisor exits right after it records the final state: report once it is gone, not before.
      yield* waitUntil(
        Effect.sync(() => (Sessions.isAlive(lock.value.pid) ? Option.none() : Option.some(true))),
        "30 seconds"
      ).pipe(Effect.ignore)
      yield* Render.by(output, Status, yield* statusOf(final), renderStatus)
      yield* Stopping.reportEnd(final)
    })
).pipe(Command.withDescription("Stop a session: stop its agent, sync back, apply persistence"))

export const command = Command.make("session").pipe(
  Command.withDescription("Durable sessions: start, inspect, sync, stop"),
  Command.withSubcommands([newSession, list, status, events, history, prompt, sync, exec, stop, Conflicts.command]),
  // The store only: the sync engine runs in the supervisor, and reconcile brings its own.
  Command.provide(Sessions.storeLayer)
)
