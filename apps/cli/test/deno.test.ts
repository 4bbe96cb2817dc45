import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { DoctorJson, ProfileJson, WorkspaceJson } from "./helpers.js"
import { check, expectError, expectOk, fixture, json, poll, version } from "./helpers.js"
import { shellSession } from "./sessions.js"

// Deno compiles the bundle on its first run in a fresh cache.
const TIMEOUT = 60_000

layer(NodeContext.layer)("sandbox-cli on Deno (the bundle run directly)", (it) => {
  it.scoped("--version prints the package version", () =>
    Effect.gen(function*() {
      const cli = yield* fixture("deno")
      expect(expectOk(yield* cli.run(["--version"])).stdout).toBe(`${version}\n`)
    }), TIMEOUT)

  it.scoped("--help lists the command groups", () =>
    Effect.gen(function*() {
      const cli = yield* fixture("deno")
      const { stdout } = expectOk(yield* cli.run(["--help"]))
      for (const group of ["profile", "workspace", "doctor"]) expect(stdout).toContain(`- ${group}`)
    }), TIMEOUT)

  it.scoped("profile list -o json holds the built-in local profile", () =>
    Effect.gen(function*() {
      const cli = yield* fixture("deno")
      const profiles = json<Array<ProfileJson>>(yield* cli.run(["profile", "list", "-o", "json"]))
      expect(profiles.find((p) => p.name === "local")).toMatchObject({
        backend: "local",
        sync_mode: "session-bidirectional",
        persistence: "transient"
      })
    }), TIMEOUT)

  it.scoped("profile validate accepts a valid file and rejects a bad one on one line", () =>
    Effect.gen(function*() {
      const cli = yield* fixture("deno")
      const good = yield* cli.write(
        "cwd/good.toml",
        `[sandboxes.cloud]\nbackend = "daytona"\n\n[sandboxes.cloud.daytona]\nauto_stop = "30m"\n`
      )
      expect(expectOk(yield* cli.run(["profile", "validate", good])).stdout).toBe(
        `ok: ${good} (2 profiles, 0 agents)\n`
      )
      const bad = yield* cli.write("cwd/bad.toml", `[sandboxes.d]\nbackend = "local"\nsync_mod = "live"\n`)
      const line = expectError(yield* cli.run(["profile", "validate", bad]), 2)
      expect(line).toContain(`${bad}:3:`)
      expect(line).toContain(`did you mean "sync_mode"?`)
    }), TIMEOUT)

  it.scoped("workspace add, list, info and remove", () =>
    Effect.gen(function*() {
      const cli = yield* fixture("deno")
      const dir = yield* cli.mkdir("cwd/project")
      expect(json<WorkspaceJson>(yield* cli.run(["workspace", "add", "project", "--name", "p", "-o", "json"])))
        .toMatchObject({ name: "p", path: dir })
      expect(json<Array<WorkspaceJson>>(yield* cli.run(["workspace", "list", "-o", "json"])).map((w) => w.name))
        .toEqual(["p"])
      const info = json<{ workspace: WorkspaceJson; profile: ProfileJson }>(
        yield* cli.run(["workspace", "info", "p", "-o", "json"])
      )
      expect(info.workspace.path).toBe(dir)
      expect(info.profile.name).toBe("local")
      expectError(yield* cli.run(["workspace", "add", dir, "--name", "p"]), 2)
      expect(json(yield* cli.run(["workspace", "remove", "p", "-o", "json"]))).toEqual({ removed: "p" })
      expect(json(yield* cli.run(["workspace", "list", "-o", "json"]))).toEqual([])
    }), TIMEOUT)

  it.scoped("doctor -o json says Deno", () =>
    Effect.gen(function*() {
      const cli = yield* fixture("deno")
      const report = json<DoctorJson>(yield* cli.run(["doctor", "-o", "json"]))
      expect(check(report, "runtime").status).toBe("ok")
      expect(check(report, "runtime").detail).toMatch(/^Deno \d+\.\d+\.\d+/)
      expect(check(report, "state_dir")).toMatchObject({ status: "ok", detail: `${cli.home} (writable)` })
      expect(check(report, "daytona.api_key").status).toBe("warn")
    }), TIMEOUT)

  it.scoped(
    "run brings the command's work home and session new/stop run a detached supervisor",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture("deno")
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/in.txt", "in\n")
        const ran = yield* cli.run([
          "run",
          "--workspace",
          ws,
          "--",
          "sh",
          "-c",
          "cat in.txt; echo out > out.txt; exit 3"
        ])
        expect(ran.code).toBe(3)
        expect(ran.stdout).toBe("in\n")
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("out\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "p"]))
        const id = yield* shellSession(cli, "p", "echo later > later.txt; sleep 60")
        const polled = yield* poll(cli.run(["session", "exec", id, "--", "cat", "later.txt"]), (r) =>
          r.code === 0, "40 seconds")
        expect(polled.stdout).toBe("later\n")
        const stopped = json<{ state: string }>(yield* cli.run(["session", "stop", id, "-o", "json"]))
        expect(stopped.state).toBe("stopped")
        expect(readFileSync(join(ws, "later.txt"), "utf8")).toBe("later\n")
      }),
    120_000
  )

  it.scoped(
    "session sync after one new host file sends it and brings nothing home (Deno's millisecond stats)",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture("deno")
        const ws = yield* cli.mkdir("cwd/project")
        for (let i = 0; i < 6; i++) yield* cli.write(`cwd/project/f${i}.txt`, `${i}\n`)
        yield* cli.write("cwd/project/sub/a.txt", "a\n")
        const inodes = () => [0, 1, 2, 3, 4, 5].map((i) => statSync(join(ws, `f${i}.txt`)).ino)
        const before = inodes()
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "p"]))
        const { id } = json<{ id: string }>(
          yield* cli.run(["session", "new", "--workspace", "p", "-o", "json", "--", "sleep", "60"])
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "sub/a.txt"]), (r) => r.code === 0, "40 seconds")
        writeFileSync(join(ws, "new.txt"), "new\n")
        const synced = json<{ files_to_runtime: number; files_from_runtime: number }>(
          yield* cli.run(["session", "sync", id, "-o", "json"])
        )
        expect(synced).toMatchObject({ files_to_runtime: 1, files_from_runtime: 0 })
        // the host files were not rewritten by copies of themselves
        expect(inodes()).toEqual(before)
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    120_000
  )

  it.scoped(
    "run with a daytona profile: the SDK under Deno uploads and downloads through the emulator",
    () =>
      Effect.gen(function*() {
        const emu = yield* scopedEmulator({ apiKey: "deno-key" })
        const cli = yield* fixture("deno")
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.cloud]\nbackend = "daytona"\n[sandboxes.cloud.daytona]\napi_url = "${emu.url}"\n`
        )
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/in.txt", "in\n")
        const ran = yield* cli.run(
          ["run", "--profile", "cloud", "--workspace", ws, "--", "sh", "-c", "cat in.txt; echo out > out.txt"],
          { env: { DAYTONA_API_KEY: "deno-key" } }
        )
        expect(expectOk(ran).stdout).toBe("in\n")
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("out\n")
        expect(emu.sandboxes().filter((s) => s.state !== "destroyed")).toEqual([])
      }),
    120_000
  )
})
