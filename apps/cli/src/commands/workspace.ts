/**
 * `sandbox-cli workspace add | edit | info | list | remove`
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import { ProfileName, WorkspaceName } from "@org/sandbox-core/Ids"
import { Profile } from "@org/sandbox-core/Profile"
import { StoreError, UsageError } from "@org/sandbox-core/SandboxError"
import * as Store from "@org/sandbox-core/Store"
import { Workspace } from "@org/sandbox-core/Workspace"
import { DateTime, Effect, Option, Schema } from "effect"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import * as Render from "../Render.js"
import * as SmallFileSystem from "../SmallFileSystem.js"

const nameArg = Args.text({ name: "NAME" }).pipe(Args.withDescription("Workspace name"))
const sandboxOption = Options.text("sandbox").pipe(Options.withDescription("Profile for this workspace's sessions"))

const decodeName = (raw: string) =>
  Schema.decodeUnknown(WorkspaceName)(raw).pipe(
    Effect.mapError(() =>
      new UsageError({
        detail: `invalid workspace name ${JSON.stringify(raw)}: use 1-63 letters, digits, '.', '_' or '-'`
      })
    )
  )

const notFoundAsUsage = (name: string) => (e: StoreError) =>
  e.reason === "NotFound"
    ? new UsageError({ detail: `no workspace named "${name}" (see: sandbox-cli workspace list)` })
    : e

const reportQuarantine = (listing: Store.Listing<unknown>) =>
  Effect.forEach(
    listing.quarantined,
    (q) => Render.warn(`corrupt record ${q.path} moved to ${q.moved_to}: ${q.reason}`),
    { discard: true }
  )

const Info = Schema.Struct({ workspace: Workspace, profile: Profile })

const add = Command.make(
  "add",
  {
    ...common,
    path: Args.directory({ name: "PATH", exists: "yes" }).pipe(Args.withDescription("Directory on the host")),
    name: Options.text("name").pipe(Options.withDescription("Name to register it under")),
    sandbox: Options.optional(sandboxOption)
  },
  ({ config, name, output, path: dir, sandbox }) =>
    Effect.gen(function*() {
      const store = yield* Store.Store
      const path = yield* Path.Path
      const fs = yield* FileSystem.FileSystem
      const workspaceName = yield* decodeName(name)
      const absolute = yield* fs.realPath(path.resolve(dir)).pipe(
        Effect.mapError(() => new UsageError({ detail: `${dir}: not a readable directory` }))
      )
      if (Option.isSome(sandbox)) {
        const loaded = yield* AppConfig.load(config, absolute)
        yield* ConfigFile.selectProfile(loaded.config, { flag: sandbox.value })
      }
      const now = yield* DateTime.now
      const workspace = Workspace.make({
        name: workspaceName,
        path: absolute,
        ...(Option.isSome(sandbox) ? { sandbox: ProfileName.make(sandbox.value) } : {}),
        created_at: now,
        updated_at: now
      })
      yield* store.addWorkspace(workspace).pipe(
        Effect.mapError((e) =>
          e.reason === "AlreadyExists"
            ? new UsageError({
              detail: `a workspace named "${name}" already exists (see: sandbox-cli workspace info ${name})`
            })
            : e
        )
      )
      yield* Render.by(output, Workspace, workspace, (w) => Render.line(`added workspace ${w.name} → ${w.path}`))
    })
).pipe(Command.withDescription("Register a directory as a workspace"))

const edit = Command.make(
  "edit",
  { ...common, name: nameArg, sandbox: sandboxOption },
  ({ config, name, output, sandbox }) =>
    Effect.gen(function*() {
      const store = yield* Store.Store
      const current = yield* store.getWorkspace(name).pipe(Effect.mapError(notFoundAsUsage(name)))
      const loaded = yield* AppConfig.load(config, current.path)
      yield* ConfigFile.selectProfile(loaded.config, { flag: sandbox })
      const updated = Workspace.make({
        ...current,
        sandbox: ProfileName.make(sandbox),
        updated_at: yield* DateTime.now
      })
      yield* store.putWorkspace(updated)
      yield* Render.by(
        output,
        Workspace,
        updated,
        (w) => Render.line(`workspace ${w.name} now uses profile ${sandbox}`)
      )
    })
).pipe(Command.withDescription("Change the profile a workspace uses"))

const info = Command.make("info", { ...common, name: nameArg }, ({ config, name, output }) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const workspace = yield* store.getWorkspace(name).pipe(Effect.mapError(notFoundAsUsage(name)))
    const loaded = yield* AppConfig.load(config, workspace.path)
    const profile = yield* ConfigFile.selectProfile(loaded.config, { workspace: workspace.sandbox })
    yield* Render.by(output, Info, { workspace, profile }, ({ profile: p, workspace: w }) =>
      Render.fields([
        ["name", w.name],
        ["path", w.path],
        [
          "sandbox",
          `${p.name} (${w.sandbox ? "workspace" : "default"}; backend ${p.backend}, ${p.sync_mode}, ${p.persistence})`
        ],
        ["created", DateTime.formatIso(w.created_at)]
      ]))
  })).pipe(Command.withDescription("Show a workspace and the profile its sessions resolve to"))

const list = Command.make("list", common, ({ output }) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const listing = yield* store.listWorkspaces
    yield* reportQuarantine(listing)
    yield* Render.by(output, Schema.Array(Workspace), listing.items, (ws) =>
      ws.length === 0
        ? Render.line("no workspaces (add one: sandbox-cli workspace add PATH --name NAME)")
        : Render.table(["name", "sandbox", "path"], ws.map((w) => [w.name, w.sandbox, w.path])))
  })).pipe(Command.withDescription("List registered workspaces"))

const remove = Command.make("remove", { ...common, name: nameArg }, ({ name, output }) =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    yield* store.removeWorkspace(name).pipe(Effect.mapError(notFoundAsUsage(name)))
    yield* Render.by(output, Schema.Struct({ removed: Schema.String }), { removed: name }, () =>
      Render.line(`removed workspace ${name} (its directory is untouched)`))
  })).pipe(Command.withDescription("Forget a workspace (the directory itself is not touched)"))

export const command = Command.make("workspace").pipe(
  Command.withDescription("Register and manage workspaces"),
  Command.withSubcommands([add, edit, info, list, remove]),
  // Only workspace commands open the store: doctor must still run (and say so) when the state dir is unusable.
  Command.provide(SmallFileSystem.storeLayer)
)
