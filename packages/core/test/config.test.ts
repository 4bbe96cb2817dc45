import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Profile from "../src/Profile.js"
import * as ProviderRegistry from "../src/ProviderRegistry.js"
import { ConfigError, UsageError } from "../src/SandboxError.js"

const notUsed = () => Effect.dieMessage("make is not used by config tests")

// A backend that lets two of its table's keys be written on the profile table, as the built-in local one does.
const localDefinition = {
  name: "local",
  contract_version: 1,
  configSchema: Schema.Struct({
    isolation: Schema.optional(Schema.Literal("none", "bubblewrap")),
    network: Schema.optional(Schema.Boolean)
  }),
  profileKeys: ["isolation", "network"],
  make: notUsed
}

const daytonaDefinition = {
  name: "daytona",
  contract_version: 1,
  configSchema: Schema.Struct({
    api_url: Schema.optional(Schema.String),
    target: Schema.optional(Schema.String),
    snapshot: Schema.optional(Schema.String),
    image: Schema.optional(Schema.String),
    class: Schema.optional(Schema.Literal("small", "medium", "large")),
    auto_stop: Schema.optional(Schema.Number),
    auto_archive: Schema.optional(Schema.Number)
  }),
  make: notUsed
}

const Registry = ProviderRegistry.layer([
  {
    name: "local",
    source: "built-in",
    profileKeys: ["isolation", "network"],
    load: () => Promise.resolve(localDefinition)
  },
  { name: "daytona", source: "built-in", load: () => Promise.resolve(daytonaDefinition) }
])

const TestLayer = Layer.merge(NodeContext.layer, Registry)

/** A fresh temp dir holding `files` (relative path → content); removed when the test's scope closes. */
const project = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    // realPath: on some hosts the temp dir is behind a symlink, and readSource reports resolved paths
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "core-config-" }).pipe(Effect.flatMap(fs.realPath))
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(root, name)
      yield* fs.makeDirectory(path.dirname(file), { recursive: true })
      yield* fs.writeFileString(file, text)
    }
    return { root, file: (name: string) => path.join(root, name) }
  })

const load = (options: { readonly cwd: string; readonly explicit?: string; readonly userFile?: string }) =>
  ConfigFile.readSource(options).pipe(Effect.flatMap(ConfigFile.resolve))

/** Write `text` as the project file, load it and return the error it must produce. */
const configError = (text: string) =>
  Effect.gen(function*() {
    const dir = yield* project({ ".sandbox-cli.toml": text })
    const error = yield* Effect.flip(load({ cwd: dir.root }))
    expect(error).toBeInstanceOf(ConfigError)
    const configError = error as ConfigError
    expect(configError.message).not.toContain("\n")
    return { error: configError, file: dir.file(".sandbox-cli.toml") }
  })

/** The error's fields, after checking that its message is one line a person can read. */
const fieldsOf = (error: ConfigError) => {
  expect(error.message).not.toContain("\n")
  return {
    file: error.file,
    key_path: error.key_path,
    expected: error.expected,
    got: error.got,
    line: error.line,
    hint: error.hint
  }
}

layer(TestLayer)("ConfigFile errors", (it) => {
  it.scoped("invalid TOML reports the parser's line and first message line", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[sandboxes.dev]\nbackend = "local"\nsync_mode = \n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "",
        expected: "valid TOML",
        got: "invalid value",
        line: 3,
        hint: undefined
      })
      expect(error.message).toBe(`${file}:3: expected valid TOML, got invalid value`)
    }))

  it.effect("parseFile alone reports invalid TOML without the offending text", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ConfigFile.parseFile("cfg.toml", `a = 1\ntoken = sk-123\n`))
      expect(fieldsOf(error)).toEqual({
        file: "cfg.toml",
        key_path: "",
        expected: "valid TOML",
        got: "invalid value",
        line: 2,
        hint: undefined
      })
      expect(error.message).not.toContain("sk-123")
    }))

  it.scoped("unknown top-level key suggests the closest one", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[defaults]\nsandbox = "local"\n\n[sandboxs.dev]\nbackend = "local"\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxs",
        expected: "one of defaults, sandboxes, agents, providers, hooks",
        got: `unknown key "sandboxs"`,
        line: 4,
        hint: `did you mean "sandboxes"?`
      })
      expect(error.message).toBe(
        `${file}:4: key sandboxs: expected one of defaults, sandboxes, agents, providers, hooks, ` +
          `got unknown key "sandboxs" (did you mean "sandboxes"?)`
      )
    }))

  it.scoped("unknown profile key suggests the closest one", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[sandboxes.dev]\nbackend = "local"\nsync_mdoe = "seed"\n`)
      expect(error.file).toBe(file)
      expect(error.key_path).toBe("sandboxes.dev.sync_mdoe")
      // The profile's own keys, the keys its backend claims on the profile table, and the backend's table.
      expect(error.expected).toBe(
        `one of ${[...Object.keys(Profile.ProfileFields), "isolation", "network", "local"].join(", ")}`
      )
      expect(error.got).toBe(`unknown key "sync_mdoe"`)
      expect(error.line).toBe(3)
      expect(error.hint).toBe(`did you mean "sync_mode"?`)
    }))

  it.scoped("a bad enum value lists the allowed values", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[sandboxes.dev]\nbackend = "local"\nsync_mode = "sometimes"\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.dev.sync_mode",
        expected: `"none" | "seed" | "session-bidirectional" | "live"`,
        got: `"sometimes"`,
        line: 3,
        hint: undefined
      })
    }))

  it.scoped("a value of the wrong type names the type expected", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[sandboxes.dev]\nbackend = "local"\nsetup = 3\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.dev.setup",
        expected: "an array",
        got: "3",
        line: 3,
        hint: undefined
      })
    }))

  it.scoped("a bad value inside an optional table keeps its full key path", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(
        `[sandboxes.dev]\nbackend = "local"\n\n[sandboxes.dev.resources]\ncpu = 2\nmemory_gib = -1\n`
      )
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.dev.resources.memory_gib",
        expected: "a positive number",
        got: "-1",
        line: 6,
        hint: undefined
      })
    }))

  it.scoped("an unknown backend suggests the closest registered one", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[sandboxes.cloud]\nbackend = "daytonna"\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.cloud.backend",
        expected: "one of local, daytona",
        got: `"daytonna"`,
        line: 2,
        hint: `did you mean "daytona"? Third-party backends go under [providers]`
      })
    }))

  it.scoped("a backend table for another backend is refused", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(
        `[sandboxes.dev]\nbackend = "local"\n\n[sandboxes.dev.daytona]\ntarget = "eu"\n`
      )
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.dev.daytona",
        expected: "a [sandboxes.dev.local] table",
        got: "a table for backend daytona",
        line: 4,
        hint: "this profile uses backend local"
      })
    }))

  it.scoped("an unknown key in a backend table is found by the backend's own schema", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(
        `[sandboxes.cloud]\nbackend = "daytona"\n\n[sandboxes.cloud.daytona]\ntarget = "eu"\nsnapshott = "py"\n`
      )
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.cloud.daytona.snapshott",
        expected: "one of api_url, target, snapshot, image, class, auto_stop, auto_archive",
        got: `unknown key "snapshott"`,
        line: 6,
        hint: `did you mean "snapshot"?`
      })
    }))

  it.scoped("a bad value in a backend table is checked by the backend's own schema", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(
        `[sandboxes.cloud]\nbackend = "daytona"\n\n[sandboxes.cloud.daytona]\nclass = "huge"\n`
      )
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.cloud.daytona.class",
        expected: `"small" | "medium" | "large"`,
        got: `"huge"`,
        line: 5,
        hint: undefined
      })
    }))

  it.scoped("a local-only key on another backend is refused", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[sandboxes.cloud]\nbackend = "daytona"\nisolation = "bubblewrap"\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.cloud.isolation",
        expected: "no isolation for backend daytona",
        got: `"bubblewrap"`,
        line: 3,
        hint: "isolation applies to backend local only"
      })
    }))

  it.scoped("a profile without a backend names the missing key", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`# team profiles\n[sandboxes.dev]\nsync_mode = "seed"\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.dev.backend",
        expected: "one of local, daytona",
        got: "nothing (the key is required)",
        line: 2,
        hint: undefined
      })
    }))

  it.scoped("[defaults] sandbox naming an unknown profile suggests a known one", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(`[defaults]\nsandbox = "dev"\n\n[sandboxes.devv]\nbackend = "local"\n`)
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "defaults.sandbox",
        expected: "a profile (local, devv)",
        got: `"dev"`,
        line: 2,
        hint: `did you mean "devv"?`
      })
    }))

  const secretFree = (error: ConfigError, secret: string) => {
    for (const value of Object.values(fieldsOf(error))) expect(String(value)).not.toContain(secret)
    expect(error.message).not.toContain(secret)
    expect(String(error)).not.toContain(secret)
    expect(JSON.stringify(error)).not.toContain(secret)
  }

  it.scoped("a credential in a backend table is refused without showing it", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(
        `[sandboxes.cloud]\nbackend = "daytona"\n\n[sandboxes.cloud.daytona]\ntarget = "eu"\napi_key = "sk-123"\n`
      )
      expect(fieldsOf(error)).toEqual({
        file,
        key_path: "sandboxes.cloud.daytona.api_key",
        expected: "no credentials in config files",
        got: "a key that holds a credential (its value is not shown)",
        line: 6,
        hint: "put secrets in the environment, e.g. DAYTONA_API_KEY"
      })
      secretFree(error, "sk-123")
    }))

  it.scoped("a credential in an env table is refused without showing it", () =>
    Effect.gen(function*() {
      const { error, file } = yield* configError(
        `[sandboxes.dev]\nbackend = "local"\nenv = { CI = "1", GITHUB_TOKEN = "ghp_x" }\n`
      )
      expect(error.file).toBe(file)
      expect(error.key_path).toBe("sandboxes.dev.env.GITHUB_TOKEN")
      expect(error.expected).toBe("no credentials in config files")
      expect(error.got).toBe("a key that holds a credential (its value is not shown)")
      expect(error.line).toBe(3)
      secretFree(error, "ghp_x")
    }))

  it.effect("agents are checked when the file is parsed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ConfigFile.parseFile("a.toml", `[agents.claude]\ncommand = ["claude"]\nprotocol = "http"\n`)
      )
      expect(fieldsOf(error)).toEqual({
        file: "a.toml",
        key_path: "agents.claude.protocol",
        expected: `"command" | "acp"`,
        got: `"http"`,
        line: 3,
        hint: undefined
      })
    }))

  it.scoped("--config pointing at a missing file", () =>
    Effect.gen(function*() {
      const dir = yield* project({})
      const error = yield* Effect.flip(load({ cwd: dir.root, explicit: "conf/missing.toml" }))
      expect(error).toBeInstanceOf(ConfigError)
      expect(fieldsOf(error as ConfigError)).toEqual({
        file: dir.file("conf/missing.toml"),
        key_path: "",
        expected: "a readable config file",
        got: "no such file",
        line: undefined,
        hint: undefined
      })
      expect(error.message).toBe(`${dir.file("conf/missing.toml")}: expected a readable config file, got no such file`)
    }))
})

layer(TestLayer)("ConfigFile loading", (it) => {
  it.scoped("finds .sandbox-cli.toml by walking up from a nested directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project({ ".sandbox-cli.toml": `[sandboxes.dev]\nbackend = "local"\nsync_mode = "seed"\n` })
      yield* fs.makeDirectory(dir.file("src/deep/er"), { recursive: true })
      const config = yield* load({ cwd: dir.file("src/deep/er") })
      expect(config.files).toEqual([dir.file(".sandbox-cli.toml")])
      const dev = config.profiles.get("dev")
      expect(dev?.sync_mode).toBe("seed")
      expect(dev?.source).toBe(dir.file(".sandbox-cli.toml"))
    }))

  it.scoped("--config is used instead of the discovered file", () =>
    Effect.gen(function*() {
      const dir = yield* project({
        ".sandbox-cli.toml": `[sandboxes.dev]\nbackend = "local"\n`,
        "other.toml": `[sandboxes.ci]\nbackend = "local"\n`
      })
      const config = yield* load({ cwd: dir.root, explicit: "other.toml" })
      expect(config.files).toEqual([dir.file("other.toml")])
      expect([...config.profiles.keys()].sort()).toEqual(["ci", "local"])
    }))

  it.scoped("the project file is merged over the user file, key by key", () =>
    Effect.gen(function*() {
      const dir = yield* project({
        "home/config.toml": [
          `[defaults]`,
          `sandbox = "cloud"`,
          `[sandboxes.cloud]`,
          `backend = "daytona"`,
          `persistence = "archive"`,
          `sync_mode = "seed"`,
          `[sandboxes.cloud.daytona]`,
          `target = "us"`,
          `image = "node:20"`,
          `[agents.claude]`,
          `command = ["claude"]`,
          ``
        ].join("\n"),
        "repo/.sandbox-cli.toml": [
          `[sandboxes.cloud]`,
          `sync_mode = "session-bidirectional"`,
          `[sandboxes.cloud.daytona]`,
          `target = "eu"`,
          `[agents.codex]`,
          `command = ["codex", "--yolo"]`,
          `protocol = "acp"`,
          ``
        ].join("\n")
      })
      const config = yield* load({ cwd: dir.file("repo"), userFile: dir.file("home/config.toml") })
      expect(config.files).toEqual([dir.file("home/config.toml"), dir.file("repo/.sandbox-cli.toml")])
      expect(config.defaults).toEqual({ sandbox: "cloud" })
      const cloud = config.profiles.get("cloud")!
      expect(cloud.backend).toBe("daytona")
      expect(cloud.persistence).toBe("archive")
      expect(cloud.sync_mode).toBe("session-bidirectional")
      expect(cloud.backend_config).toEqual({ target: "eu", image: "node:20" })
      expect(cloud.source).toBe(dir.file("repo/.sandbox-cli.toml"))
      expect([...config.agents.keys()].sort()).toEqual(["claude", "codex"])
      expect(config.agents.get("codex")).toMatchObject({ command: ["codex", "--yolo"], protocol: "acp", env: {} })
      expect(config.agents.get("claude")).toMatchObject({ command: ["claude"], protocol: "command" })
    }))

  it.scoped("an error in a merged key names the file that wrote it", () =>
    Effect.gen(function*() {
      const dir = yield* project({
        "home/config.toml": `[sandboxes.cloud]\nbackend = "daytona"\n\n[sandboxes.cloud.daytona]\nclass = "small"\n`,
        "repo/.sandbox-cli.toml": `# project\n[sandboxes.cloud.daytona]\nclass = "huge"\n`
      })
      const error = yield* Effect.flip(load({ cwd: dir.file("repo"), userFile: dir.file("home/config.toml") }))
      expect(error).toMatchObject({
        _tag: "ConfigError",
        file: dir.file("repo/.sandbox-cli.toml"),
        key_path: "sandboxes.cloud.daytona.class",
        line: 3
      })
    }))

  it.scoped("the built-in local profile exists with no config at all", () =>
    Effect.gen(function*() {
      const dir = yield* project({})
      const config = yield* ConfigFile.resolve({ files: [], providers: [] })
      expect(config.files).toEqual([])
      expect([...config.profiles.keys()]).toEqual(["local"])
      expect(config.profiles.get("local")).toEqual(Profile.builtinLocal)
      const selected = yield* ConfigFile.selectProfile(config, {})
      expect(selected.name).toBe("local")
      expect(selected.backend).toBe("local")
      expect(selected.sync_mode).toBe("session-bidirectional")
      expect(selected.persistence).toBe("transient")
      expect(selected.source).toBe("<built-in>")
      // and reading from a directory with no project file gives the same
      const fromDir = yield* load({ cwd: dir.root, userFile: dir.file("absent.toml") })
      expect(fromDir.profiles.get("local")).toEqual(Profile.builtinLocal)
    }))

  it.scoped("[sandboxes.local] overrides keys of the built-in and keeps the rest", () =>
    Effect.gen(function*() {
      const dir = yield* project({
        ".sandbox-cli.toml": `[sandboxes.local]\nsync_mode = "none"\nisolation = "bubblewrap"\nsetup = ["npm ci"]\n`
      })
      const config = yield* load({ cwd: dir.root })
      const local = config.profiles.get("local")!
      expect(local.backend).toBe("local")
      expect(local.sync_mode).toBe("none")
      expect(local.backend_config).toEqual({ isolation: "bubblewrap" })
      expect(local.setup).toEqual(["npm ci"])
      expect(local.persistence).toBe(Profile.builtinLocal.persistence)
      expect(local.seed).toBe(Profile.builtinLocal.seed)
      expect(local.source).toBe(dir.file(".sandbox-cli.toml"))
    }))

  it.scoped("the [providers] table is read with the directory to resolve it from", () =>
    Effect.gen(function*() {
      const dir = yield* project({ "sub/.sandbox-cli.toml": `[providers]\ne2b = "@acme/sandbox-e2b"\n` })
      const source = yield* ConfigFile.readSource({ cwd: dir.file("sub") })
      expect(source.providers).toEqual([{
        backend: "e2b",
        spec: "@acme/sandbox-e2b",
        baseDir: dir.file("sub"),
        file: dir.file("sub/.sandbox-cli.toml"),
        line: 2
      }])
    }))
})

layer(Registry)("ConfigFile.selectProfile", (it) => {
  const resolveText = (text: string) =>
    ConfigFile.parseFile("/repo/.sandbox-cli.toml", text).pipe(
      Effect.flatMap((doc) => ConfigFile.resolve({ files: [doc], providers: [] }))
    )
  const text = [
    `[defaults]`,
    `sandbox = "ci"`,
    `[sandboxes.dev]`,
    `backend = "local"`,
    `[sandboxes.ci]`,
    `backend = "local"`,
    `[sandboxes.ws]`,
    `backend = "local"`,
    ``
  ].join("\n")

  it.effect("flag > workspace > [defaults] sandbox > local", () =>
    Effect.gen(function*() {
      const config = yield* resolveText(text)
      const name = (choice: { flag?: string; workspace?: string }) =>
        ConfigFile.selectProfile(config, choice).pipe(Effect.map((p) => p.name))
      expect(yield* name({ flag: "dev", workspace: "ws" })).toBe("dev")
      expect(yield* name({ workspace: "ws" })).toBe("ws")
      expect(yield* name({})).toBe("ci")
      const noDefaults = yield* resolveText(`[sandboxes.dev]\nbackend = "local"\n`)
      expect((yield* ConfigFile.selectProfile(noDefaults, {})).name).toBe("local")
      expect((yield* ConfigFile.selectProfile(noDefaults, { flag: "dev" })).name).toBe("dev")
    }))

  it.effect("an unknown profile is a UsageError with a suggestion", () =>
    Effect.gen(function*() {
      const config = yield* resolveText(text)
      const error = yield* Effect.flip(ConfigFile.selectProfile(config, { flag: "dvv", workspace: "ws" }))
      expect(error).toBeInstanceOf(UsageError)
      expect(error.message).toBe(`unknown profile "dvv" (did you mean "dev"?); known: local, dev, ci, ws`)
    }))
})

/** A validator in the Standard Schema shape (as zod, valibot and arktype expose it). */
const regionSchema = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate: (value: unknown) => {
      const region = (value as { region?: unknown }).region
      return region === undefined || typeof region === "string"
        ? { value }
        : { issues: [{ message: "region must be a string", path: [{ key: "region" }] }] }
    }
  }
}

const ThirdParty = ProviderRegistry.layer([
  {
    name: "local",
    source: "built-in",
    profileKeys: ["isolation", "network"],
    load: () => Promise.resolve(localDefinition)
  },
  {
    name: "e2b",
    source: "@acme/sandbox-e2b",
    load: () =>
      Promise.resolve({
        backend: "e2b",
        contract_version: 1,
        configSchema: regionSchema,
        provider: () => Promise.reject(new Error("unused"))
      })
  }
])

layer(ThirdParty)("ConfigFile with a third-party backend", (it) => {
  const resolveText = (text: string) =>
    ConfigFile.parseFile("/repo/.sandbox-cli.toml", text).pipe(
      Effect.flatMap((doc) => ConfigFile.resolve({ files: [doc], providers: [] }))
    )

  it.effect("its Standard Schema validates the backend table and its message reaches the error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveText(`[sandboxes.e]\nbackend = "e2b"\n\n[sandboxes.e.e2b]\nregion = 3\n`))
      expect(error).toBeInstanceOf(ConfigError)
      expect(fieldsOf(error as ConfigError)).toEqual({
        file: "/repo/.sandbox-cli.toml",
        key_path: "sandboxes.e.e2b.region",
        expected: "region must be a string",
        got: "3",
        line: 5,
        hint: undefined
      })
      const config = yield* resolveText(`[sandboxes.e]\nbackend = "e2b"\n\n[sandboxes.e.e2b]\nregion = "eu"\n`)
      expect(config.profiles.get("e")?.backend_config).toEqual({ region: "eu" })
    }))
})
