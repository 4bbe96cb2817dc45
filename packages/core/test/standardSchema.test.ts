/**
 * A Promise-form provider module with a zod schema for its backend table, through the config reader and the
 * registry as the CLI uses them: the validator's output (defaults, transforms) is what the provider gets, in its
 * factory and in `create`; async validators work; zod's messages read as a config error.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { z } from "zod"
import * as ConfigFile from "../src/ConfigFile.js"
import type { PromiseProfile, PromiseProvider, PromiseProviderModule } from "../src/PromiseProvider.js"
import * as ProviderRegistry from "../src/ProviderRegistry.js"
import { makeSpec } from "../src/testing.js"

const seen: Array<{ readonly where: string; readonly config: unknown }> = []

const moduleWith = (configSchema: PromiseProviderModule["configSchema"]): PromiseProviderModule => ({
  backend: "zz",
  contract_version: 1,
  configSchema,
  provider: async ({ profile }: { readonly profile: PromiseProfile }) => {
    seen.push({ where: "factory", config: profile.backend_config })
    const provider: Partial<PromiseProvider> = {
      create: async (spec) => {
        seen.push({ where: "create", config: spec.profile.backend_config })
        return {
          instance_id: "i-1",
          state: "running",
          provider_state_name: "up",
          labels: spec.labels,
          workdir: "/w",
          provider_state: null
        }
      }
    }
    return { name: "zz", contract_version: 1, capabilities: {}, ...provider } as PromiseProvider
  }
})

const zodTable = z.object({
  region: z.string().default("eu"),
  size: z.string().transform((s) => Number(s))
}).strict()

const asyncTable = {
  "~standard": {
    version: 1 as const,
    vendor: "test",
    validate: async (value: unknown) => {
      await new Promise((resolve) => setImmediate(resolve))
      const v = value as { size?: unknown }
      return typeof v.size === "string"
        ? { value: { size: v.size.length } }
        : { issues: [{ message: "Invalid input: expected string, received number", path: ["size"] }] }
    }
  }
}

const resolveWith = (schema: PromiseProviderModule["configSchema"], table: string) =>
  ConfigFile.parseFile("/repo/.sandbox-cli.toml", `[sandboxes.p]\nbackend = "zz"\n\n[sandboxes.p.zz]\n${table}\n`).pipe(
    Effect.flatMap((doc) => ConfigFile.resolve({ files: [doc], providers: [] })),
    Effect.provide(ProviderRegistry.layer([{ name: "zz", source: "zz-pkg", load: async () => moduleWith(schema) }]))
  )

const buildAndCreate = (schema: PromiseProviderModule["configSchema"], table: string) =>
  Effect.gen(function*() {
    seen.length = 0
    const config = yield* resolveWith(schema, table)
    const profile = config.profiles.get("p")!
    const registry = ProviderRegistry.make([{ name: "zz", source: "zz-pkg", load: async () => moduleWith(schema) }])
    const definition = yield* registry.get("zz")
    const provider = yield* definition.make({ profile })
    yield* provider.create({ ...makeSpec("zz"), profile })
    return { profile, seen: [...seen] }
  }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(NodeContext.layer)))

describe("a Standard Schema (zod) for a Promise-form backend table", () => {
  it.effect("defaults and transforms reach the provider's factory and create; the profile keeps the table as written", () =>
    Effect.gen(function*() {
      const { profile, seen } = yield* buildAndCreate(zodTable, `size = "3"`)
      expect(profile.backend_config).toEqual({ size: "3" })
      expect(seen).toEqual([
        { where: "factory", config: { region: "eu", size: 3 } },
        { where: "create", config: { region: "eu", size: 3 } }
      ])
    }))

  it.effect("an async validator is awaited, its output used", () =>
    Effect.gen(function*() {
      const { seen } = yield* buildAndCreate(asyncTable, `size = "abcd"`)
      expect(seen).toEqual([
        { where: "factory", config: { size: 4 } },
        { where: "create", config: { size: 4 } }
      ])
      const error = yield* Effect.flip(resolveWith(asyncTable, `size = 5`))
      expect(error.message).toBe("/repo/.sandbox-cli.toml:5: key sandboxes.p.zz.size: expected string, got 5")
    }))

  it.effect("zod's messages read as one config error line naming the key", () =>
    Effect.gen(function*() {
      const wrongType = yield* Effect.flip(resolveWith(zodTable, `size = 5`))
      expect(wrongType.message).toBe("/repo/.sandbox-cli.toml:5: key sandboxes.p.zz.size: expected string, got 5")
      expect(wrongType.message).not.toMatch(/Invalid input/)
    }))
})

describe("profile keys a third-party backend claims, as the built-in local one claims isolation and network", () => {
  // A jail of its own: `confinement` may be written on the profile table, validated by the module's zod schema.
  const jailTable = z.object({
    confinement: z.enum(["off", "strict"]).default("off"),
    region: z.string().default("eu")
  }).strict()
  const jail: PromiseProviderModule = { ...moduleWith(jailTable), profileKeys: ["confinement"] }
  const resolveText = (text: string, module: PromiseProviderModule = jail) =>
    ConfigFile.parseFile("/repo/.sandbox-cli.toml", text).pipe(
      Effect.flatMap((doc) => ConfigFile.resolve({ files: [doc], providers: [] })),
      Effect.provide(
        ProviderRegistry.layer([
          { name: "zz", source: "zz-pkg", profileKeys: ["confinement"], load: async () => module },
          { name: "other", source: "other-pkg", load: async () => ({ ...moduleWith(undefined), backend: "other" }) }
        ])
      )
    )

  it.effect("a key claimed on the profile table is validated by the module's schema and reaches the provider", () =>
    Effect.gen(function*() {
      seen.length = 0
      const config = yield* resolveText(`[sandboxes.p]\nbackend = "zz"\nconfinement = "strict"\n`)
      const profile = config.profiles.get("p")!
      expect(profile.backend_config).toEqual({ confinement: "strict" })
      const registry = ProviderRegistry.make([{ name: "zz", source: "zz-pkg", load: async () => jail }])
      const provider = yield* Effect.flatMap(registry.get("zz"), (d) => d.make({ profile }))
      yield* provider.create({ ...makeSpec("zz"), profile })
      expect(seen).toEqual([
        { where: "factory", config: { confinement: "strict", region: "eu" } },
        { where: "create", config: { confinement: "strict", region: "eu" } }
      ])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.effect("a wrong value is refused at the key where it is written, by the module's own words", () =>
    Effect.gen(function*() {
      const onProfile = yield* Effect.flip(resolveText(`[sandboxes.p]\nbackend = "zz"\nconfinement = "loose"\n`))
      expect(onProfile.message).toMatch(
        /^\/repo\/\.sandbox-cli\.toml:3: key sandboxes\.p\.confinement: expected .*strict/
      )
      const inTable = yield* Effect.flip(
        resolveText(`[sandboxes.p]\nbackend = "zz"\n\n[sandboxes.p.zz]\nconfinement = "loose"\n`)
      )
      expect(inTable.message).toMatch(/^\/repo\/\.sandbox-cli\.toml:5: key sandboxes\.p\.zz\.confinement: expected/)
    }))

  it.effect("unknown keys are still refused with file, line and key; a claimed key on another backend names its own", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(resolveText(`[sandboxes.p]\nbackend = "zz"\nconfinment = "strict"\n`))
      expect(unknown.message).toMatch(
        /^\/repo\/\.sandbox-cli\.toml:3: key sandboxes\.p\.confinment: expected one of .*, got unknown key "confinment" \(did you mean "confinement"\?\)$/
      )
      const elsewhere = yield* Effect.flip(resolveText(`[sandboxes.q]\nbackend = "other"\nconfinement = "strict"\n`))
      expect(elsewhere.message).toBe(
        `/repo/.sandbox-cli.toml:3: key sandboxes.q.confinement: expected no confinement for backend other, ` +
          `got "strict" (confinement applies to backend zz only)`
      )
      const twice = yield* Effect.flip(
        resolveText(`[sandboxes.p]\nbackend = "zz"\nconfinement = "strict"\n[sandboxes.p.zz]\nconfinement = "off"\n`)
      )
      expect(twice.message).toMatch(/^\/repo\/\.sandbox-cli\.toml:3: key sandboxes\.p\.confinement: .*both/)
      // A module that does not claim the key refuses it on the profile table.
      const unclaimed = yield* Effect.flip(
        resolveText(`[sandboxes.p]\nbackend = "zz"\nconfinement = "strict"\n`, moduleWith(jailTable))
      )
      expect(unclaimed.message).toMatch(/key sandboxes\.p\.confinement: expected one of .*unknown key/)
    }))
})
