/**
 * Live sync through the real CLI and a real supervisor on the local backend: edits on either side arrive while
 * the session runs, `session status` shows live sync's health, `session sync --pause|--resume` controls it, and
 * a supervisor killed while live loses nothing: `reconcile` finishes the session with its sync-back.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { expectOk, fixture, json, poll } from "./helpers.js"
import type { LiveJson } from "./liveSession.js"
import { startLive as start, status } from "./liveSession.js"
import { alive } from "./processes.js"

const TIMEOUT = 120_000

layer(NodeContext.layer)("live sync (sync_mode = \"live\", local backend)", (it) => {
  it.scoped(
    "edits flow both ways while the session runs; status shows health; pause and resume",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const { id, inRuntime, ws } = yield* start(cli)
        writeFileSync(join(ws, "a.txt"), "A from the host\n")
        yield* poll(inRuntime("a.txt"), (t) => t === "A from the host\n", "20 seconds")
        expectOk(yield* cli.run(["session", "exec", id, "--", "sh", "-c", "echo from the runtime > r.txt"]))
        yield* poll(Effect.sync(() => existsSync(join(ws, "r.txt"))), (x) => x, "20 seconds")
        expect(readFileSync(join(ws, "r.txt"), "utf8")).toBe("from the runtime\n")
        // once quiet, nothing shows as waiting: the echo of live sync's own writes is no change that waits
        yield* poll(status(cli, id), (s) => s.live!.pending === 0 && s.live!.lag_ms === 0, "10 seconds")

        const s = yield* status(cli, id)
        expect(s.live).toMatchObject({ state: "watching", host_watcher: "fs.watch", runtime_watcher: "fs.watch" })
        expect(s.live!.batches).toBeGreaterThan(0)
        expect((yield* cli.run(["session", "status", id])).stdout).toMatch(/live sync:\s+watching, \d+ pending/)
        const events = json<ReadonlyArray<{ type: string; attrs: Record<string, unknown> }>>(
          yield* cli.run(["session", "events", id, "-o", "json"])
        )
        expect(events.some((e) => e.type === "sandbox.sync.after" && e.attrs["reason"] === "live")).toBe(true)

        const paused = json<LiveJson>(yield* cli.run(["session", "sync", id, "--pause", "-o", "json"]))
        expect(paused.state).toBe("paused")
        writeFileSync(join(ws, "p.txt"), "while paused\n")
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 700)))
        expect(yield* inRuntime("p.txt")).toBeUndefined()
        expect((yield* status(cli, id)).live!.state).toBe("paused")
        // what waits is shown while paused, and its lag keeps growing
        const waiting = yield* poll(status(cli, id), (x) => x.live!.pending > 0, "20 seconds")
        expect(waiting.live!.state).toBe("paused")
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 300)))
        expect((yield* status(cli, id)).live!.lag_ms).toBeGreaterThanOrEqual(waiting.live!.lag_ms + 300)
        expect((yield* cli.run(["session", "status", id])).stdout).toMatch(
          /live sync:\s+paused, [1-9]\d* pending, lag \d+ ms/
        )
        expectOk(yield* cli.run(["session", "sync", id, "--resume"]))
        yield* poll(inRuntime("p.txt"), (t) => t === "while paused\n", "20 seconds")
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    TIMEOUT
  )

  it.scoped(
    "the mass-deletion halt pauses live sync and says so; --resume alone halts again; --resume --force lets it through",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const { id, inRuntime, ws } = yield* start(cli)
        mkdirSync(join(ws, "many"))
        for (let i = 1; i <= 20; i++) writeFileSync(join(ws, `many/m${i}.txt`), `${i}\n`)
        yield* poll(inRuntime("many/m20.txt"), (t) => t === "20\n", "20 seconds")
        expectOk(yield* cli.run(["session", "exec", id, "--", "rm", "-rf", "many"]))
        const halted = yield* poll(status(cli, id), (s) => s.live?.state === "paused", "20 seconds")
        expect(halted.live!.last_error).toMatch(/would delete \d+ of \d+ files on the host/)
        expect((yield* cli.run(["session", "status", id])).stdout).toMatch(/live sync:\s+paused, .*would delete \d+ of/)
        expect(existsSync(join(ws, "many/m1.txt"))).toBe(true)
        // resuming reads both sides again: the deletion still stands, so it halts again and the host keeps the files
        expectOk(yield* cli.run(["session", "sync", id, "--resume"]))
        yield* poll(status(cli, id), (s) => s.live?.state === "paused", "20 seconds")
        expect(existsSync(join(ws, "many/m1.txt"))).toBe(true)
        expect((yield* cli.run(["session", "sync", id, "--pause", "--force"])).code).toBe(2)
        // the person means it: the deletion goes through, and live sync goes on
        const resumed = json<LiveJson>(
          expectOk(yield* cli.run(["session", "sync", id, "--resume", "--force", "-o", "json"]))
        )
        expect(["rescanning", "watching"]).toContain(resumed.state)
        expect(existsSync(join(ws, "many"))).toBe(false)
        yield* poll(status(cli, id), (s) => s.live?.state === "watching", "20 seconds")
        writeFileSync(join(ws, "after.txt"), "after\n")
        yield* poll(inRuntime("after.txt"), (t) => t === "after\n", "20 seconds")
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    TIMEOUT
  )

  it.scoped(
    "under Deno too: the supervisor's watchers (node:fs watch on Deno.watchFs) carry edits both ways",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture("deno")
        const { id, inRuntime, ws } = yield* start(cli)
        writeFileSync(join(ws, "a.txt"), "A from the host\n")
        yield* poll(inRuntime("a.txt"), (t) => t === "A from the host\n", "30 seconds")
        expectOk(yield* cli.run(["session", "exec", id, "--", "sh", "-c", "mkdir -p d && echo deno > d/r.txt"]))
        yield* poll(Effect.sync(() => existsSync(join(ws, "d/r.txt"))), (x) => x, "30 seconds")
        expect((yield* status(cli, id)).live).toMatchObject({ state: "watching", host_watcher: "fs.watch" })
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    TIMEOUT
  )

  it.scoped(
    "a supervisor killed while live: reconcile finishes the session and nothing is lost",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const { id, ws } = yield* start(cli)
        const pid = (yield* status(cli, id)).supervisor.pid!
        // the runtime writes a burst; the supervisor dies while live sync is busy with it
        expectOk(
          yield* cli.run([
            "session",
            "exec",
            id,
            "--",
            "sh",
            "-c",
            "mkdir -p burst && for i in $(seq 1 300); do echo $i > burst/f$i.txt; done"
          ])
        )
        writeFileSync(join(ws, "host-edit.txt"), "made on the host\n")
        process.kill(pid, "SIGKILL")
        yield* poll(Effect.sync(() => alive(pid)), (up) => !up, "20 seconds")
        expectOk(yield* cli.run(["reconcile"]))
        const final = yield* status(cli, id)
        expect(["stopped", "failed", "crashed"]).toContain(final.state)
        for (let i = 1; i <= 300; i++) expect(readFileSync(join(ws, `burst/f${i}.txt`), "utf8")).toBe(`${i}\n`)
        expect(readFileSync(join(ws, "host-edit.txt"), "utf8")).toBe("made on the host\n")
        expect(readFileSync(join(ws, "a.txt"), "utf8")).toBe("A\n")
      }),
    TIMEOUT
  )
})
