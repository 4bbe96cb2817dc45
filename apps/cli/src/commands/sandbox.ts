/**
 * `sandbox-cli sandbox list [--backend B] | info ID | exec ID -- CMD`: sandboxes as the store knows them.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as EndOfSession from "@org/sandbox-core/EndOfSession"
import * as Retry from "@org/sandbox-core/Retry"
import { UsageError } from "@org/sandbox-core/SandboxError"
import { isFinal, SandboxRecord, type SandboxState, Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import * as WorkspaceSync from "@org/sandbox-core/WorkspaceSync"
import { DateTime, Effect, Option, Schema } from "effect"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import * as Render from "../Render.js"
import * as Sessions from "../Sessions.js"

const SandboxView = Schema.Struct({
  ...SandboxRecord.fields,
  workspace: Schema.String,
  session_id: Schema.String,
  session_state: Schema.String
})
type SandboxView = typeof SandboxView.Type

/** The newest session of every sandbox the store knows. */
const sandboxes = Effect.gen(function*() {
  const store = yield* Store.Store
  const { items } = yield* store.listSessions
  const newest = new Map<string, Session>()
  for (const s of items) {
    const seen = newest.get(s.sandbox.sandbox_id)
    if (!seen || DateTime.toEpochMillis(s.created_at) > DateTime.toEpochMillis(seen.created_at)) {
      newest.set(s.sandbox.sandbox_id, s)
    }
  }
  return [...newest.values()]
})

const view = (s: Session): SandboxView => ({
  ...s.sandbox,
  workspace: s.workspace,
  session_id: s.id,
  session_state: s.state
})

const byId = (id: string) =>
  Effect.flatMap(sandboxes, (all) => {
    const found = all.find((s) => s.sandbox.sandbox_id === id || s.sandbox.instance_id === id)
    return found
      ? Effect.succeed(found)
      : Effect.fail(new UsageError({ detail: `no sandbox "${id}" (see: sandbox-cli sandbox list)` }))
  })

const idArg = Args.text({ name: "ID" }).pipe(Args.withDescription("Sandbox id (sbx_…) or the provider's instance id"))

const list = Command.make(
  "list",
  {
    ...common,
    backend: Options.text("backend").pipe(Options.optional, Options.withDescription("Only this backend")),
    all: Options.boolean("all").pipe(
      Options.withDescription("Also the sandboxes that no longer exist (destroyed at the end of their session)")
    )
  },
  ({ all: showAll, backend, output }) =>
    Effect.gen(function*() {
      const all = (yield* sandboxes).filter((s) =>
        Option.match(backend, { onNone: () => true, onSome: (b) => s.sandbox.backend === b })
      )
      // Destroyed sandboxes are history (see `session list`): the list stays as long as what exists.
      const shown = showAll ? all : all.filter((s) => s.sandbox.state !== "gone")
      const hidden = all.length - shown.length
      const rows = shown.map(view)
      yield* Render.by(output, Schema.Array(SandboxView), rows, (rs) =>
        Effect.zipRight(
          rs.length === 0
            ? Render.line("no sandboxes")
            : Render.table(
              ["sandbox", "backend", "profile", "state", "workspace", "session"],
              rs.map((
                r
              ) => [r.sandbox_id, r.backend, r.profile, r.state, r.workspace, `${r.session_id} (${r.session_state})`])
            ),
          hidden > 0 ? Render.line(`(${hidden} destroyed sandbox(es) not shown; --all shows them)`) : Effect.void
        ))
    })
).pipe(Command.withDescription("List sandboxes that still exist and their last session (--all: every one)"))

const Info = Schema.Struct({
  ...SandboxView.fields,
  live_state: Schema.NullOr(Schema.String),
  workdir: Schema.NullOr(Schema.String)
})

const info = Command.make("info", { ...common, id: idArg }, ({ config, id, output }) =>
  Effect.gen(function*() {
    const session = yield* byId(id)
    const loaded = yield* AppConfig.loadForSession(config, session)
    const profile = yield* Sessions.profileForSession(loaded, session)
    const live = session.sandbox.instance_id === null
      ? Option.none()
      : yield* Effect.flatMap(
        Sessions.providerFor(loaded.registry, profile),
        (p) => p.get(session.sandbox.instance_id!)
      ).pipe(Effect.option)
    const data = {
      ...view(session),
      live_state: Option.match(live, { onNone: () => "gone", onSome: (i) => `${i.state} (${i.provider_state_name})` }),
      workdir: Option.match(live, { onNone: () => null, onSome: (i) => i.workdir })
    }
    yield* Render.by(output, Info, data, (d) =>
      Render.fields([
        ["sandbox", d.sandbox_id],
        ["backend", d.backend],
        ["profile", d.profile],
        ["instance", d.instance_id ?? undefined],
        ["recorded state", d.state],
        ["live state", d.live_state ?? undefined],
        ["workdir", d.workdir ?? undefined],
        ["workspace", d.workspace],
        ["last session", `${d.session_id} (${d.session_state})`],
        ["conflicts", d.sync.conflicts.join(", ")],
        ["last_error", d.last_error ?? undefined]
      ]))
  }).pipe(Effect.scoped)).pipe(Command.withDescription("Show a sandbox, live from its provider"))

const exec = Command.make(
  "exec",
  {
    ...common,
    id: idArg,
    cmd: Args.text({ name: "CMD" }).pipe(Args.repeated, Args.withDescription("Command, after --"))
  },
  ({ cmd, config, id, output }) =>
    Effect.gen(function*() {
      if (cmd.length === 0) {
        return yield* new UsageError({ detail: "nothing to run: sandbox-cli sandbox exec ID -- CMD" })
      }
      const session = yield* byId(id)
      const out = Render.execOutput(output)
      yield* out.finish(yield* Sessions.execInSandbox(config, session, cmd, out.sink))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run a command in a sandbox"))

/** The provider of a sandbox, built from the config and profile its session ran with. */
const providerOf = (config: Option.Option<string>, session: Session) =>
  Effect.gen(function*() {
    const loaded = yield* AppConfig.loadForSession(config, session)
    const profile = yield* Sessions.profileForSession(loaded, session)
    return { profile, provider: yield* Sessions.providerFor(loaded.registry, profile) }
  })

/** Record what the provider now says of a sandbox on its session's record. */
const recordState = (session: Session, state: SandboxState) =>
  Effect.flatMap(
    Store.Store,
    (store) =>
      store.updateSession(
        session.id,
        (s) => {
          // Gone: nothing is kept any more, for whatever reason it was.
          const { kept: _kept, ...sandbox } = s.sandbox
          return Session.make({
            ...s,
            sandbox: SandboxRecord.make(state === "gone" ? { ...sandbox, state } : { ...s.sandbox, state })
          })
        }
      )
  )

const SandboxChange = Schema.Struct({ sandbox_id: Schema.String, state: Schema.String, discarded: Schema.Boolean })

const start = Command.make("start", { ...common, id: idArg }, ({ config, id, output }) =>
  Effect.gen(function*() {
    const session = yield* byId(id)
    const { provider } = yield* providerOf(config, session)
    const instance = yield* Sessions.instanceOf(provider, session)
    const started = instance.state === "running" ? instance : yield* provider.start(instance).pipe(Retry.retry())
    yield* recordState(session, started.state)
    const change = { sandbox_id: session.sandbox.sandbox_id, state: started.state, discarded: false }
    yield* Render.by(output, SandboxChange, change, (c) =>
      Render.line(
        instance.state === "running"
          ? `sandbox ${c.sandbox_id} is already running`
          : `started sandbox ${c.sandbox_id} (was ${instance.state}, now ${c.state})`
      ))
  }).pipe(Effect.scoped)).pipe(Command.withDescription("Start a stopped or archived sandbox so it can be used again"))

const rm = Command.make(
  "rm",
  {
    ...common,
    id: idArg,
    discard: Options.boolean("discard").pipe(
      Options.withDescription("Remove it even if it may hold work that never came home (that work is lost)")
    )
  },
  ({ config, discard, id, output }) =>
    Effect.gen(function*() {
      const session = yield* byId(id)
      const sandboxId = session.sandbox.sandbox_id
      if (!isFinal(session.state) && Option.isSome(yield* Sessions.liveSupervisor(session.id))) {
        return yield* new UsageError({
          detail: `sandbox ${sandboxId} belongs to running session ${session.id}; stop it first: ` +
            `sandbox-cli session stop ${session.id}`
        })
      }
      const { profile, provider } = yield* providerOf(config, session)
      const found = session.sandbox.instance_id === null
        ? Option.none()
        : yield* provider.get(session.sandbox.instance_id).pipe(
          Effect.map(Option.some),
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none()))
        )
      const inPlace = yield* Sessions.ranInPlace(session, profile, provider, found)
      const pending = Sessions.workNotHome(session, profile, inPlace)
      if (pending !== undefined && !discard) {
        return yield* new UsageError({
          detail: `sandbox ${sandboxId} may hold work that is not home (${pending}); bring it home with ` +
            `sandbox-cli reconcile, or remove it anyway with --discard`
        })
      }
      if (Option.isSome(found)) yield* provider.destroy(found.value).pipe(Retry.retry())
      yield* recordState(session, "gone")
      // Its sync state (ancestor, digests) is of no use once the sandbox is gone.
      const { syncState } = yield* Sessions.supervisorPaths(session.id)
      yield* EndOfSession.forget(yield* WorkspaceSync.WorkspaceSync, syncState(sandboxId))
      const change = { sandbox_id: sandboxId, state: "gone", discarded: pending !== undefined }
      yield* Render.by(output, SandboxChange, change, (c) =>
        Render.line(`removed sandbox ${c.sandbox_id}${c.discarded ? " (its unsynced work was discarded)" : ""}`))
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Destroy a sandbox; refused while it may hold work not yet home unless --discard")
)

export const command = Command.make("sandbox").pipe(
  Command.withDescription("Inspect sandboxes, run commands in them, start and remove them"),
  Command.withSubcommands([list, info, exec, start, rm]),
  Command.provide(Sessions.runtimeLayer)
)
