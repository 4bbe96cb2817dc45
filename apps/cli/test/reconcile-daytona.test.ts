/**
 * After a supervisor crash on Daytona (the real SDK against the emulator; issue 12, item 3), `reconcile` stops the
 * agent of a reuse sandbox before keeping the sandbox: the next session of the workspace finds it quiet.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { scopedEmulator } from "./emulator.js"
import { expectOk, fixture, json, poll } from "./helpers.js"
import { alive } from "./processes.js"

const TIMEOUT = 240_000
const KEY = "e2e-reconcile-key"
const env = { DAYTONA_API_KEY: KEY }

interface StatusJson {
  readonly state: string
  readonly exit_code: number | null
  readonly supervisor: { readonly pid: number | null }
}

layer(NodeContext.layer)("sandbox-cli reconcile (daytona emulator)", (it) => {
  it.scoped(
    "after a supervisor crash, reconcile stops the agent of a reuse sandbox before keeping it",
    () =>
      Effect.gen(function*() {
        const emu = yield* scopedEmulator({ apiKey: KEY })
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.keep]\nbackend = "daytona"\npersistence = "reuse"\n[sandboxes.keep.daytona]\n` +
            `api_url = "${emu.url}"\n`
        )
        const ws = yield* cli.mkdir("cwd/ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws", "--sandbox", "keep"], { env }))
        const status = (id: string) =>
          Effect.map(cli.run(["session", "status", id, "-o", "json"], { env }), (r) => json<StatusJson>(r))
        const start = (script: string) =>
          Effect.map(
            cli.run(["session", "new", "--workspace", "ws", "-o", "json", "--", "sh", "-c", script], { env }),
            (r) => json<{ id: string }>(r).id
          )
        // an agent that writes a heartbeat file in the workspace as long as it runs
        const id = yield* start("while :; do date +%s%N > beat; sleep 0.1; done")
        const running = yield* poll(
          status(id),
          (s) => s.state === "running" && s.supervisor.pid !== null,
          "120 seconds"
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "beat"], { env }), (r) => r.code === 0)
        const supervisor = running.supervisor.pid!
        process.kill(supervisor, "SIGKILL")
        yield* poll(
          Effect.sync(() => alive(supervisor)),
          (a) => !a
        )

        const reconciled = json<{ actions: ReadonlyArray<{ decision: string; status: string }> }>(
          yield* cli.run(["reconcile", "-o", "json"], { env })
        )
        expect(reconciled.actions.map((a) => [a.decision, a.status])).toEqual([["reattach", "done"]])
        // the next session reattaches to the kept sandbox and finds the heartbeat still
        const next = yield* start("a=$(cat beat); sleep 1; b=$(cat beat); test \"$a\" = \"$b\"")
        const ended = yield* poll(
          status(next),
          (s) => ["stopped", "failed", "crashed"].includes(s.state),
          "120 seconds"
        )
        expect(ended).toMatchObject({ state: "stopped", exit_code: 0 })
      }),
    TIMEOUT
  )
})
