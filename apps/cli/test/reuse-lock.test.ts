/**
 * Two live sessions of one workspace never share its reusable sandbox (issue 12, item 4): while one session runs
 * in the kept sandbox, another `session new` of that workspace ends failed at once, naming the session that holds
 * it and how to free it; the running session is untouched. On the local backend and on the Daytona emulator.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Fixture } from "./helpers.js"
import { expectOk, fixture, json, poll } from "./helpers.js"

const TIMEOUT = 240_000
const KEY = "e2e-reuse-lock-key"

interface StatusJson {
  readonly state: string
  readonly reason: string | null
  readonly sandbox: { readonly sandbox_id: string }
}

const scenario = (cli: Fixture, config: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    yield* cli.write("cwd/.sandbox-cli.toml", config)
    const ws = yield* cli.mkdir("cwd/project")
    expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "kept"], { env }))
    const status = (id: string) =>
      Effect.map(cli.run(["session", "status", id, "-o", "json"], { env }), (r) => json<StatusJson>(r))
    const start = (...cmd: ReadonlyArray<string>) =>
      Effect.map(
        cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", ...cmd], { env }),
        (r) => json<{ id: string }>(r).id
      )
    const ended = (id: string) =>
      poll(status(id), (s) => ["stopped", "failed", "crashed"].includes(s.state), "120 seconds")

    // the first session leaves the sandbox for the next
    const first = yield* start("sh", "-c", "echo one > one.txt")
    expect((yield* ended(first)).state).toBe("stopped")
    // the second reattaches to it and keeps running
    const second = yield* start("sh", "-c", "echo two > two.txt; sleep 600")
    yield* poll(status(second), (s) => s.state === "running", "120 seconds")
    yield* poll(cli.run(["session", "exec", second, "--", "cat", "two.txt"], { env }), (r) => r.code === 0)
    // a third, while the second runs, is refused and says why
    const third = yield* start("sh", "-c", "echo three > three.txt")
    const refused = yield* ended(third)
    expect(refused.state).toBe("failed")
    expect(refused.reason).toContain(`is in use by session ${second} (running)`)
    expect(refused.reason).toContain(`sandbox-cli session stop ${second}`)
    // the running session is untouched, and ends as usual
    expect((yield* status(second)).state).toBe("running")
    expectOk(yield* cli.run(["session", "stop", second], { env }))
    expect(readFileSync(join(ws, "two.txt"), "utf8")).toBe("two\n")
    expect((yield* status(first)).sandbox.sandbox_id).toBe((yield* status(second)).sandbox.sandbox_id)
  })

layer(NodeContext.layer)("sandbox-cli: one live session per reusable sandbox", (it) => {
  it.scoped(
    "local: the second live session of a workspace is refused, naming the one that holds it",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* scenario(cli, `[sandboxes.kept]\nbackend = "local"\npersistence = "reuse"\n`, {})
      }),
    TIMEOUT
  )

  it.scoped("daytona emulator: the same", () =>
    Effect.gen(function*() {
      const emu = yield* scopedEmulator({ apiKey: KEY })
      const cli = yield* fixture()
      yield* scenario(
        cli,
        `[sandboxes.kept]\nbackend = "daytona"\npersistence = "reuse"\n[sandboxes.kept.daytona]\napi_url = "${emu.url}"\n`,
        { DAYTONA_API_KEY: KEY }
      )
    }), TIMEOUT)
})
