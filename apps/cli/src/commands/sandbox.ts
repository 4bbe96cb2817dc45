/**
 * `sandbox-cli sandbox list [--backend B] | info ID | exec ID -- CMD`: sandboxes as the store knows them.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { UsageError } from "@org/sandbox-core/SandboxError"
import { SandboxRecord, type Session } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import { DateTime, Effect, Option, Schema } from "effect"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import { ExitWith } from "../Failure.js"
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
  { ...common, backend: Options.text("backend").pipe(Options.optional, Options.withDescription("Only this backend")) },
  ({ backend, output }) =>
    Effect.gen(function*() {
      const all = (yield* sandboxes).filter((s) =>
        Option.match(backend, { onNone: () => true, onSome: (b) => s.sandbox.backend === b })
      )
      const rows = all.map(view)
      yield* Render.by(output, Schema.Array(SandboxView), rows, (rs) =>
        rs.length === 0
          ? Render.line("no sandboxes")
          : Render.table(
            ["sandbox", "backend", "profile", "state", "workspace", "session"],
            rs.map((
              r
            ) => [r.sandbox_id, r.backend, r.profile, r.state, r.workspace, `${r.session_id} (${r.session_state})`])
          ))
    })
).pipe(Command.withDescription("List sandboxes and their last session"))

const Info = Schema.Struct({
  ...SandboxView.fields,
  live_state: Schema.NullOr(Schema.String),
  workdir: Schema.NullOr(Schema.String)
})

const info = Command.make("info", { ...common, id: idArg }, ({ config, id, output }) =>
  Effect.gen(function*() {
    const session = yield* byId(id)
    const loaded = yield* AppConfig.load(config)
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
  ({ cmd, config, id }) =>
    Effect.gen(function*() {
      if (cmd.length === 0) {
        return yield* new UsageError({ detail: "nothing to run: sandbox-cli sandbox exec ID -- CMD" })
      }
      const session = yield* byId(id)
      const code = yield* Sessions.execInSandbox(config, session, cmd)
      if (code !== 0) return yield* new ExitWith({ code })
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run a command in a sandbox"))

export const command = Command.make("sandbox").pipe(
  Command.withDescription("Inspect sandboxes and run commands in them"),
  Command.withSubcommands([list, info, exec]),
  Command.provide(Sessions.runtimeLayer)
)
