/**
 * Stopping and following (issue 12, items 5 and 7): a stopped command gets SIGTERM and time to clean up before
 * SIGKILL; followers of a session end when its supervisor dies; an attached ACP session returns after its turn;
 * Ctrl-C on an attached session says the session keeps running.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Fixture } from "./helpers.js"
import { expectOk, fixture, json, paths, poll } from "./helpers.js"

const TIMEOUT = 120_000
const agentScript = fileURLToPath(new URL("../../../test/acp-agent/agent.mjs", import.meta.url))

/**
 * A command that cleans up on SIGTERM or SIGINT, as a real tool's `trap` would, noting which signal it got, and says
 * when it is ready.
 */
const trapping = `trap 'echo term > cleaned.txt; exit 0' TERM; trap 'echo int > cleaned.txt; exit 0' INT; ` +
  `echo ready; echo up > up.txt; while :; do sleep 0.1; done`

/** A command whose cleanup takes 3 s: a grace of 1 s cuts it short. */
const slowTrap = `trap 'sleep 3; echo slow > slow.txt; exit 0' TERM INT; echo ready; echo up > up.txt; ` +
  `while :; do sleep 0.1; done`

interface Spawned {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run the CLI in the background; `onStdout` sees its output as it comes and may signal it. */
const background = (
  cli: Fixture,
  args: ReadonlyArray<string>,
  onStdout: (out: string, child: ReturnType<typeof spawn>) => void = () => {}
) =>
  Effect.promise(() =>
    new Promise<Spawned>((resolve) => {
      const child = spawn(process.execPath, [paths.launcher, ...args], {
        cwd: cli.cwd,
        env: cli.env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        onStdout(stdout, child)
      })
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
  )

const status = (cli: Fixture, id: string) =>
  Effect.map(
    cli.run(["session", "status", id, "-o", "json"]),
    (r) => json<{ state: string; supervisor: { pid: number | null; alive: boolean } }>(r)
  )

const newSession = (cli: Fixture, ...args: ReadonlyArray<string>) =>
  Effect.map(
    cli.run(["session", "new", "--workspace", "proj", "-o", "json", ...args]),
    (r) => json<{ id: string }>(r).id
  )

const project = (cli: Fixture, config = "") =>
  Effect.gen(function*() {
    const ws = yield* cli.mkdir("cwd/project")
    yield* cli.write("cwd/.sandbox-cli.toml", config)
    expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
    return ws
  })

layer(NodeContext.layer)("sandbox-cli stop and follow", (it) => {
  it.scoped(
    "Ctrl-C on run sends the command SIGINT and gives its trap time to clean up, and its work comes home",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        let signalled = false
        const result = yield* background(cli, ["run", "--", "sh", "-c", trapping], (out, child) => {
          if (!signalled && out.includes("ready")) {
            signalled = true
            child.kill("SIGINT")
          }
        })
        expect(result.code).toBe(130)
        expect(readFileSync(join(cli.cwd, "cleaned.txt"), "utf8")).toBe("int\n")
      }),
    TIMEOUT
  )

  it.scoped(
    "session stop gives the command's trap time to clean up; one that ignores SIGTERM is killed after stop_grace",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* project(cli, `[sandboxes.quick]\nbackend = "local"\nstop_grace = "1s"\n`)
        const id = yield* newSession(cli, "--", "sh", "-c", trapping)
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "up.txt"]), (r) => r.code === 0)
        expectOk(yield* cli.run(["session", "stop", id]))
        expect(readFileSync(join(ws, "cleaned.txt"), "utf8")).toBe("term\n")

        const stubborn = yield* newSession(
          cli,
          "--sandbox",
          "quick",
          "--",
          "sh",
          "-c",
          "trap '' TERM; echo up > up2.txt; while :; do sleep 0.1; done"
        )
        yield* poll(cli.run(["session", "exec", stubborn, "--", "cat", "up2.txt"]), (r) => r.code === 0)
        expectOk(yield* cli.run(["session", "stop", stubborn]))
        expect((yield* status(cli, stubborn)).state).toBe("stopped")
      }),
    TIMEOUT
  )

  it.scoped(
    "--grace overrides the profile's stop_grace for one stop, on session stop and run; a bad one is refused",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* project(cli, `[sandboxes.quick]\nbackend = "local"\nstop_grace = "1s"\n`)
        const bad = yield* cli.run(["session", "stop", "whatever", "--grace", "soon"])
        expect(bad.code).toBe(2)
        expect(bad.stderr.trim()).toBe(`error: --grace "soon": expected a duration such as "10s", "500ms" or "1m"`)

        const id = yield* newSession(cli, "--sandbox", "quick", "--", "sh", "-c", slowTrap)
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "up.txt"]), (r) => r.code === 0)
        expectOk(yield* cli.run(["session", "stop", id, "--grace", "30s"]))
        expect(readFileSync(join(ws, "slow.txt"), "utf8")).toBe("slow\n")

        let signalled = false
        const result = yield* background(
          cli,
          [
            "run",
            "--workspace",
            ws,
            "--profile",
            "quick",
            "--grace",
            "30s",
            "--",
            "sh",
            "-c",
            slowTrap.replace(
              "slow.txt",
              "slow-run.txt"
            )
          ],
          (out, child) => {
            if (!signalled && out.includes("ready")) {
              signalled = true
              child.kill("SIGINT")
            }
          }
        )
        expect(result.code).toBe(130)
        expect(readFileSync(join(ws, "slow-run.txt"), "utf8")).toBe("slow\n")
      }),
    TIMEOUT
  )

  it.scoped("Ctrl-C on session exec sends its command SIGINT and waits for its trap", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* project(cli)
      const id = yield* newSession(cli, "--", "sh", "-c", "echo started > started.txt; sleep 600")
      yield* poll(cli.run(["session", "exec", id, "--", "cat", "started.txt"]), (r) => r.code === 0)
      let signalled = false
      const exec = yield* background(cli, ["session", "exec", id, "--", "sh", "-c", trapping], (out, child) => {
        if (!signalled && out.includes("ready")) {
          signalled = true
          child.kill("SIGINT")
        }
      })
      expect(exec.code).toBe(130)
      expect(expectOk(yield* cli.run(["session", "exec", id, "--", "cat", "cleaned.txt"])).stdout).toBe("int\n")
      expectOk(yield* cli.run(["session", "stop", id]))
    }), TIMEOUT)

  it.scoped(
    "events --follow and new --attach end with an error once the supervisor is killed",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* project(cli)
        const id = yield* newSession(cli, "--", "sh", "-c", "echo up > up.txt; sleep 120")
        const running = yield* poll(status(cli, id), (s) => s.state === "running" && s.supervisor.alive)
        const pid = running.supervisor.pid!
        let killed = false
        // Start following, then kill the supervisor once the follower has printed something.
        const followed = yield* background(cli, ["session", "events", id, "--follow"], (out) => {
          if (!killed && out.includes("session.running")) {
            killed = true
            process.kill(pid, "SIGKILL")
          }
        })
        expect(followed.code).toBe(1)
        expect(followed.stderr).toMatch(/supervisor of session .* is gone .*sandbox-cli reconcile/)
        expect(followed.stderr.trimEnd().split("\n")).toHaveLength(1)

        let attachedKilled = false
        const attached = yield* background(
          cli,
          ["session", "new", "--workspace", "proj", "--attach", "--", "sh", "-c", "echo attached-up; sleep 120"],
          (out) => {
            if (attachedKilled || !out.includes("attached-up")) return
            attachedKilled = true
            const newId = out.split("\n")[0]!.trim()
            const lock = JSON.parse(readFileSync(join(cli.home, "supervisors", `${newId}.json`), "utf8"))
            process.kill(lock.pid, "SIGKILL")
          }
        )
        expect(attached.code).toBe(1)
        expect(attached.stderr).toMatch(/supervisor of session .* is gone/)
        // Finish what the killed supervisors left behind.
        expectOk(yield* cli.run(["reconcile"]))
      }),
    TIMEOUT
  )

  it.scoped("Ctrl-C on an attached session says it keeps running and exits 130", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* project(cli)
      let signalled = false
      const attached = yield* background(
        cli,
        ["session", "new", "--workspace", "proj", "--attach", "--", "sh", "-c", "echo attached-up; sleep 120"],
        (out, child) => {
          if (!signalled && out.includes("attached-up")) {
            signalled = true
            child.kill("SIGINT")
          }
        }
      )
      expect(attached.code).toBe(130)
      const id = attached.stdout.split("\n")[0]!.trim()
      expect(attached.stderr).toContain(`session ${id} keeps running; stop it with: sandbox-cli session stop ${id}`)
      expect((yield* status(cli, id)).state).toBe("running")
      expectOk(yield* cli.run(["session", "stop", id]))
    }), TIMEOUT)

  it.scoped(
    "new --attach with an ACP agent returns once its turn ends; the session waits for more prompts",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* project(
          cli,
          `[agents.scripted]\nprotocol = "acp"\ncommand = [${JSON.stringify(process.execPath)}, ${
            JSON.stringify(agentScript)
          }]\n`
        )
        const attached = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--agent",
          "scripted",
          "--prompt",
          "write hello.txt hi",
          "--attach"
        ])
        expect(attached.code).toBe(0)
        const id = attached.stdout.split("\n")[0]!.trim()
        expect(attached.stderr).toContain(`session ${id} waits for further prompts`)
        expect((yield* status(cli, id)).state).toBe("running")
        expectOk(yield* cli.run(["session", "stop", id]))
        expect(existsSync(join(cli.cwd, "project", "hello.txt"))).toBe(true)
      }),
    TIMEOUT
  )
})
