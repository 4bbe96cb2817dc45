import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import type { ProfileJson } from "./helpers.js"
import { expectError, expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 30_000

const cloud = `[sandboxes.cloud]
backend = "daytona"

[sandboxes.cloud.daytona]
snapshot = "x"
auto_stop = "30m"
`

layer(NodeContext.layer)("sandbox-cli profile", (it) => {
  it.scoped("list -o json holds the built-in local profile", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const profiles = json<Array<ProfileJson>>(yield* cli.run(["profile", "list", "-o", "json"]))
      expect(Array.isArray(profiles)).toBe(true)
      expect(profiles.find((p) => p.name === "local")).toMatchObject({
        backend: "local",
        sync_mode: "session-bidirectional",
        persistence: "transient",
        source: "<built-in>"
      })
    }), TIMEOUT)

  it.scoped("show local prints every field as text and as JSON", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const { stdout } = expectOk(yield* cli.run(["profile", "show", "local"]))
      expect(stdout).toMatch(/^name:\s+local$/m)
      expect(stdout).toMatch(/^backend:\s+local$/m)
      expect(stdout).toMatch(/^sync_mode:\s+session-bidirectional$/m)
      expect(stdout).toMatch(/^persistence:\s+transient$/m)
      expect(json<ProfileJson>(yield* cli.run(["profile", "show", "local", "-o", "json"]))).toMatchObject({
        name: "local",
        backend: "local",
        backend_config: {}
      })
    }), TIMEOUT)

  it.scoped("show of an unknown profile is a usage error on one line", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const line = expectError(yield* cli.run(["profile", "show", "nope"]), 2)
      expect(line).toContain("nope")
      expect(line).toContain("local")
    }), TIMEOUT)

  it.scoped("finds .sandbox-cli.toml in a parent of the cwd", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const file = yield* cli.write(
        "project/.sandbox-cli.toml",
        `[sandboxes.fast]\nbackend = "local"\npersistence = "archive"\n`
      )
      const deep = yield* cli.mkdir("project/src/deep")
      const profiles = json<Array<ProfileJson>>(yield* cli.run(["profile", "list", "-o", "json"], { cwd: deep }))
      expect(profiles.map((p) => p.name).sort()).toEqual(["fast", "local"])
      expect(profiles.find((p) => p.name === "fast")).toMatchObject({
        backend: "local",
        persistence: "archive",
        source: file
      })
      // from a directory outside the project, the file is not seen
      const outside = json<Array<ProfileJson>>(yield* cli.run(["profile", "list", "-o", "json"]))
      expect(outside.map((p) => p.name)).toEqual(["local"])
    }), TIMEOUT)

  it.scoped(
    "merges the project file over the user file, and --config replaces the project file",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("config/sandbox-cli/config.toml", `[sandboxes.mine]\nbackend = "local"\nsync_mode = "seed"\n`)
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.mine]\nsync_mode = "none"\n[sandboxes.team]\nbackend = "local"\n`
        )
        const explicit = yield* cli.write("other.toml", `[sandboxes.other]\nbackend = "local"\n`)
        const merged = json<Array<ProfileJson>>(yield* cli.run(["profile", "list", "-o", "json"]))
        expect(merged.map((p) => p.name).sort()).toEqual(["local", "mine", "team"])
        expect(merged.find((p) => p.name === "mine")).toMatchObject({ backend: "local", sync_mode: "none" })
        const chosen = json<Array<ProfileJson>>(yield* cli.run(["profile", "list", "-o", "json", "--config", explicit]))
        expect(chosen.map((p) => p.name).sort()).toEqual(["local", "mine", "other"])
        expect(chosen.find((p) => p.name === "mine")).toMatchObject({ sync_mode: "seed" })
      }),
    TIMEOUT
  )

  it.scoped("--config naming a missing file is a config error on one line", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expect(expectError(yield* cli.run(["profile", "list", "--config", "missing.toml"]), 2)).toContain("missing.toml")
    }), TIMEOUT)

  it.scoped("validate FILE accepts a valid file", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const file = yield* cli.write(
        "cwd/good.toml",
        `[defaults]\nsandbox = "fast"\n\n[sandboxes.fast]\nbackend = "local"\nexclude = ["dist/"]\n`
      )
      const { stdout } = expectOk(yield* cli.run(["profile", "validate", "good.toml"]))
      expect(stdout).toBe(`ok: ${file} (2 profiles, 0 agents)\n`)
      expect(json(yield* cli.run(["profile", "validate", file, "-o", "json"]))).toEqual({
        ok: true,
        files: [file],
        profiles: ["local", "fast"],
        agents: []
      })
    }), TIMEOUT)

  it.scoped("validate with no file checks the built-in configuration", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expect(expectOk(yield* cli.run(["profile", "validate"])).stdout).toContain("no config file found")
    }), TIMEOUT)

  const invalid: ReadonlyArray<{
    readonly name: string
    readonly text: string
    readonly mentions: ReadonlyArray<string>
  }> = [
    {
      name: "an unknown key, with a did-you-mean",
      text: `[sandboxes.d]\nbackend = "local"\nsync_mod = "live"\n`,
      mentions: [":3:", "sandboxes.d.sync_mod", `did you mean "sync_mode"?`]
    },
    {
      name: "a value outside an enum",
      text: `[sandboxes.d]\nbackend = "local"\nsync_mode = "sometimes"\n`,
      mentions: [":3:", "sandboxes.d.sync_mode", `"sometimes"`, "session-bidirectional"]
    },
    {
      name: "invalid TOML, with its line",
      text: `[sandboxes.d]\nbackend = "local"\nsync_mode = \n`,
      mentions: [":3:", "TOML"]
    },
    {
      name: "an unknown backend, with a did-you-mean",
      text: `[sandboxes.d]\nbackend = "daytonna"\n`,
      mentions: [":2:", "sandboxes.d.backend", `did you mean "daytona"?`]
    }
  ]
  for (const { mentions, name, text } of invalid) {
    it.scoped(`validate rejects ${name} on one line that names the file`, () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const file = yield* cli.write("cwd/bad.toml", text)
        const line = expectError(yield* cli.run(["profile", "validate", "bad.toml"]), 2)
        expect(line).toMatch(/^config error: /)
        expect(line).toContain(file)
        for (const m of mentions) expect(line).toContain(m)
      }), TIMEOUT)
  }

  it.scoped("validate rejects a credential in a backend table without showing it", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const file = yield* cli.write(
        "cwd/cred.toml",
        `[sandboxes.d]\nbackend = "daytona"\n\n[sandboxes.d.daytona]\napi_key = "sk-secret-123"\n`
      )
      for (const output of ["text", "json"]) {
        const result = yield* cli.run(["profile", "validate", file, "-o", output])
        const line = expectError(result, 2)
        expect(line).toContain(`${file}:5:`)
        expect(line).toContain("sandboxes.d.daytona.api_key")
        expect(line).toContain("DAYTONA_API_KEY")
        expect(result.stdout + result.stderr).not.toContain("sk-secret-123")
      }
      // the same file found as the project config is refused the same way by every command that loads it
      yield* cli.write(
        "cwd/.sandbox-cli.toml",
        `[sandboxes.d]\nbackend = "daytona"\n\n[sandboxes.d.daytona]\napi_key = "sk-secret-123"\n`
      )
      const listed = yield* cli.run(["profile", "list"])
      expect(expectError(listed, 2)).toContain("sandboxes.d.daytona.api_key")
      expect(listed.stderr).not.toContain("sk-secret-123")
    }), TIMEOUT)

  it.scoped("a daytona profile validates and shows its backend_config", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const file = yield* cli.write("cwd/.sandbox-cli.toml", cloud)
      expect(expectOk(yield* cli.run(["profile", "validate"])).stdout).toBe(`ok: ${file} (2 profiles, 0 agents)\n`)
      expect(json<ProfileJson>(yield* cli.run(["profile", "show", "cloud", "-o", "json"]))).toMatchObject({
        name: "cloud",
        backend: "daytona",
        sync_mode: "session-bidirectional",
        persistence: "transient",
        backend_config: { snapshot: "x", auto_stop: "30m" },
        source: file
      })
      expect(expectOk(yield* cli.run(["profile", "show", "cloud"])).stdout).toMatch(
        /^daytona:\s+snapshot=x, auto_stop=30m$/m
      )
    }), TIMEOUT)

  it.scoped(
    "credentials inside a URL are never printed: profile show, show -o json, list -o json",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          cloud.replace("snapshot =", "api_url = \"https://alice:tok-s3cret@daytona.example/api\"\nsnapshot =")
        )
        const shown = expectOk(yield* cli.run(["profile", "show", "cloud"]))
        expect(shown.stdout).toMatch(/^daytona:\s+api_url=https:\/\/\*\*\*@daytona\.example\/api, snapshot=x/m)
        const asJson = expectOk(yield* cli.run(["profile", "show", "cloud", "-o", "json"]))
        expect(json<ProfileJson>(asJson).backend_config).toMatchObject({ api_url: "https://***@daytona.example/api" })
        const listed = expectOk(yield* cli.run(["profile", "list", "-o", "json"]))
        // A URL the backend refuses is echoed in the error, without its credentials too.
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          cloud.replace("snapshot =", "api_url = \"ftp://alice:tok-s3cret@daytona.example/api\"\nsnapshot =")
        )
        const refused = yield* cli.run(["profile", "validate"])
        expect(expectError(refused, 2)).toContain("ftp://***@daytona.example/api")
        for (const output of [shown, asJson, listed, refused]) {
          expect(output.stdout + output.stderr).not.toContain("tok-s3cret")
          expect(output.stdout + output.stderr).not.toContain("alice")
        }
      }),
    TIMEOUT
  )

  it.scoped("an unknown key in the daytona table is a config error with a did-you-mean", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const file = yield* cli.write("cwd/cloud.toml", cloud.replace("snapshot =", "snapshott ="))
      const line = expectError(yield* cli.run(["profile", "validate", file]), 2)
      expect(line).toContain(`${file}:5:`)
      expect(line).toContain("sandboxes.cloud.daytona.snapshott")
      expect(line).toContain(`did you mean "snapshot"?`)
    }), TIMEOUT)

  // Daytona's create API has no sandbox class (its size comes from the snapshot or the resources), so a `class`
  // was accepted and never sent; it is refused like any key the backend does not know.
  it.scoped(
    "class in the daytona table is refused: one line naming the file, its line and the key",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const file = yield* cli.write("cwd/cloud.toml", cloud.replace("snapshot =", `class = "small"\nsnapshot =`))
        const refused = yield* cli.run(["profile", "validate", file])
        const line = expectError(refused, 2)
        expect(line).toContain(`${file}:5:`)
        expect(line).toContain("sandboxes.cloud.daytona.class")
        expect(line).toContain(`unknown key "class"`)
        expect(refused.stderr.trim().split("\n")).toHaveLength(1)
      }),
    TIMEOUT
  )

  it.scoped("a bad value in the daytona table names the key", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const file = yield* cli.write("cwd/cloud.toml", cloud.replace(`"30m"`, `"soon"`))
      const line = expectError(yield* cli.run(["profile", "validate", file]), 2)
      expect(line).toContain(`${file}:6:`)
      expect(line).toContain("sandboxes.cloud.daytona.auto_stop")
      expect(line).toContain(`"soon"`)
    }), TIMEOUT)

  it.scoped(
    "show prints a zod-validated backend table as the validator fills it in (defaults, transforms)",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        // A third party's Promise-form module, loaded by path as an outside user loads it, whose table is zod's.
        const zod = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve("zod/package.json")), "index.js"))
        const provider = yield* cli.write(
          "zoned-provider.mjs",
          `import { z } from ${JSON.stringify(zod.href)}
export const backend = "zoned"
export const contract_version = 1
export const configSchema = z.object({ region: z.string().default("eu"), size: z.string().transform(Number) }).strict()
export const provider = async () => { throw new Error("profile show builds no provider") }
`
        )
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[providers]\nzoned = "${provider}"\n\n[sandboxes.z]\nbackend = "zoned"\n\n[sandboxes.z.zoned]\nsize = "3"\n`
        )
        const shown = json<ProfileJson>(yield* cli.run(["profile", "show", "z", "-o", "json"]))
        expect(shown.backend_config).toEqual({ region: "eu", size: 3 })
        expect(expectOk(yield* cli.run(["profile", "show", "z"])).stdout).toMatch(/^zoned:\s+region=eu, size=3$/m)
      }),
    TIMEOUT
  )
})
