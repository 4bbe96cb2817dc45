import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import * as ProviderRegistry from "@org/sandbox-core/ProviderRegistry"
import { Effect, Layer } from "effect"
import * as LocalBackend from "../src/LocalBackend.js"
import { settingsOf } from "../src/LocalConfig.js"

const Registry = ProviderRegistry.layer([
  { name: "local", source: "built-in", load: () => Promise.resolve(LocalBackend) }
])

/** Resolve a project file with the real local backend. */
const resolve = (text: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "local-config-" }).pipe(Effect.flatMap(fs.realPath))
    const file = `${root}/.sandbox-cli.toml`
    yield* fs.writeFileString(file, text)
    const config = yield* ConfigFile.readSource({ cwd: root }).pipe(Effect.flatMap(ConfigFile.resolve))
    return { config, file }
  })

layer(Layer.merge(NodeContext.layer, Registry))("the local backend's profile keys", (it) => {
  it.scoped("network = false without bubblewrap is a config error naming the file, line and key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        resolve(`[sandboxes.dev]\nbackend = "local"\nsync_mode = "seed"\nnetwork = false\n`)
      )
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toMatch(
        /^\/.*\/\.sandbox-cli\.toml:4: key sandboxes\.dev\.network: expected network = true with isolation = "none", got false \(only isolation = "bubblewrap" can take the network away\)$/
      )
    }))

  it.scoped("resources on local are a config error: nothing would enforce them", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        resolve(`[sandboxes.dev]\nbackend = "local"\nresources = { cpu = 2, memory_gib = 4 }\n`)
      )
      expect(error.message).toContain(":3: key sandboxes.dev.resources: expected no resources for backend local")
    }))

  it.scoped("without isolation the network is reported as it is: on; bubblewrap keeps it off unless asked", () =>
    Effect.gen(function*() {
      const { config } = yield* resolve(
        `[sandboxes.plain]\nbackend = "local"\n\n[sandboxes.boxed]\nbackend = "local"\nisolation = "bubblewrap"\n\n` +
          `[sandboxes.local]\nisolation = "bubblewrap"\n`
      )
      const network = (name: string) => settingsOf(config.profiles.get(name)!).network
      expect(network("plain")).toBe(true)
      expect(network("boxed")).toBe(false)
      expect(network("local")).toBe(false)
      // A resolved profile carries the settings with their defaults, so `profile show` tells the truth.
      expect(config.profiles.get("boxed")?.backend_config).toEqual({ isolation: "bubblewrap", network: false })
      const { config: builtin } = yield* resolve(`[defaults]\n`)
      expect(settingsOf(builtin.profiles.get("local")!).network).toBe(true)
    }))

  it.scoped("isolation and network may sit in the [sandboxes.<p>.local] table, checked by the same schema", () =>
    Effect.gen(function*() {
      const { config } = yield* resolve(
        `[sandboxes.t]\nbackend = "local"\n\n[sandboxes.t.local]\nisolation = "bubblewrap"\n`
      )
      expect(settingsOf(config.profiles.get("t")!)).toEqual({ isolation: "bubblewrap", network: false })
      const onProfile = yield* Effect.flip(resolve(`[sandboxes.t]\nbackend = "local"\nisolation = "jail"\n`))
      expect(onProfile.message).toMatch(
        /\.sandbox-cli\.toml:3: key sandboxes\.t\.isolation: expected "none" \| "bubblewrap", got "jail"$/
      )
      const inTable = yield* Effect.flip(
        resolve(`[sandboxes.t]\nbackend = "local"\n\n[sandboxes.t.local]\nisolation = "jail"\n`)
      )
      expect(inTable.message).toMatch(
        /\.sandbox-cli\.toml:5: key sandboxes\.t\.local\.isolation: expected "none" \| "bubblewrap"/
      )
      const unknown = yield* Effect.flip(
        resolve(`[sandboxes.t]\nbackend = "local"\n\n[sandboxes.t.local]\nisolaton = "none"\n`)
      )
      expect(unknown.message).toMatch(/\.sandbox-cli\.toml:5: key sandboxes\.t\.local\.isolaton: .*unknown key/)
    }))
})
