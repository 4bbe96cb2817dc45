/**
 * A runtime wiped behind the session's back (emptied, reset, recreated) never deletes the host's files, and the
 * session it halts can still end: `--force` on `run`, `session stop` and `reconcile ID` lets it finish with the
 * host keeping every file.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Fixture } from "./helpers.js"
import { expectOk, fixture, json, poll } from "./helpers.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 120_000

/** Empties the directory it runs in, dotfiles too. */
const wipe = "rm -rf ./* ./.[!.]* 2>/dev/null; true"

interface StatusJson {
  readonly state: string
  readonly sandbox: { readonly state: string; readonly kept: string | null }
}

const status = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r))

const hostFiles = (dir: string) => readdirSync(dir).filter((n) => n !== ".sandbox-cli.toml").sort()

layer(NodeContext.layer)("sandbox-cli and a wiped runtime", (it) => {
  it.scoped(
    "run halts and keeps the sandbox; reconcile --force ID and run --force finish, the host intact",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("cwd/a.txt", "a\n")
        yield* cli.write("cwd/b.txt", "b\n")
        const halted = yield* cli.run(["run", "-o", "json", "--", "sh", "-c", wipe])
        expect(halted.code).toBe(1)
        expect(halted.stderr).toContain("looks reset or recreated")
        const { session_id } = JSON.parse(halted.stdout) as { session_id: string }
        expect((yield* status(cli, session_id)).sandbox.kept).toBe("unsynced")
        expect(hostFiles(cli.cwd)).toEqual(["a.txt", "b.txt"])

        const reconciled = json<{ actions: ReadonlyArray<{ status: string }> }>(
          expectOk(yield* cli.run(["reconcile", "--force", session_id, "-o", "json"]))
        )
        expect(reconciled.actions.map((a) => a.status)).toEqual(["done"])
        expect((yield* status(cli, session_id)).sandbox.state).toBe("gone")
        expect(hostFiles(cli.cwd)).toEqual(["a.txt", "b.txt"])

        const forced = yield* cli.run(["run", "--force", "-o", "json", "--", "sh", "-c", wipe])
        expect(forced.code, forced.stderr).toBe(0)
        expect((yield* status(cli, json<{ session_id: string }>(forced).session_id)).sandbox.state).toBe("gone")
        expect(hostFiles(cli.cwd)).toEqual(["a.txt", "b.txt"])
        expect(readFileSync(join(cli.cwd, "a.txt"), "utf8")).toBe("a\n")
      }),
    TIMEOUT
  )

  it.scoped(
    "session stop halts on a wiped runtime; session stop --force ends it, the host intact",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/a.txt", "a\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const id = yield* shellSession(cli, "proj", `${wipe}; sleep 600`)
        yield* poll(cli.run(["session", "exec", id, "--", "ls", "-A"]), (r) => r.code === 0 && r.stdout === "")
        const halted = yield* cli.run(["session", "stop", id])
        expect(halted.stdout + halted.stderr).toContain("looks reset or recreated")
        expect((yield* status(cli, id)).sandbox.kept).toBe("unsynced")
        expectOk(yield* cli.run(["session", "stop", "--force", id]))
        expect((yield* status(cli, id)).sandbox.state).toBe("gone")
        expect(hostFiles(ws)).toEqual(["a.txt"])

        // --force on the running session itself: it ends at once, stopped, the host intact
        const again = yield* shellSession(cli, "proj", `${wipe}; sleep 600`)
        yield* poll(cli.run(["session", "exec", again, "--", "ls", "-A"]), (r) => r.code === 0 && r.stdout === "")
        expectOk(yield* cli.run(["session", "stop", "--force", again]))
        expect(yield* status(cli, again)).toMatchObject({ state: "stopped", sandbox: { state: "gone" } })
        expect(hostFiles(ws)).toEqual(["a.txt"])
      }),
    TIMEOUT
  )
})
