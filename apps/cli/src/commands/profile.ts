/**
 * `sandbox-cli profile list | show NAME | validate [FILE]`
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import { defaultExcludes, Profile } from "@org/sandbox-core/Profile"
import * as ProviderRegistry from "@org/sandbox-core/ProviderRegistry"
import * as Redaction from "@org/sandbox-core/Redaction"
import { Effect, Option, Schema } from "effect"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import * as Render from "../Render.js"

const ProfileList = Schema.Array(Profile)

const list = Command.make("list", common, ({ config, output }) =>
  Effect.gen(function*() {
    const loaded = yield* AppConfig.load(config)
    const profiles = [...loaded.config.profiles.values()].map(Redaction.profile)
    const fallback = loaded.config.defaults.sandbox ?? "local"
    yield* Render.by(output, ProfileList, profiles, (ps) =>
      Render.table(
        ["name", "backend", "sync_mode", "persistence", "source"],
        ps.map((
          p
        ) => [p.name === fallback ? `${p.name} (default)` : p.name, p.backend, p.sync_mode, p.persistence, p.source])
      ))
  })).pipe(Command.withDescription("List the profiles: the built-in local one and those in config"))

/** `profile show`: the profile plus what applies to it without being written in it. */
const ProfileView = Schema.Struct({
  ...Profile.fields,
  /** Excluded by every sync unless `include` brings them back. */
  default_excludes: Schema.Array(Schema.String)
})
type ProfileView = typeof ProfileView.Type

const showProfile = (p: ProfileView) =>
  Render.fields([
    ["name", p.name],
    ["backend", p.backend],
    ["sync_mode", p.sync_mode],
    ["persistence", p.persistence],
    ["seed", p.seed],
    ["runtime_root", p.runtime_root],
    ["include", p.include.join(", ")],
    ["exclude", p.exclude.join(", ")],
    ["default excludes", p.default_excludes.join(", ")],
    ["setup", p.setup.map((c) => (typeof c === "string" ? c : c.join(" "))).join("; ")],
    ["env", Object.keys(p.env).join(", ")],
    ["stop_grace", p.stop_grace ?? "10s"],
    ["resources", Object.entries(p.resources).map(([k, v]) => `${k}=${v}`).join(", ")],
    [p.backend, Object.entries(p.backend_config).map(([k, v]) => `${k}=${String(v)}`).join(", ")],
    ["source", p.source]
  ])

const show = Command.make(
  "show",
  { ...common, name: Args.text({ name: "NAME" }).pipe(Args.withDescription("Profile name")) },
  ({ config, name, output }) =>
    Effect.gen(function*() {
      const loaded = yield* AppConfig.load(config)
      const selected = yield* ConfigFile.selectProfile(loaded.config, { flag: name })
      // The backend's settings as its schema fills them in (the built-in profile was never resolved).
      const definition = yield* loaded.registry.get(selected.backend)
      const settings = yield* ProviderRegistry.settingsOf(definition, selected.backend_config)
      const profile = Profile.make({ ...selected, backend_config: settings })
      const shown = { ...Redaction.profile(profile), default_excludes: defaultExcludes }
      yield* Render.by(output, ProfileView, shown, showProfile)
    })
).pipe(Command.withDescription("Show one profile with every default filled in"))

const ValidateResult = Schema.Struct({
  ok: Schema.Boolean,
  files: Schema.Array(Schema.String),
  profiles: Schema.Array(Schema.String),
  agents: Schema.Array(Schema.String)
})

const validate = Command.make(
  "validate",
  {
    ...common,
    file: Args.file({ name: "FILE", exists: "yes" }).pipe(
      Args.withDescription("File to check (default: the config this directory would use)"),
      Args.optional
    )
  },
  ({ config, file, output }) =>
    Effect.gen(function*() {
      const loaded = yield* AppConfig.load(Option.orElse(file, () => config))
      const result = {
        ok: true,
        files: loaded.config.files,
        profiles: [...loaded.config.profiles.keys()],
        agents: [...loaded.config.agents.keys()]
      }
      yield* Render.by(output, ValidateResult, result, (r) =>
        Render.line(
          r.files.length === 0
            ? `ok: no config file found; built-in profiles: ${r.profiles.join(", ")}`
            : `ok: ${r.files.join(", ")} (${r.profiles.length} profiles, ${r.agents.length} agents)`
        ))
    })
).pipe(Command.withDescription("Check a config file: syntax, keys, values and each backend's table"))

export const command = Command.make("profile").pipe(
  Command.withDescription("Inspect and validate sandbox profiles"),
  Command.withSubcommands([list, show, validate])
)
