/**
 * A conflict under live sync is news once: the batch that finds it records it (a `sandbox.sync.after` event with
 * it, and the session's conflict list); the batches after it, which read the standing conflict again, do not
 * report it again, and `session conflicts` lists it until it is resolved.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { expectOk, fixture, json, poll } from "./helpers.js"
import { startLive, status } from "./liveSession.js"

const TIMEOUT = 120_000

interface Event {
  readonly type: string
  readonly attrs: Record<string, unknown>
}

layer(NodeContext.layer)("live sync: conflicts", (it) => {
  it.scoped(
    "a standing conflict is reported once, not by every batch, and stays listed until resolved",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const { id, inRuntime, ws } = yield* startLive(cli)

        // both sides change a.txt while live sync is paused: the resume's batch finds the conflict
        expectOk(yield* cli.run(["session", "sync", id, "--pause"]))
        writeFileSync(join(ws, "a.txt"), "A from the host\n")
        expectOk(yield* cli.run(["session", "exec", id, "--", "sh", "-c", "echo A from the runtime > a.txt"]))
        expectOk(yield* cli.run(["session", "sync", id, "--resume"]))
        const listed = () =>
          Effect.map(
            cli.run(["session", "conflicts", id, "-o", "json"]),
            (r) => json<ReadonlyArray<{ path: string }>>(r).map((c) => c.path)
          )
        yield* poll(listed(), (l) => l.includes("a.txt"), "30 seconds")

        // more batches, each reading the standing conflict again
        for (const n of [1, 2, 3]) {
          writeFileSync(join(ws, `more${n}.txt`), `${n}\n`)
          yield* poll(inRuntime(`more${n}.txt`), (t) => t === `${n}\n`, "20 seconds")
        }
        yield* poll(status(cli, id), (s) => s.live?.pending === 0, "20 seconds")

        const events = json<ReadonlyArray<Event>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        const reporting = events.filter((e) =>
          e.type === "sandbox.sync.after" && e.attrs["reason"] === "live" &&
          (e.attrs["conflicts"] as ReadonlyArray<string>).includes("a.txt")
        )
        expect(reporting).toHaveLength(1)
        expect(yield* listed()).toEqual(["a.txt"])

        expectOk(yield* cli.run(["session", "conflicts", "resolve", id, "a.txt", "--keep", "host"]))
        yield* poll(inRuntime("a.txt"), (t) => t === "A from the host\n", "20 seconds")
        expect(yield* listed()).toEqual([])
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    TIMEOUT
  )
})
