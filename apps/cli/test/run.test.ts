import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { expectError, fixture, json, paths } from "./helpers.js"

const TIMEOUT = 60_000

interface StatusJson {
  readonly id: string
  readonly state: string
  readonly exit_code: number | null
  readonly last_error: string | null
  readonly sandbox: {
    readonly sandbox_id: string
    readonly backend: string
    readonly instance_id: string | null
    readonly state: string
    readonly last_error: string | null
    readonly sync: {
      readonly last_to_runtime_at: string | null
      readonly last_from_runtime_at: string | null
      readonly conflicts: ReadonlyArray<string>
    }
  }
}

interface EventJson {
  readonly seq: number
  readonly type: string
  readonly attrs: Record<string, unknown>
}

/** The runtime directories (the provider keeps its metadata apart, in `.meta`). */
const runtimes = (home: string) =>
  existsSync(join(home, "runtimes")) ? readdirSync(join(home, "runtimes")).filter((n) => !n.startsWith(".")) : []

layer(NodeContext.layer)("sandbox-cli run (local provider)", (it) => {
  it.scoped(
    "streams output, brings changes home, destroys the transient runtime and exits with the command's code",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("cwd/existing.txt", "one\n")
        yield* cli.write("cwd/gone.txt", "bye\n")
        yield* cli.write("cwd/node_modules/dep/index.js", "module.exports = 1\n")
        const result = yield* cli.run([
          "run",
          "--",
          "sh",
          "-c",
          "echo out; echo err >&2; test ! -e node_modules || echo LEAK; echo new > created.txt; echo two >> existing.txt; rm gone.txt; exit 3"
        ])
        expect(result.code).toBe(3)
        expect(result.stdout).toBe("out\n")
        expect(result.stderr).toContain("err\n")
        expect(readFileSync(join(cli.cwd, "created.txt"), "utf8")).toBe("new\n")
        expect(readFileSync(join(cli.cwd, "existing.txt"), "utf8")).toBe("one\ntwo\n")
        expect(existsSync(join(cli.cwd, "gone.txt"))).toBe(false)
        expect(existsSync(join(cli.cwd, "node_modules/dep/index.js"))).toBe(true)
        expect(runtimes(cli.home)).toEqual([])

        const sessions = json<ReadonlyArray<StatusJson>>(yield* cli.run(["session", "list", "-o", "json"]))
        expect(sessions).toHaveLength(1)
        const id = sessions[0]!.id
        const status = json<StatusJson>(yield* cli.run(["session", "status", id, "-o", "json"]))
        expect(status.state).toBe("stopped")
        expect(status.exit_code).toBe(3)
        expect(status.sandbox.backend).toBe("local")
        expect(status.sandbox.state).toBe("gone")
        expect(status.sandbox.sync.last_to_runtime_at).not.toBeNull()
        expect(status.sandbox.sync.last_from_runtime_at).not.toBeNull()

        const events = json<ReadonlyArray<EventJson>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
        const syncs = events.filter((e) => e.type === "sandbox.sync.after").map((
          e
        ) => [e.attrs["direction"], e.attrs["reason"]])
        expect(syncs).toEqual([["to_runtime", "start"], ["from_runtime", "stop"]])
        expect(events.at(-1)?.type).toBe("session.stopped")

        const history = (yield* cli.run(["session", "history", id])).stdout
        expect(history).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stdout out$/m)
        expect(history).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stderr err$/m)
      }),
    TIMEOUT
  )

  it.scoped(
    "a failing setup command stops the session before the command, with the command and its output recorded",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.local]\nsetup = ["echo preparing", "echo setup-output; exit 5"]\n`
        )
        const result = yield* cli.run(["run", "--", "touch", "agent-ran"])
        expect(result.code).toBe(1)
        expect(result.stderr).toContain("exited 5")
        expect(existsSync(join(cli.cwd, "agent-ran"))).toBe(false)
        const [session] = json<ReadonlyArray<StatusJson>>(yield* cli.run(["session", "list", "-o", "json"]))
        const status = json<StatusJson>(yield* cli.run(["session", "status", session!.id, "-o", "json"]))
        expect(status.state).toBe("failed")
        expect(status.sandbox.last_error).toContain("echo setup-output; exit 5")
        expect(status.sandbox.last_error).toContain("setup-output")
        expect(status.last_error).toContain("setup-output")
        expect(runtimes(cli.home)).toEqual([])
      }),
    TIMEOUT
  )

  it.scoped("--keep keeps the runtime; sandbox list/info/exec reach it", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* cli.write("cwd/input.txt", "hello\n")
      expect((yield* cli.run(["run", "--keep", "--", "sh", "-c", "echo kept > runtime-only.txt"])).code).toBe(0)
      expect(runtimes(cli.home)).toHaveLength(1)
      const list = json<ReadonlyArray<{ sandbox_id: string; state: string }>>(
        yield* cli.run(["sandbox", "list", "-o", "json"])
      )
      expect(list).toHaveLength(1)
      const id = list[0]!.sandbox_id
      const exec = yield* cli.run(["sandbox", "exec", id, "--", "cat", "input.txt", "runtime-only.txt"])
      expect(exec.code).toBe(0)
      expect(exec.stdout).toBe("hello\nkept\n")
      const info = json<{ live_state: string }>(yield* cli.run(["sandbox", "info", id, "-o", "json"]))
      expect(info.live_state).toMatch(/^running/)
      expectError(yield* cli.run(["sandbox", "exec", "sbx_nope0000", "--", "true"]), 2)
    }), TIMEOUT)

  it.scoped(
    "persistence archive packs the runtime; reuse reattaches the next run to the same sandbox",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.arch]\nbackend = "local"\npersistence = "archive"\n\n[sandboxes.keep]\nbackend = "local"\npersistence = "reuse"\n`
        )
        expect((yield* cli.run(["run", "-p", "arch", "--", "true"])).code).toBe(0)
        expect(readdirSync(join(cli.home, "archives")).length).toBeGreaterThan(0)
        // node_modules is excluded from sync: it survives only in a reused runtime.
        expect(
          (yield* cli.run([
            "run",
            "-p",
            "keep",
            "--",
            "sh",
            "-c",
            "mkdir -p node_modules && echo cached > node_modules/marker"
          ])).code
        ).toBe(0)
        const second = yield* cli.run(["run", "-p", "keep", "--", "cat", "node_modules/marker"])
        expect(second.stdout).toBe("cached\n")
        const sessions = json<ReadonlyArray<StatusJson>>(yield* cli.run(["session", "list", "-o", "json"]))
        const kept = sessions.filter((s) => s.sandbox.state !== "archived" && s.sandbox.state !== "gone")
        expect(new Set(kept.map((s) => s.sandbox.sandbox_id)).size).toBe(1)
        expect(existsSync(join(cli.cwd, "node_modules"))).toBe(false)
      }),
    TIMEOUT
  )

  it.scoped("sync_mode none runs in the workspace itself", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.direct]\nbackend = "local"\nsync_mode = "none"\n`)
      const result = yield* cli.run(["run", "-p", "direct", "--", "sh", "-c", "pwd; echo direct > here.txt"])
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe(cli.cwd)
      expect(readFileSync(join(cli.cwd, "here.txt"), "utf8")).toBe("direct\n")
      expect(existsSync(cli.cwd)).toBe(true)
    }), TIMEOUT)

  it.scoped("Ctrl-C stops the command, brings its work home, cleans up and exits 130", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const result = yield* Effect.promise(() =>
        new Promise<{ code: number | null; stdout: string }>((resolve) => {
          const child = spawn(process.execPath, [
            paths.launcher,
            "run",
            "--",
            "sh",
            "-c",
            "echo partial > partial.txt; echo ready; sleep 60"
          ], {
            cwd: cli.cwd,
            env: cli.env,
            stdio: ["ignore", "pipe", "pipe"]
          })
          let stdout = ""
          child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString()
            if (stdout.includes("ready")) child.kill("SIGINT")
          })
          child.on("close", (code) => resolve({ code, stdout }))
        })
      )
      expect(result.code).toBe(130)
      expect(readFileSync(join(cli.cwd, "partial.txt"), "utf8")).toBe("partial\n")
      expect(runtimes(cli.home)).toEqual([])
    }), TIMEOUT)

  it.scoped(
    "bad input: nothing to run, unknown profile, a workspace that is not a directory",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        expect(expectError(yield* cli.run(["run"]), 2)).toContain("nothing to run")
        expect(expectError(yield* cli.run(["run", "-p", "nope", "--", "true"]), 2)).toContain("unknown profile")
        const file = yield* cli.write("plain-file", "x")
        expectError(yield* cli.run(["run", "--workspace", file, "--", "true"]), 2)
      }),
    TIMEOUT
  )
})
