/**
 * A live session through the real CLI on the local backend, shared by the live-sync tests: a workspace with one
 * file, a `sync_mode = "live"` profile, and a session whose supervisor watches both sides.
 */
import { Effect } from "effect"
import type { Fixture } from "./helpers.js"
import { expectOk, json, poll } from "./helpers.js"

export interface LiveJson {
  readonly state: string
  readonly pending: number
  readonly lag_ms: number
  readonly batches: number
  readonly last_error: string | null
  readonly host_watcher: string
  readonly runtime_watcher: string
}
export interface StatusJson {
  readonly state: string
  readonly supervisor: { readonly pid: number | null; readonly alive: boolean }
  readonly live: LiveJson | null
}

export const status = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r))

/** Starts the session and waits until live sync watches; `inRuntime` reads a file in its runtime. */
export const startLive = (cli: Fixture) =>
  Effect.gen(function*() {
    const ws = yield* cli.mkdir("cwd/project")
    yield* cli.write("cwd/project/a.txt", "A\n")
    yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.live]\nbackend = "local"\nsync_mode = "live"\n`)
    expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "live"]))
    const created = yield* cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", "sleep", "120"])
    const { id } = json<{ id: string }>(created)
    yield* poll(status(cli, id), (s) => s.state === "running" && s.live?.state === "watching", "60 seconds")
    const inRuntime = (file: string) =>
      Effect.map(cli.run(["session", "exec", id, "--", "cat", file]), (r) => (r.code === 0 ? r.stdout : undefined))
    return { id, ws, inRuntime }
  })
