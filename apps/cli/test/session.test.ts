import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect, Schedule, TestServices } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Fixture } from "./helpers.js"
import { expectError, expectOk, fixture, json, poll } from "./helpers.js"

const TIMEOUT = 90_000

interface StatusJson {
  readonly id: string
  readonly state: string
  readonly exit_code: number | null
  readonly supervisor: { readonly pid: number | null; readonly alive: boolean }
  readonly sandbox: { readonly state: string; readonly instance_id: string | null }
}

interface FullStatusJson extends StatusJson {
  readonly workspace: string
  readonly agent: string | null
  readonly sandbox: {
    readonly sandbox_id: string
    readonly backend: string
    readonly profile: string
    readonly instance_id: string | null
    readonly state: string
    readonly sync: {
      readonly last_to_runtime_at: string | null
      readonly last_from_runtime_at: string | null
      readonly conflicts: ReadonlyArray<string>
    }
    readonly last_error: string | null
  }
}

const status = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r))

/** Poll the CLI (as a person would) until the session reaches a state. */
const waitFor = (cli: Fixture, id: string, states: ReadonlyArray<string>) =>
  status(cli, id).pipe(
    Effect.filterOrFail((s) => states.includes(s.state), () => "not yet"),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("60 seconds"))),
    // Polling waits on the real clock, not the test one.
    TestServices.provideLive
  )

layer(NodeContext.layer)("sandbox-cli session (durable, local provider)", (it) => {
  it.scoped(
    "new starts a detached supervisor; exec, sync, history, events and stop work on it",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/input.txt", "seeded\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const created = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "-o",
          "json",
          "--",
          "sh",
          "-c",
          "echo started; cat input.txt; echo data > out.txt; sleep 60"
        ])
        const { id } = json<{ id: string }>(created)
        expect(id).toMatch(/^ses_/)
        const running = yield* waitFor(cli, id, ["running"])
        expect(running.supervisor.alive).toBe(true)
        expect(running.supervisor.pid).toBeGreaterThan(0)
        expect(running.sandbox.instance_id).not.toBeNull()

        // out.txt is written right after start; poll through exec until it is there.
        const exec = yield* poll(cli.run(["session", "exec", id, "--", "cat", "out.txt"]), (r) =>
          r.code === 0, "20 seconds")
        expect(exec.stdout).toBe("data\n")
        expect(existsSync(join(ws, "out.txt"))).toBe(false)

        const synced = yield* cli.run(["session", "sync", id])
        expect(synced.code).toBe(0)
        expect(synced.stdout).toMatch(/synced: \d+ file\(s\) to the sandbox, 1 back/)
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("data\n")

        const history = (yield* cli.run(["session", "history", id])).stdout
        expect(history).toMatch(/stdout started$/m)
        expect(history).toMatch(/stdout seeded$/m)

        const stopped = yield* cli.run(["session", "stop", id, "-o", "json"])
        const final = json<StatusJson>(stopped)
        expect(final.state).toBe("stopped")
        expect(final.supervisor.alive).toBe(false)
        expect(final.sandbox.state).toBe("gone")
        expect(
          readdirSync(join(cli.home, "runtimes")).filter((n) =>
            !n.startsWith(".")
          )
        ).toEqual([])

        const followed = yield* cli.run(["session", "events", id, "--follow"])
        expect(followed.code).toBe(0)
        expect(followed.stdout).toContain("sandbox.sync.after")
        expect(followed.stdout.trim().split("\n").at(-1)).toContain("session.stopped")
        // stopping an ended session is idempotent: done already
        expect(expectOk(yield* cli.run(["session", "stop", id])).stdout).toContain("has already ended (stopped)")
      }),
    TIMEOUT
  )

  it.scoped(
    "--attach streams the output and exits with the command's code; agents come from config",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[agents.greeter]\ncommand = ["sh", "-c", "echo hello from the agent; exit 4"]\n`
        )
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const attached = yield* cli.run(["session", "new", "--workspace", "proj", "--agent", "greeter", "--attach"])
        expect(attached.code).toBe(4)
        const [id, ...rest] = attached.stdout.trim().split("\n")
        expect(id).toMatch(/^ses_/)
        expect(rest).toEqual(["hello from the agent"])
        const final = yield* status(cli, id!)
        expect(final.state).toBe("stopped")
        expect(final.exit_code).toBe(4)
        expect(expectError(yield* cli.run(["session", "new", "--workspace", "proj", "--agent", "nobody"]), 2))
          .toContain("unknown agent")
        expect(expectError(yield* cli.run(["session", "new", "--workspace", "proj"]), 2)).toContain("nothing to launch")
        expect(expectError(yield* cli.run(["session", "new", "--workspace", "nope", "--", "true"]), 2)).toContain(
          "no workspace"
        )
        expect(expectError(yield* cli.run(["session", "status", "ses_doesnotexist"]), 2)).toContain("no session")
      }),
    TIMEOUT
  )

  it.scoped(
    "status reports sync times and conflicts; events --last, stderr history and a denying hook",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/shared.txt", "base\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const created = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "-o",
          "json",
          "--",
          "sh",
          "-c",
          "echo oops >&2; echo runtime > shared.txt; echo done > marker; sleep 60"
        ])
        const { id } = json<{ id: string }>(created)
        yield* waitFor(cli, id, ["running"])
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "marker"]), (r) => r.code === 0, "20 seconds")
        // Both sides change the same file: the host keeps its version, the runtime's lands beside it.
        yield* cli.write("cwd/project/shared.txt", "host\n")
        const synced = yield* cli.run(["session", "sync", id])
        expect(synced.code).toBe(0)
        expect(synced.stdout).toContain("1 conflict(s): shared.txt")
        expect(readFileSync(join(ws, "shared.txt"), "utf8")).toBe("host\n")
        expect(readFileSync(join(ws, `shared.txt.sandbox-conflict-${id}`), "utf8")).toBe("runtime\n")

        const s = json<FullStatusJson>(yield* cli.run(["session", "status", id, "-o", "json"]))
        expect(s).toMatchObject({ id, workspace: "proj", state: "running", exit_code: null })
        expect(s.sandbox).toMatchObject({ backend: "local", profile: "local", state: "running", last_error: null })
        expect(s.sandbox.sandbox_id).toMatch(/^sbx_/)
        expect(s.sandbox.sync.conflicts).toEqual(["shared.txt"])
        expect(Date.parse(s.sandbox.sync.last_to_runtime_at!)).toBeGreaterThan(0)
        expect(Date.parse(s.sandbox.sync.last_from_runtime_at!)).toBeGreaterThan(0)

        const events = json<ReadonlyArray<{ seq: number; type: string }>>(
          yield* cli.run(["session", "events", id, "--last", "2", "-o", "json"])
        )
        expect(events).toHaveLength(2)
        expect(events[1]!.seq).toBe(events[0]!.seq + 1)
        expect(events.map((e) => e.type)).toContain("sandbox.sync.after")

        const history = (yield* cli.run(["session", "history", id])).stdout
        expect(history).toMatch(/stderr oops$/m)
        expectOk(yield* cli.run(["session", "stop", id]))

        // A [hooks] command that exits non-zero denies the prepare step: nothing starts, the reason is kept.
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[hooks.sandbox]\nprepare = ["sh", "-c", "cat > /dev/null; echo not today; exit 3"]\n`
        )
        const denied = yield* cli.run(["session", "new", "--workspace", "proj", "--attach", "--", "touch", "ran"])
        expect(denied.code).toBe(1)
        const deniedId = denied.stdout.trim().split("\n")[0]!
        const failed = json<FullStatusJson>(yield* cli.run(["session", "status", deniedId, "-o", "json"]))
        expect(failed.state).toBe("failed")
        expect(failed.sandbox.last_error).toContain("not today")
        expect(existsSync(join(ws, "ran"))).toBe(false)
      }),
    TIMEOUT
  )
})
