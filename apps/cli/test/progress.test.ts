import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { ProgressEvent } from "@org/sandbox-core/Progress"
import { Effect, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import { daytonaBackend, EMULATOR_KEY, expectOk, fixture, json, paths, poll, sleepers } from "./helpers.js"
import { alive } from "./processes.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 60_000
const decode = Schema.decodeUnknownSync(Schema.parseJson(ProgressEvent))
const hasScript = spawnSync("script", ["--version"]).status === 0

/** Every key of an event, in the schema's order: snake_case and stable. */
const KEYS = [
  "type",
  "session_id",
  "operation",
  "phase",
  "entries_done",
  "entries_total",
  "bytes_done",
  "bytes_total",
  "bytes_per_second",
  "elapsed_ms"
]

/** The NDJSON events a command wrote on stderr, each checked against the schema and its exact set of keys. */
const eventsOf = (stderr: string) =>
  stderr.split("\n").filter((l) => l !== "").map((line) => {
    expect(Object.keys(JSON.parse(line))).toEqual(KEYS)
    return decode(line)
  })

/** What a pseudo-terminal showed of a command run through `script`. */
const onTerminal = (
  cli: { readonly tmp: string; readonly cwd: string; readonly env: Record<string, string> },
  args: string
) => {
  const typescript = join(cli.tmp, "typescript")
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(paths.launcher)} ${args}`
  const done = spawnSync("script", ["-q", "-e", "-c", command, typescript], {
    cwd: cli.cwd,
    env: cli.env,
    stdio: ["ignore", "ignore", "pipe"],
    timeout: TIMEOUT
  })
  return { status: done.status, seen: readFileSync(typescript, "utf8") }
}

layer(NodeContext.layer)("progress of long work (seed, sync-back)", (it) => {
  it.scoped(
    "--progress json: NDJSON events on stderr, decoded by the event schema; stdout untouched",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        for (let i = 0; i < 12; i++) yield* cli.write(`cwd/src/f${i}.txt`, "x".repeat(100 * (i + 1)))
        const result = yield* cli.run(["run", "--progress", "json", "--", "sh", "-c", "echo out; echo new > made.txt"])
        expect(result.code).toBe(0)
        expect(result.stdout).toBe("out\n")
        const lines = result.stderr.split("\n").filter((l) => l !== "")
        const events = lines.map((l) => decode(l))
        const seed = events.filter((e) => e.operation === "seed")
        const back = events.filter((e) => e.operation === "sync_back")
        // scan (reported again while it lasts), then transfer, then done
        const order = ["scan", "transfer", "done"]
        const phases = seed.map((e) => order.indexOf(e.phase))
        expect(phases).toEqual([...phases].sort((a, b) => a - b))
        expect([seed[0]?.phase, seed.at(-1)?.phase, phases.filter((p) => p === 2).length]).toEqual(["scan", "done", 1])
        const transfer = seed.find((e) => e.phase === "transfer")!
        expect([transfer.entries_total, transfer.bytes_total]).toEqual([12, 7800])
        expect(seed.at(-1)).toMatchObject({ entries_done: 12, bytes_done: 7800 })
        expect(back[0]?.phase).toBe("scan")
        // the sync-back counts what it applies, as the seed does: one file of 4 bytes
        const backTransfer = back.filter((e) => e.phase === "transfer" && e.entries_total !== null)
        expect(backTransfer.length).toBeGreaterThan(0)
        expect([backTransfer[0]!.entries_total, backTransfer[0]!.bytes_total]).toEqual([1, 4])
        expect(back.at(-1)).toMatchObject({ phase: "done", entries_done: 1, bytes_done: 4 })
        // then the sandbox's removal, counted in time only, last
        const destroy = events.filter((e) => e.operation === "destroy")
        expect(destroy.map((e) => e.phase)).toEqual([...destroy.slice(0, -1).map(() => "transfer"), "done"])
        expect(events.at(-1)).toBe(destroy.at(-1))
        expect(new Set(events.map((e) => e.session_id)).size).toBe(1)
        expect(readFileSync(join(cli.cwd, "made.txt"), "utf8")).toBe("new\n")
      }),
    TIMEOUT
  )

  it.scoped("not a terminal (and --progress none): no progress at all", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      yield* cli.write("cwd/a.txt", "a")
      for (const args of [["run", "--", "true"], ["run", "--progress", "none", "--", "true"]]) {
        const result = yield* cli.run(args)
        expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" })
      }
    }), TIMEOUT)

  it.scoped.skipIf(!hasScript)(
    "on a terminal: one line on stderr, redrawn in place and cleared at the end",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("cwd/a.txt", "a")
        // `script` gives the CLI a pseudo-terminal; what the CLI wrote to it is in the typescript file
        const typescript = join(cli.tmp, "typescript")
        const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(paths.launcher)} run -- true`
        const done = spawnSync("script", ["-q", "-e", "-c", command, typescript], {
          cwd: cli.cwd,
          env: cli.env,
          stdio: ["ignore", "ignore", "pipe"],
          timeout: TIMEOUT
        })
        expect(done.status).toBe(0)
        const seen = readFileSync(typescript, "utf8")
        expect(seen).toMatch(/\r\x1b\[2Kseed: scanning… \d+\.\d s/)
        expect(seen).toMatch(/\r\x1b\[2Ksync-back: scanning… \d+\.\d s/)
        // cleared: nothing of the line is left after its last redraw
        expect(seen.slice(seen.lastIndexOf("\r\x1b[2K") + 5)).not.toMatch(/seed|sync-back/)
        // never a newline in the progress output: one line, redrawn
        expect(seen).not.toMatch(/scanning…[^\r]*\n/)
      }),
    TIMEOUT
  )

  it.scoped(
    "a sync-back that fails ends its progress: a failed event, and on a terminal the line is gone before the error",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        for (let i = 0; i < 30; i++) yield* cli.write(`cwd/f${i}.txt`, `${i}\n`)
        // the sandbox deletes every file: the sync-back halts (mass deletion) and the run fails
        const wipe = ["--", "sh", "-c", "rm -f f*.txt"]
        const result = yield* cli.run(["run", "--progress", "json", ...wipe])
        expect(result.code).toBe(1)
        const events = eventsOf(result.stderr.split("\n").filter((l) => l.startsWith("{")).join("\n"))
        const back = events.filter((e) => e.operation === "sync_back")
        expect(back[0]?.phase).toBe("scan")
        expect(back.at(-1)?.phase).toBe("failed")
        expect(events.filter((e) => e.phase === "done").map((e) => e.operation)).toEqual(["seed"])
        if (!hasScript) return
        const { seen, status } = onTerminal(cli, "run -- sh -c 'rm -f f*.txt'")
        expect(status).toBe(1)
        // what the run says starts on a line of its own: the progress line was cleared before it
        expect(seen).toMatch(/\r\x1b\[2K(warning|error): /)
        expect(seen).not.toMatch(/scanning…[^\r\n]*(warning|error):/)
      }),
    TIMEOUT
  )

  it.scoped(
    "session sync and session stop show the supervisor's progress; a quiet scan keeps reporting",
    () =>
      Effect.gen(function*() {
        const emu = yield* scopedEmulator({ apiKey: EMULATOR_KEY })
        const backend = daytonaBackend(emu)
        const cli = yield* fixture()
        const env = backend.env
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          ["[sandboxes.cloud]", ...backend.table("cloud"), ""].join("\n")
        )
        const ws = yield* cli.mkdir("cwd/ws")
        yield* cli.write("cwd/ws/a.txt", "a\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws", "--sandbox", "cloud"], { env }))
        const id = yield* shellSession(cli, "ws", "echo made > made.txt; sleep 600", env)
        yield* poll(
          Effect.map(cli.run(["session", "status", id, "-o", "json"], { env }), (r) => json<{ state: string }>(r)),
          (s) => s.state === "running",
          "120 seconds"
        )
        // every command the sandbox runs now answers late: the runtime's scan takes seconds, moving nothing
        emu.setFaults([{ route: new RegExp(`^POST /toolbox/[^/]+/process/execute`), kind: "slow", delayMs: 1500 }])
        const synced = yield* cli.run(["session", "sync", id, "--progress", "json"], { env })
        expect(synced.code, synced.stderr).toBe(0)
        const sync = eventsOf(synced.stderr)
        expect(new Set(sync.map((e) => [e.operation, e.session_id].join(" ")))).toEqual(new Set([`sync ${id}`]))
        expect(sync.at(-1)).toMatchObject({ phase: "done", entries_done: 1 })
        // the scan reports again while it moves nothing, each report later than the one before
        const scans = sync.filter((e) => e.phase === "scan")
        expect(scans.length).toBeGreaterThan(1)
        expect(scans.map((e) => e.elapsed_ms)).toEqual([...scans.map((e) => e.elapsed_ms)].sort((a, b) => a - b))
        expect(new Set(scans.map((e) => e.elapsed_ms)).size).toBe(scans.length)

        const stopped = yield* cli.run(["session", "stop", id, "--progress", "json", "-o", "json"], { env })
        expect(stopped.code, stopped.stderr).toBe(0)
        const ending = eventsOf(stopped.stderr)
        const back = ending.filter((e) => e.operation === "sync_back")
        expect(back.filter((e) => e.phase === "scan").length).toBeGreaterThan(1)
        expect(back.at(-1)?.phase).toBe("done")
        // the sync-back, then the removal of the sandbox
        expect([...new Set(ending.map((e) => e.operation))]).toEqual(["sync_back", "destroy"])
        expect(ending.at(-1)).toMatchObject({ operation: "destroy", phase: "done" })
        // attached, a person waits for the seed and the sync-back: both are shown, and the agent's output is intact
        const attached = yield* cli.run(
          ["session", "new", "--workspace", "ws", "--attach", "--progress", "json", "--", "sh", "-c", "echo hi"],
          { env }
        )
        expect({ code: attached.code, stdout: attached.stdout.split("\n").slice(1) }).toEqual({
          code: 0,
          stdout: ["hi", ""]
        })
        const shown = eventsOf(attached.stderr)
        expect(shown.filter((e) => e.operation === "sync_back").at(-1)).toMatchObject({ phase: "done" })
        expect(shown.at(-1)).toMatchObject({ operation: "destroy", phase: "done" })
        expect(shown.some((e) => e.operation === "sync")).toBe(false)
        emu.setFaults([])
        // not asked for and not a terminal: nothing
        const quiet = yield* shellSession(cli, "ws", "sleep 600", env)
        yield* poll(
          Effect.map(cli.run(["session", "status", quiet, "-o", "json"], { env }), (r) => json<{ state: string }>(r)),
          (s) => s.state === "running",
          "120 seconds"
        )
        const plain = yield* cli.run(["session", "stop", quiet, "-o", "json"], { env })
        expect({ code: plain.code, stderr: plain.stderr }).toEqual({ code: 0, stderr: "" })
      }),
    TIMEOUT * 3
  )

  it.scoped(
    "reconcile shows the sync-back and the removal of a crashed session's sandbox",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const ws = yield* cli.mkdir("cwd/ws")
        yield* cli.write("cwd/ws/a.txt", "a\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const id = yield* shellSession(cli, "ws", "echo made > made.txt; sleep 600")
        const running = yield* poll(
          Effect.map(
            cli.run(["session", "status", id, "-o", "json"]),
            (r) => json<{ state: string; supervisor: { pid: number | null } }>(r)
          ),
          (s) => s.state === "running" && s.supervisor.pid !== null,
          "120 seconds"
        )
        yield* sleepers([running.supervisor.pid!])
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "made.txt"]), (r) => r.stdout === "made\n")
        process.kill(running.supervisor.pid!, "SIGKILL")
        yield* poll(Effect.sync(() => alive(running.supervisor.pid!)), (a) => !a)
        const reconciled = yield* cli.run(["reconcile", "--progress", "json", "-o", "json"])
        expect(reconciled.code, reconciled.stderr).toBe(0)
        const events = eventsOf(reconciled.stderr)
        expect(new Set(events.map((e) => e.session_id))).toEqual(new Set([id]))
        expect([...new Set(events.map((e) => e.operation))]).toEqual(["sync_back", "destroy"])
        const back = events.filter((e) => e.operation === "sync_back")
        expect([back[0]?.phase, back.at(-1)?.phase]).toEqual(["scan", "done"])
        expect(back.at(-1)).toMatchObject({ entries_done: 1, bytes_done: 5 })
        expect(events.at(-1)).toMatchObject({ operation: "destroy", phase: "done" })
        expect(readFileSync(join(ws, "made.txt"), "utf8")).toBe("made\n")
      }),
    TIMEOUT * 2
  )
})
