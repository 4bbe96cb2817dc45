/**
 * `reconcile` finishes each session with the profile of its own workspace's configuration (as `session new`
 * started it), whatever the configuration of the directory it is run from says under the same name.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { expectOk, fixture, json, poll } from "./helpers.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 120_000

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}

layer(NodeContext.layer)("sandbox-cli reconcile and the workspace's config", (it) => {
  it.scoped(
    "a crashed session is finished with its workspace's profile, not the current directory's of the same name",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const rootA = join(cli.tmp, "roots-a")
        const rootB = join(cli.tmp, "roots-b")
        const box = (root: string) => `[sandboxes.box]\nbackend = "local"\nruntime_root = ${JSON.stringify(root)}\n`
        // The workspace's own config, and another one of the same profile name where the CLI is run.
        yield* cli.write("proj/.sandbox-cli.toml", box(rootA))
        yield* cli.write("cwd/.sandbox-cli.toml", box(rootB))
        const ws = yield* cli.mkdir("proj/work")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "box"]))
        const id = yield* shellSession(cli, "proj", "echo made > made.txt; sleep 600")
        const running = yield* poll(
          cli.run(["session", "status", id, "-o", "json"]),
          (r) => r.code === 0 && json<{ state: string }>(r).state === "running"
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "made.txt"]), (r) => r.code === 0)
        expect(readdirSync(rootA).filter((n) => !n.startsWith("."))).toHaveLength(1)
        const pid = json<{ supervisor: { pid: number } }>(running).supervisor.pid
        process.kill(pid, "SIGKILL")
        yield* poll(Effect.sync(() => isAlive(pid)), (alive) => !alive)

        const reconciled = json<{ actions: ReadonlyArray<{ session_id: string; decision: string; status: string }> }>(
          expectOk(yield* cli.run(["reconcile", "-o", "json"]))
        )
        // the startup check may have finished it already; either way it was finished, not forgotten
        const finished = reconciled.actions.filter((a) => a.session_id === id)
        for (const a of finished) expect([a.decision, a.status]).toEqual(["finish", "done"])
        const final = json<{ state: string }>(expectOk(yield* cli.run(["session", "status", id, "-o", "json"])))
        expect(final.state).toBe("crashed")
        expect(readFileSync(join(ws, "made.txt"), "utf8")).toBe("made\n")
        // its runtime (transient) is gone from the workspace's runtime root; the other root was never used
        expect(readdirSync(rootA).filter((n) => !n.startsWith("."))).toEqual([])
        expect(existsSync(rootB) ? readdirSync(rootB).filter((n) => !n.startsWith(".")) : []).toEqual([])
      }),
    TIMEOUT
  )
})
