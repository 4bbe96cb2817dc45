import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { ProfileJson, WorkspaceJson } from "./helpers.js"
import { expectError, expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 30_000

const config = `[defaults]
sandbox = "fast"

[sandboxes.fast]
backend = "local"
persistence = "archive"

[sandboxes.other]
backend = "local"
sync_mode = "seed"
`

interface InfoJson {
  readonly workspace: WorkspaceJson
  readonly profile: ProfileJson
}

layer(NodeContext.layer)("sandbox-cli workspace", (it) => {
  it.scoped("add, list, info, edit and remove round trip as JSON", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* cli.write("cwd/.sandbox-cli.toml", config)
      const one = yield* cli.mkdir("cwd/one")
      // Below the config's directory: a registered workspace's config is found from its own directory.
      const two = yield* cli.mkdir("cwd/two")

      // a relative PATH is resolved against the cwd
      const added = json<WorkspaceJson>(yield* cli.run(["workspace", "add", "one", "--name", "w1", "-o", "json"]))
      expect(added).toMatchObject({ name: "w1", path: one })
      expect(added).not.toHaveProperty("sandbox")
      expect(Number.isNaN(Date.parse(added.created_at))).toBe(false)
      expect(added.updated_at).toBe(added.created_at)
      expect(
        json<WorkspaceJson>(
          yield* cli.run(["workspace", "add", two, "--name", "w2", "--sandbox", "other", "-o", "json"])
        )
      )
        .toMatchObject({ name: "w2", path: two, sandbox: "other" })

      const listed = json<Array<WorkspaceJson>>(yield* cli.run(["workspace", "list", "-o", "json"]))
      expect(listed.map((w) => [w.name, w.path, w.sandbox])).toEqual([["w1", one, undefined], ["w2", two, "other"]])

      // resolution: the workspace's own sandbox beats [defaults] sandbox, which beats the built-in local
      const info1 = json<InfoJson>(yield* cli.run(["workspace", "info", "w1", "-o", "json"]))
      expect(info1.workspace).toEqual(added)
      expect(info1.profile).toMatchObject({ name: "fast", backend: "local", persistence: "archive" })
      const info2 = json<InfoJson>(yield* cli.run(["workspace", "info", "w2", "-o", "json"]))
      expect(info2.profile).toMatchObject({ name: "other", sync_mode: "seed", persistence: "transient" })
      expect(expectOk(yield* cli.run(["workspace", "info", "w2"])).stdout).toMatch(
        /^sandbox:\s+other \(workspace; backend local, seed, transient\)$/m
      )
      expect(expectOk(yield* cli.run(["workspace", "info", "w1"])).stdout).toMatch(/^sandbox:\s+fast \(default;/m)

      const edited = json<WorkspaceJson>(
        yield* cli.run(["workspace", "edit", "w1", "--sandbox", "other", "-o", "json"])
      )
      expect(edited).toMatchObject({ name: "w1", path: one, sandbox: "other", created_at: added.created_at })
      expect(json<InfoJson>(yield* cli.run(["workspace", "info", "w1", "-o", "json"])).profile.name).toBe("other")

      expect(json(yield* cli.run(["workspace", "remove", "w1", "-o", "json"]))).toEqual({ removed: "w1" })
      expect(json<Array<WorkspaceJson>>(yield* cli.run(["workspace", "list", "-o", "json"])).map((w) => w.name))
        .toEqual(["w2"])
      expectError(yield* cli.run(["workspace", "info", "w1"]), 2)
      expectError(yield* cli.run(["workspace", "remove", "w1"]), 2)
    }), TIMEOUT)

  it.scoped("text output: add, list and remove", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expect(expectOk(yield* cli.run(["workspace", "list"])).stdout).toContain("no workspaces")
      expect(expectOk(yield* cli.run(["workspace", "add", ".", "--name", "here"])).stdout).toBe(
        `added workspace here → ${cli.cwd}\n`
      )
      expect(expectOk(yield* cli.run(["workspace", "list"])).stdout).toMatch(/^here\s+-\s+/m)
      expect(expectOk(yield* cli.run(["workspace", "remove", "here"])).stdout).toContain("removed workspace here")
    }), TIMEOUT)

  it.scoped("add of a missing directory is a usage error", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expect(expectError(yield* cli.run(["workspace", "add", "nowhere", "--name", "w"]), 2)).toContain("nowhere")
      expect(json<Array<WorkspaceJson>>(yield* cli.run(["workspace", "list", "-o", "json"]))).toEqual([])
    }), TIMEOUT)

  it.scoped("add of a name that is taken is a usage error on one line", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expectOk(yield* cli.run(["workspace", "add", ".", "--name", "w"]))
      const other = yield* cli.mkdir("other")
      const line = expectError(yield* cli.run(["workspace", "add", other, "--name", "w"]), 2)
      expect(line).toContain(`"w" already exists`)
      const listed = json<Array<WorkspaceJson>>(yield* cli.run(["workspace", "list", "-o", "json"]))
      expect(listed.map((w) => [w.name, w.path])).toEqual([["w", cli.cwd]])
    }), TIMEOUT)

  it.scoped("add with an invalid name or an unknown profile is a usage error", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expect(expectError(yield* cli.run(["workspace", "add", ".", "--name", "../escape"]), 2)).toContain(
        "invalid workspace name"
      )
      expect(expectError(yield* cli.run(["workspace", "add", ".", "--name", "w", "--sandbox", "nope"]), 2)).toContain(
        `"nope"`
      )
      expect(json<Array<WorkspaceJson>>(yield* cli.run(["workspace", "list", "-o", "json"]))).toEqual([])
    }), TIMEOUT)

  it.scoped("info of an unknown workspace is a usage error on one line", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expect(expectError(yield* cli.run(["workspace", "info", "nope"]), 2)).toContain(`no workspace named "nope"`)
    }), TIMEOUT)

  it.scoped("edit to an unknown profile is a usage error and changes nothing", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      expectOk(yield* cli.run(["workspace", "add", ".", "--name", "w"]))
      const line = expectError(yield* cli.run(["workspace", "edit", "w", "--sandbox", "unknown"]), 2)
      expect(line).toContain(`unknown profile "unknown"`)
      expect(json<InfoJson>(yield* cli.run(["workspace", "info", "w", "-o", "json"])).workspace).not.toHaveProperty(
        "sandbox"
      )
      expectError(yield* cli.run(["workspace", "edit", "nope", "--sandbox", "local"]), 2)
    }), TIMEOUT)
})
