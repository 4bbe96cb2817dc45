/**
 * The session lifecycle seen from the CLI (local provider, real processes): the reconciler never acts on a live
 * session, a runtime holding work not yet home is never destroyed, sandboxes kept on purpose are not orphans,
 * and stopping an ended session is a no-op.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect, Schedule, TestServices } from "effect"
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { CliResult, Fixture } from "./helpers.js"
import { expectOk, fixture, json } from "./helpers.js"
import { alive } from "./processes.js"

const TIMEOUT = 300_000

interface StatusJson {
  readonly id: string
  readonly state: string
  readonly supervisor: { readonly pid: number | null; readonly alive: boolean }
  readonly reason: string | null
  readonly exit_code: number | null
  readonly sandbox: { readonly sandbox_id: string; readonly state: string; readonly kept?: string }
}

interface ActionJson {
  readonly decision: string
  readonly sandbox_id: string
  readonly session_id: string | null
  readonly status: string
  readonly reason: string
  readonly sync_back: boolean
  readonly apply: string | null
}

const status = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r))

const waitEnded = (cli: Fixture, id: string) =>
  status(cli, id).pipe(
    Effect.filterOrFail((s) => ["stopped", "failed", "crashed"].includes(s.state), () => "not yet"),
    Effect.retry(Schedule.spaced("300 millis").pipe(Schedule.upTo("200 seconds"))),
    Effect.orDie,
    TestServices.provideLive
  )

const waitRunning = (cli: Fixture, id: string) =>
  status(cli, id).pipe(
    Effect.filterOrFail((s) => s.state === "running" && s.supervisor.alive, () => "not yet"),
    Effect.retry(Schedule.spaced("300 millis").pipe(Schedule.upTo("120 seconds"))),
    Effect.orDie,
    TestServices.provideLive
  )

const poll = <A>(check: () => A | undefined) =>
  Effect.suspend(() => {
    const value = check()
    return value === undefined ? Effect.fail("not yet") : Effect.succeed(value)
  }).pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("150 seconds"))),
    Effect.orDie,
    TestServices.provideLive
  )

/** A reconcile's actions; it exits 1 when an action failed. */
const actions = (result: CliResult, code = 0): ReadonlyArray<ActionJson> => {
  expect(result.code, result.stderr).toBe(code)
  return (JSON.parse(result.stdout) as { actions: ReadonlyArray<ActionJson> }).actions
}

const runtimes = (home: string) =>
  existsSync(join(home, "runtimes")) ? readdirSync(join(home, "runtimes")).filter((d) => d.startsWith("sbx_")) : []

/** Ten tracked files, so that deleting them all trips the mass-deletion guard of the sync-back. */
const tenFiles = (cli: Fixture, dir: string) =>
  Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => cli.write(`${dir}/f${i}.txt`, `${i}\n`))

layer(NodeContext.layer)("sandbox-cli session lifecycle (local provider)", (it) => {
  it.scoped(
    "20 session new with 5 reconcile at once: every session completes and brings its work home",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const starts = Array.from({ length: 20 }, (_, i) =>
          Effect.map(
            cli.run([
              "session",
              "new",
              "--workspace",
              "ws",
              "-o",
              "json",
              "--",
              "sh",
              "-c",
              `sleep 2; echo ${i} > out-${i}.txt`
            ]),
            (r) => json<{ id: string }>(r).id
          ))
        const reconciles = Array.from({ length: 5 }, (_, i) =>
          Effect.delay(cli.run(["reconcile", "-o", "json"]), `${i * 300} millis`).pipe(
            Effect.map((r) => ({ kind: "reconcile" as const, r }))
          ))
        const results = yield* Effect.all(
          [
            ...starts.map((e) =>
              Effect.map(e, (id) => ({ kind: "session" as const, id }))
            ),
            ...reconciles
          ],
          { concurrency: "unbounded" }
        ).pipe(TestServices.provideLive)
        const ids = results.flatMap((r) => (r.kind === "session" ? [r.id] : []))
        expect(ids).toHaveLength(20)
        for (const r of results) {
          if (r.kind !== "reconcile") continue
          // a reconcile never acts on a live session's sandbox
          for (const a of actions(r.r)) {
            expect(["skip", "forget"].includes(a.decision) || a.status !== "done", JSON.stringify(a)).toBe(true)
          }
        }
        for (const id of ids) {
          const s = yield* waitEnded(cli, id)
          expect([s.id, s.state, s.reason]).toEqual([id, "stopped", null])
        }
        for (let i = 0; i < 20; i++) {
          expect(readFileSync(join(ws, `out-${i}.txt`), "utf8")).toBe(`${i}\n`)
        }
        expect(runtimes(cli.home)).toEqual([])
      }),
    TIMEOUT
  )

  it.scoped(
    "a run whose sync-back is refused keeps its sandbox, fails, and reconcile and prune leave it until --discard",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* tenFiles(cli, "cwd")
        const result = yield* cli.run(["run", "--", "sh", "-c", "rm -f f*.txt; echo work > agent.txt"])
        expect(result.code).toBe(1)
        expect(result.stderr).toMatch(/left behind: the sandbox's changes did not come home/)
        expect(existsSync(join(cli.cwd, "f0.txt"))).toBe(true)
        expect(existsSync(join(cli.cwd, "agent.txt"))).toBe(false)
        const [session] = json<ReadonlyArray<StatusJson>>(yield* cli.run(["session", "list", "-o", "json"]))
        expect(session!.state).toBe("failed")
        expect(session!.sandbox.kept).toBe("unsynced")
        expect(runtimes(cli.home)).toHaveLength(1)

        // reconcile retries the sync-back (the record knows the host path), is refused again, and keeps it
        const reconciled = actions(yield* cli.run(["reconcile", "-o", "json"]), 1)
        expect(reconciled.map((a) => [a.session_id, a.decision, a.sync_back, a.status])).toEqual([
          [session!.id, "finish", true, "failed"]
        ])
        expect(runtimes(cli.home)).toHaveLength(1)
        // prune refuses it without --discard
        const pruned = actions(yield* cli.run(["prune", "-o", "json"]))
        expect(pruned.map((a) => [a.decision, a.status])).toEqual([["skip", "skipped"]])
        expect(pruned[0]!.reason).toContain("prune --discard")
        expect(runtimes(cli.home)).toHaveLength(1)
        // --force needs the session it forces
        const usage = yield* cli.run(["reconcile", "--force"])
        expect([usage.code, usage.stderr.split("\n").length]).toEqual([2, 2])
        // session stop --force on the ended session finishes it past the guard: the deletions reach the host
        const forced = yield* cli.run(["session", "stop", "--force", session!.id, "-o", "json"])
        expect(actions(forced).map((a) => [a.decision, a.sync_back, a.status])).toEqual([["finish", true, "done"]])
        expect(existsSync(join(cli.cwd, "f0.txt"))).toBe(false)
        expect(readFileSync(join(cli.cwd, "agent.txt"), "utf8")).toBe("work\n")
        expect(runtimes(cli.home)).toEqual([])
        expect((yield* status(cli, session!.id)).sandbox.kept).toBeUndefined()

        // prune --discard destroys such a sandbox, its work with it
        yield* tenFiles(cli, "cwd")
        expect((yield* cli.run(["run", "--", "sh", "-c", "rm -f f*.txt"])).code).toBe(1)
        expect(runtimes(cli.home)).toHaveLength(1)
        const discarded = actions(yield* cli.run(["prune", "--discard", "-o", "json"]))
        expect(discarded.map((a) => [a.decision, a.status])).toEqual([["destroy", "done"]])
        expect(runtimes(cli.home)).toEqual([])
        expect(existsSync(join(cli.cwd, "f0.txt"))).toBe(true)
      }),
    TIMEOUT
  )

  it.scoped(
    "run --keep sandboxes are kept on purpose: reconcile and prune leave them",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        expectOk(yield* cli.run(["run", "--keep", "--", "sh", "-c", "echo kept > kept.txt"]))
        expect(readFileSync(join(cli.cwd, "kept.txt"), "utf8")).toBe("kept\n")
        expect(runtimes(cli.home)).toHaveLength(1)
        expect(actions(yield* cli.run(["reconcile", "-o", "json"]))).toEqual([])
        expect(actions(yield* cli.run(["prune", "-o", "json"]))).toEqual([])
        expect(runtimes(cli.home)).toHaveLength(1)
      }),
    TIMEOUT
  )

  it.scoped(
    "reconcile --force ID finishes a session whose sync-back the guard halted",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("ws")
        yield* tenFiles(cli, "ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const id = json<{ id: string }>(
          yield* cli.run([
            "session",
            "new",
            "--workspace",
            "ws",
            "-o",
            "json",
            "--",
            "sh",
            "-c",
            "rm -f f*.txt; echo done > agent.txt"
          ])
        ).id
        const ended = yield* waitEnded(cli, id)
        expect([ended.state, ended.sandbox.kept]).toEqual(["failed", "unsynced"])
        expect(existsSync(join(ws, "f0.txt"))).toBe(true)
        const plain = actions(yield* cli.run(["reconcile", id, "-o", "json"]), 1)
        expect(plain.map((a) => [a.session_id, a.decision, a.status])).toEqual([[id, "finish", "failed"]])
        const forced = actions(yield* cli.run(["reconcile", "--force", id, "-o", "json"]))
        expect(forced.map((a) => [a.session_id, a.decision, a.status])).toEqual([[id, "finish", "done"]])
        expect(readdirSync(ws)).toEqual(["agent.txt"])
        expect(runtimes(cli.home)).toEqual([])
      }),
    TIMEOUT
  )

  it.scoped(
    "a garbled event log and an undecodable control request: the supervisor refuses the request and stops cleanly",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const id = json<{ id: string }>(
          yield* cli.run([
            "session",
            "new",
            "--workspace",
            "ws",
            "-o",
            "json",
            "--",
            "sh",
            "-c",
            "echo hi > out.txt; sleep 600"
          ])
        ).id
        const running = yield* waitRunning(cli, id)
        // a request that does not decode is refused (never taken for "sync") and kept aside
        const control = join(cli.home, "control", id)
        writeFileSync(join(control, "bad.req"), "{\"action\":\"sink\"}")
        process.kill(running.supervisor.pid!, "SIGUSR1")
        const reply = yield* poll(() =>
          existsSync(join(control, "bad.json")) ? readFileSync(join(control, "bad.json"), "utf8") : undefined
        )
        expect(JSON.parse(reply)).toMatchObject({ ok: false, error: expect.stringContaining("does not decode") })
        expect(existsSync(join(control, "quarantine", "bad.req"))).toBe(true)
        // a garbled last line in the event log
        appendFileSync(join(cli.home, "events", `${id}.jsonl`), "garbage\n")
        const events = yield* cli.run(["session", "events", id])
        expect(events.stderr).toContain("unreadable event line")
        const stopped = yield* cli.run(["session", "stop", id, "-o", "json"])
        expect([stopped.code, json<StatusJson>(stopped).state]).toEqual([0, "stopped"])
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("hi\n")
        const types = json<ReadonlyArray<{ type: string; attrs: Record<string, unknown> }>>(
          yield* cli.run(["session", "events", id, "-o", "json"])
        )
        expect(types.map((e) => e.type)).toContain("session.stopped")
        expect(types.filter((e) => e.type === "sandbox.sync.before").map((e) => e.attrs["reason"])).toEqual([
          "start",
          "stop"
        ])
      }),
    TIMEOUT
  )

  it.scoped(
    "a paused supervisor (live pid, stale heartbeat) is not taken for dead",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const id = json<{ id: string }>(
          yield* cli.run([
            "session",
            "new",
            "--workspace",
            "ws",
            "-o",
            "json",
            "--",
            "sh",
            "-c",
            "echo hi > out.txt; sleep 600"
          ])
        ).id
        const pid = (yield* waitRunning(cli, id)).supervisor.pid!
        process.kill(pid, "SIGSTOP")
        yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(pid, "SIGCONT")))
        // past the heartbeat's staleness: every session command runs the crash check first
        yield* Effect.sleep("36 seconds").pipe(TestServices.provideLive)
        expectOk(yield* cli.run(["session", "list"]))
        const reconciled = actions(yield* cli.run(["reconcile", "-o", "json"]))
        expect(reconciled).toEqual([])
        expect((yield* status(cli, id)).state).toBe("running")
        expect(runtimes(cli.home)).toHaveLength(1)
        process.kill(pid, "SIGCONT")
        const stopped = yield* cli.run(["session", "stop", id, "-o", "json"])
        expect([stopped.code, json<StatusJson>(stopped).state]).toEqual([0, "stopped"])
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("hi\n")
      }),
    TIMEOUT
  )

  it.scoped(
    "after a supervisor crash, reconcile stops the agent of a reuse sandbox before keeping it",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.keep]\nbackend = "local"\npersistence = "reuse"\n`)
        // Below the config file: a registered workspace's config is found from its own directory.
        const ws = yield* cli.mkdir("cwd/ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws", "--sandbox", "keep"]))
        const id = json<{ id: string }>(
          yield* cli.run([
            "session",
            "new",
            "--workspace",
            "ws",
            "-o",
            "json",
            "--",
            "sh",
            "-c",
            "echo $$ > agent.pid; exec sleep 600"
          ])
        ).id
        const supervisor = (yield* waitRunning(cli, id)).supervisor.pid!
        const marker = yield* poll(() => {
          const dir = runtimes(cli.home).map((d) => join(cli.home, "runtimes", d, "workspace"))
          const found = dir.map((d) => join(d, "agent.pid")).find((f) =>
            existsSync(f) && readFileSync(f, "utf8").trim() !== ""
          )
          return found === undefined ? undefined : Number(readFileSync(found, "utf8").trim())
        })
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            try {
              process.kill(marker, "SIGKILL")
            } catch { /* gone */ }
          })
        )
        process.kill(supervisor, "SIGKILL")
        yield* poll(() => (alive(supervisor) ? undefined : true))
        expect(alive(marker)).toBe(true)
        const reconciled = actions(yield* cli.run(["reconcile", "-o", "json"]))
        expect(reconciled.map((a) => [a.decision, a.status])).toEqual([["reattach", "done"]])
        yield* poll(() => (alive(marker) ? undefined : true))
        // the next session reattaches to the kept sandbox
        const next = json<{ id: string }>(
          yield* cli.run(["session", "new", "--workspace", "ws", "-o", "json", "--", "test", "-e", "agent.pid"])
        ).id
        expect((yield* waitEnded(cli, next)).state).toBe("stopped")
      }),
    TIMEOUT
  )

  it.scoped(
    "session stop on an ended session exits 0 and says so",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("ws")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const id = json<{ id: string }>(
          yield* cli.run(["session", "new", "--workspace", "ws", "-o", "json", "--", "true"])
        ).id
        expect((yield* waitEnded(cli, id)).state).toBe("stopped")
        const first = yield* cli.run(["session", "stop", id])
        expect([first.code, first.stderr]).toEqual([0, ""])
        expect(first.stdout).toContain("has already ended (stopped)")
        const again = yield* cli.run(["session", "stop", id, "-o", "json"])
        expect(again.code).toBe(0)
        expect(json<StatusJson>(again).state).toBe("stopped")
      }),
    TIMEOUT
  )
})
