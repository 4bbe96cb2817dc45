/**
 * The package as the CLI sees it: `[providers] tmpdir = "@example/sandbox-tmpdir"` makes the registry import the
 * package by name and hand it to core's `definitionFromModule`, which validates the backend table with the
 * exported schema and builds the provider for a profile.
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import * as ProviderRegistry from "@org/sandbox-core/ProviderRegistry"
import { makeSpec } from "@org/sandbox-core/testing"
import { Effect, Either, ParseResult } from "effect"

const registry = ProviderRegistry.make([
  { name: "tmpdir", source: "@example/sandbox-tmpdir", load: () => import("@example/sandbox-tmpdir") }
])

describe("loading by package name", () => {
  it.effect("yields a backend named tmpdir for contract version 1", () =>
    Effect.gen(function*() {
      const definition = yield* registry.get("tmpdir")
      expect(definition.name).toBe("tmpdir")
      expect(definition.contract_version).toBe(1)
    }))

  it.effect("validates the backend table with the exported schema, naming the bad key", () =>
    Effect.gen(function*() {
      const definition = yield* registry.get("tmpdir")
      expect(Either.isRight(yield* Effect.either(ProviderRegistry.decodeTable(definition, { root: "/tmp/x" }))))
        .toBe(true)
      const problem = (table: unknown) =>
        Effect.flip(ProviderRegistry.decodeTable(definition, table)).pipe(
          Effect.map(ParseResult.TreeFormatter.formatIssueSync)
        )
      const unknown = yield* problem({ rooot: "/tmp/x" })
      expect(unknown).toMatch(/rooot/)
      expect(unknown).toMatch(/unknown key/)
      expect(yield* problem({ root: "" })).toMatch(/non-empty path/)
    }))

  it.scoped("builds a working provider for a profile whose table names the root; close() runs with the scope", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-tmpdir-module-" })
      const definition = yield* registry.get("tmpdir")
      const profile = Profile.make({ ...builtinLocal, backend: "tmpdir", backend_config: { root } })
      const provider = yield* definition.make({ profile })
      expect(provider.capabilities).toMatchObject({ exec: true, fs: true, archive_transfer: true, snapshots: false })
      const instance = yield* provider.create(makeSpec("tmpdir"))
      expect(instance.workdir.startsWith(root)).toBe(true)
      expect(yield* fs.exists(`${root}/${instance.instance_id}/meta.json`)).toBe(true)
      const r = yield* provider.exec(instance, { shell: "printf %s \"$(basename \"$PWD\")\"" })
      expect(r).toEqual({ exit_code: 0, stdout: "work", stderr: "" })
      // Undeclared operations fail as Unsupported through the adapter, not with a crash.
      expect(provider.snapshot).toBeUndefined()
      const preview = yield* provider.previewUrl!(instance, 8080)
      expect(preview).toBe("http://127.0.0.1:8080")
      yield* provider.destroy(instance)
      expect(yield* fs.exists(`${root}/${instance.instance_id}`)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))
})
