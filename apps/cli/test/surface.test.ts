/**
 * The CLI's surface (issue 12, items 9, 8 second half, 11, 12, 13): config from the workspace, settings that would
 * do nothing refused, `sandbox start`/`sandbox rm`, JSON and error shapes, help without colour.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Fixture } from "./helpers.js"
import { expectError, expectOk, fixture, json, paths, poll } from "./helpers.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 90_000

interface SandboxJson {
  readonly sandbox_id: string
  readonly state: string
  readonly profile: string
}

const sandboxes = (cli: Fixture, ...extra: ReadonlyArray<string>) =>
  Effect.map(cli.run(["sandbox", "list", "-o", "json", ...extra]), (r) => json<ReadonlyArray<SandboxJson>>(r))

/** A workspace directory holding `config` as its `.sandbox-cli.toml`. */
const workspaceWith = (cli: Fixture, dir: string, config: string) =>
  Effect.gen(function*() {
    const ws = yield* cli.mkdir(dir)
    yield* cli.write(`${dir}/.sandbox-cli.toml`, config)
    yield* cli.write(`${dir}/input.txt`, "seeded\n")
    return ws
  })

layer(NodeContext.layer)("sandbox-cli surface", (it) => {
  it.scoped("help carries no ANSI colour when piped, nor with NO_COLOR", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      for (const env of [{ NO_COLOR: undefined }, { NO_COLOR: "1" }]) {
        const help = expectOk(yield* cli.run(["session", "--help"], { env }))
        expect(help.stdout).toContain("sandbox-cli")
        expect(help.stdout).not.toMatch(/\x1b\[/)
      }
      const wrong = yield* cli.run(["run", "--bogus-flag"], { env: { NO_COLOR: undefined } })
      expect(wrong.stderr).not.toMatch(/\x1b\[/)
    }), TIMEOUT)

  it.scoped("a wrong subcommand of a group lists that group's subcommands", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const line = expectError(yield* cli.run(["session", "bogus"]), 2)
      expect(line).toContain("session")
      for (const sub of ["new", "stop", "prompt", "events"]) expect(line).toContain(`'${sub}'`)
      expect(line).not.toContain("'workspace'")
      const sandbox = expectError(yield* cli.run(["sandbox", "bogus"]), 2)
      for (const sub of ["list", "start", "rm"]) expect(sandbox).toContain(`'${sub}'`)
    }), TIMEOUT)

  it.scoped("events --last takes 1 or more", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      for (const n of ["0", "-1"]) {
        expect(expectError(yield* cli.run(["session", "events", "ses_x", "--last", n]), 2)).toContain("--last")
      }
    }), TIMEOUT)

  it.scoped(
    "every config problem is reported, one line each; --verbose adds the details",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.a]\nbackend = "local"\nbogus = 1\n\n[sandboxes.b]\nbackend = "local"\npersistence = "forever"\n`
        )
        const result = yield* cli.run(["profile", "validate"])
        expect(result.code).toBe(2)
        const lines = result.stderr.trimEnd().split("\n")
        expect(lines).toHaveLength(2)
        expect(lines[0]).toMatch(/^config error: .*:3: key sandboxes\.a\.bogus/)
        expect(lines[1]).toMatch(/^config error: .*:7: key sandboxes\.b\.persistence/)
        const verbose = yield* cli.run(["profile", "validate", "--verbose"])
        expect(verbose.stderr.trimEnd().split("\n").length).toBeGreaterThan(2)
        expect(verbose.stderr).toContain(`"key_path":"sandboxes.a.bogus"`)
      }),
    TIMEOUT
  )

  it.scoped(
    "settings that would do nothing are refused: network without bubblewrap, resources on local; live is taken",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const cases: ReadonlyArray<readonly [string, RegExp]> = [
          [`network = false`, /sandboxes\.p\.network.*bubblewrap/],
          [`resources = { cpu = 2 }`, /sandboxes\.p\.resources.*no resources for backend local/]
        ]
        for (const [line, expected] of cases) {
          yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.p]\nbackend = "local"\n${line}\n`)
          expect(expectError(yield* cli.run(["profile", "validate"]), 2)).toMatch(expected)
        }
        yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.p]\nbackend = "local"\nsync_mode = "live"\n`)
        expectOk(yield* cli.run(["profile", "validate"]))
        // With bubblewrap, no network is a real setting.
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.p]\nbackend = "local"\nisolation = "bubblewrap"\nnetwork = false\n`
        )
        expectOk(yield* cli.run(["profile", "validate"]))
      }),
    TIMEOUT
  )

  it.scoped(
    "profile show tells the truth: local has the host's network; the default excludes are shown",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        type Shown = { backend_config: { network: boolean }; default_excludes: ReadonlyArray<string> }
        const local = json<Shown>(yield* cli.run(["profile", "show", "local", "-o", "json"]))
        expect(local.backend_config).toEqual({ isolation: "none", network: true })
        expect(local.default_excludes).toEqual(expect.arrayContaining([".git/", "node_modules/"]))
        const text = expectOk(yield* cli.run(["profile", "show", "local"])).stdout
        expect(text).toMatch(/^local: +isolation=none, network=true$/m)
        expect(text).toMatch(/^default excludes: +\.git\/, node_modules\//m)
        yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.jail]\nbackend = "local"\nisolation = "bubblewrap"\n`)
        const jail = json<Shown>(yield* cli.run(["profile", "show", "jail", "-o", "json"]))
        expect(jail.backend_config.network).toBe(false)
      }),
    TIMEOUT
  )

  it.scoped(
    "a registered workspace's config comes from its directory; relative hook paths from the file's",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* workspaceWith(
          cli,
          "project",
          [
            `[defaults]`,
            `sandbox = "mine"`,
            `[sandboxes.mine]`,
            `backend = "local"`,
            `[hooks.sandbox]`,
            `prepare = ["./hooks/prepare.sh"]`,
            ``
          ].join("\n")
        )
        yield* cli.write("project/hooks/prepare.sh", `#!/bin/sh\necho ran > "${join(ws, "..", "hook-ran")}"\n`)
        yield* Effect.promise(() =>
          import("node:fs/promises").then((f) => f.chmod(join(ws, "hooks/prepare.sh"), 0o755))
        )
        // The shell's directory has a config of its own that must not be used.
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[defaults]\nsandbox = "other"\n[sandboxes.other]\nbackend = "local"\n`
        )
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const info = json<{ profile: { name: string } }>(yield* cli.run(["workspace", "info", "proj", "-o", "json"]))
        expect(info.profile.name).toBe("mine")
        const created = json<{ id: string }>(
          yield* cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", "true"])
        )
        const ended = yield* poll(
          Effect.map(
            cli.run(["session", "status", created.id, "-o", "json"]),
            (r) => json<{ state: string; sandbox: { profile: string } }>(r)
          ),
          (s) => ["stopped", "failed"].includes(s.state)
        )
        expect(ended).toMatchObject({ state: "stopped", sandbox: { profile: "mine" } })
        expect(readFileSync(join(ws, "..", "hook-ran"), "utf8")).toBe("ran\n")
      }),
    TIMEOUT
  )

  it.scoped("an archived sandbox starts again; exec -o json gives exit code and output", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* workspaceWith(cli, "cwd", `[sandboxes.arch]\nbackend = "local"\npersistence = "archive"\n`)
      expectOk(yield* cli.run(["run", "-p", "arch", "--", "sh", "-c", "echo made > made.txt"]))
      const [sbx] = yield* sandboxes(cli)
      expect(sbx).toMatchObject({ profile: "arch", state: "archived" })
      expect(expectError(yield* cli.run(["sandbox", "exec", sbx!.sandbox_id, "--", "true"]), 2)).toContain(
        `sandbox-cli sandbox start ${sbx!.sandbox_id}`
      )
      const started = json<{ state: string }>(yield* cli.run(["sandbox", "start", sbx!.sandbox_id, "-o", "json"]))
      expect(started.state).toBe("running")
      const exec = yield* cli.run([
        "sandbox",
        "exec",
        sbx!.sandbox_id,
        "-o",
        "json",
        "--",
        "sh",
        "-c",
        "cat made.txt; echo warn >&2; exit 3"
      ])
      expect(exec.code).toBe(3)
      expect(JSON.parse(exec.stdout)).toEqual({ exit_code: 3, stdout: "made\n", stderr: "warn\n" })
    }), TIMEOUT)

  it.scoped(
    "sandbox rm refuses a sandbox that may hold work not home unless --discard; list hides removed ones",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* workspaceWith(
          cli,
          "cwd",
          `[sandboxes.seedonly]\nbackend = "local"\nsync_mode = "seed"\npersistence = "archive"\n`
        )
        expectOk(yield* cli.run(["run", "-p", "seedonly", "--", "sh", "-c", "echo work > work.txt"]))
        const [sbx] = yield* sandboxes(cli)
        const refused = expectError(yield* cli.run(["sandbox", "rm", sbx!.sandbox_id]), 2)
        expect(refused).toContain("--discard")
        expect(existsSync(join(cli.cwd, "work.txt"))).toBe(false)
        expect((yield* sandboxes(cli)).map((s) => s.state)).toEqual(["archived"])
        const removed = json<{ state: string; discarded: boolean }>(
          yield* cli.run(["sandbox", "rm", sbx!.sandbox_id, "--discard", "-o", "json"])
        )
        expect(removed).toEqual({ sandbox_id: sbx!.sandbox_id, state: "gone", discarded: true })
        expect(yield* sandboxes(cli)).toEqual([])
        expect((yield* sandboxes(cli, "--all")).map((s) => s.state)).toEqual(["gone"])
        expect(expectOk(yield* cli.run(["sandbox", "list"])).stdout).toContain("--all")
      }),
    TIMEOUT
  )

  it.scoped("session sync -o json and session status give conflicts the same shape", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const ws = yield* cli.mkdir("project")
      yield* cli.write("project/shared.txt", "base\n")
      expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
      const id = yield* shellSession(cli, "proj", "echo runtime > shared.txt; echo done > marker; sleep 60")
      yield* poll(cli.run(["session", "exec", id, "--", "cat", "marker"]), (r) => r.code === 0, "30 seconds")
      yield* cli.write("project/shared.txt", "host\n")
      const synced = json<{ conflicts: unknown; conflict_details: ReadonlyArray<{ path: string }> }>(
        yield* cli.run(["session", "sync", id, "-o", "json"])
      )
      const status = json<{ sandbox: { sync: { conflicts: unknown } } }>(
        yield* cli.run(["session", "status", id, "-o", "json"])
      )
      expect(synced.conflicts).toEqual(["shared.txt"])
      expect(status.sandbox.sync.conflicts).toEqual(synced.conflicts)
      expect(synced.conflict_details[0]!.path).toBe("shared.txt")
      const exec = yield* cli.run(["session", "exec", id, "-o", "json", "--", "cat", "shared.txt"])
      expect(JSON.parse(exec.stdout)).toEqual({ exit_code: 0, stdout: "runtime\n", stderr: "" })
      expectOk(yield* cli.run(["session", "stop", id]))
    }), TIMEOUT)

  it.scoped("the README names every command and option that --help lists", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const readme = readFileSync(join(paths.root, "README.md"), "utf8")
      const help = expectOk(yield* cli.run(["--help"])).stdout
      const missing: Array<string> = []
      // Built-in options are lines of their own; every command is a "  - words [options] <ARGS>  description" line.
      for (const [, option] of help.matchAll(/^(--[a-z][a-z-]*)/gm)) {
        if (!readme.includes(option!)) missing.push(option!)
      }
      for (const [, words, usage] of help.matchAll(/^ {2}- ([a-z][a-z ]*?)(?= [[<(-]| {2}|$)(.*)$/gm)) {
        if (!readme.includes(`sandbox-cli ${words}`)) missing.push(`sandbox-cli ${words}`)
        const options = (usage ?? "").split(/ {2,}/)[0]!.matchAll(/--[a-z][a-z-]*/g)
        for (const [option] of options) if (!readme.includes(option)) missing.push(`${words} ${option}`)
      }
      expect(missing).toEqual([])
    }), TIMEOUT)
})
