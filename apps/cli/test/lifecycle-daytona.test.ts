/**
 * The session lifecycle on the Daytona emulator (the real SDK on loopback): a reconcile of one state directory
 * never touches another's sandboxes, and `persistence = "reuse"` syncs against the real ancestor and survives a
 * sandbox deleted behind its back.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import { Effect, Schedule, TestServices } from "effect"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Fixture } from "./helpers.js"
import { expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 240_000
const KEY = "e2e-lifecycle-key"
const env = { DAYTONA_API_KEY: KEY }

const emulator = scopedEmulator({ apiKey: KEY, deleteLinger: { unchangedMs: 300, destroyingMs: 300 } })

const config = (emu: Emulator) =>
  ["transient", "reuse"].map((persistence) =>
    `[sandboxes.cloud-${persistence}]\nbackend = "daytona"\npersistence = "${persistence}"\n` +
    `[sandboxes.cloud-${persistence}.daytona]\napi_url = "${emu.url}"\n`
  ).join("\n")

const live = (emu: Emulator) =>
  emu.sandboxes().filter((s) => s.state !== "destroyed" && s.state !== "destroying" && s.desiredState !== "destroyed")

interface StatusJson {
  readonly id: string
  readonly state: string
  readonly sandbox: { readonly instance_id: string | null }
}

const waitState = (cli: Fixture, id: string, ok: (state: string) => boolean) =>
  cli.run(["session", "status", id, "-o", "json"], { env }).pipe(
    Effect.map((r) => json<StatusJson>(r)),
    Effect.filterOrFail((s) => ok(s.state), () => "not yet"),
    Effect.retry(Schedule.spaced("300 millis").pipe(Schedule.upTo("120 seconds"))),
    Effect.orDie,
    TestServices.provideLive
  )

layer(NodeContext.layer)("sandbox-cli session lifecycle (daytona emulator)", (it) => {
  it.scoped(
    "a reconcile never destroys a live session's sandbox of another state directory on the same host",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator
        const a = yield* fixture()
        const b = yield* fixture()
        yield* a.write("cwd/.sandbox-cli.toml", config(emu))
        yield* b.write("cwd/.sandbox-cli.toml", config(emu))
        const ws = yield* b.mkdir("cwd/project")
        expectOk(yield* b.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "cloud-transient"], { env }))
        const { id } = json<{ id: string }>(
          yield* b.run(
            ["session", "new", "--workspace", "proj", "-o", "json", "--", "sh", "-c", "echo mine > out.txt; sleep 600"],
            { env }
          )
        )
        const running = yield* waitState(b, id, (s) => s === "running")
        expect(live(emu)).toHaveLength(1)
        // the other state directory's reconcile and prune leave it alone, and say why
        const reconciled = JSON.parse(expectOk(yield* a.run(["reconcile", "-o", "json"], { env })).stdout) as {
          actions: ReadonlyArray<{ decision: string; reason: string }>
        }
        expect(reconciled.actions.map((x) => x.decision)).toEqual(["skip"])
        expect(reconciled.actions[0]!.reason).toContain("another state directory")
        expectOk(yield* a.run(["prune", "-o", "json"], { env }))
        expect(live(emu).map((s) => s.id)).toEqual([running.sandbox.instance_id])
        // and the session ends as its own state directory says
        expect(expectOk(yield* b.run(["session", "stop", id, "-o", "json"], { env })).code).toBe(0)
        expect((yield* waitState(b, id, (s) => s !== "running")).state).toBe("stopped")
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("mine\n")
        expect(live(emu)).toEqual([])
      }),
    TIMEOUT
  )

  it.scoped(
    "reuse: a reattached session syncs against the real ancestor, and a vanished sandbox is replaced",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator
        const cli = yield* fixture()
        yield* cli.write("cwd/.sandbox-cli.toml", config(emu))
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/edited.txt", "v1\n")
        yield* cli.write("cwd/project/deleted.txt", "bye\n")
        const run = (script: string) =>
          cli.run(["run", "--profile", "cloud-reuse", "--workspace", ws, "--", "sh", "-c", script], { env })
        expectOk(yield* run("echo one > one.txt"))
        // between sessions the user edits one file and deletes another
        writeFileSync(join(ws, "edited.txt"), "v2\n")
        rmSync(join(ws, "deleted.txt"))
        const second = expectOk(yield* run("cat edited.txt; test ! -e deleted.txt && echo deleted-too"))
        expect(second.stdout).toBe("v2\ndeleted-too\n")
        expect(existsSync(join(ws, "deleted.txt"))).toBe(false)
        expect(live(emu)).toHaveLength(1)

        // the kept sandbox is deleted behind our back: the next run notices and starts over with a fresh one
        const gone = live(emu)[0]!.id
        const deleted = yield* Effect.promise(() =>
          fetch(`${emu.url}/sandbox/${gone}`, { method: "DELETE", headers: { authorization: `Bearer ${KEY}` } })
        )
        expect(deleted.ok).toBe(true)
        yield* Effect.promise(() => deleted.arrayBuffer())
        const third = expectOk(yield* run("cat one.txt edited.txt"))
        expect(third.stdout).toBe("one\nv2\n")
        expect(live(emu).map((s) => s.id)).not.toContain(gone)
        expect(live(emu)).toHaveLength(1)
        const sessions = json<ReadonlyArray<{ id: string }>>(yield* cli.run(["session", "list", "-o", "json"], { env }))
        const events = yield* Effect.forEach(sessions, (s) =>
          Effect.map(
            cli.run(["session", "events", s.id, "-o", "json"], { env }),
            (r) => json<ReadonlyArray<{ type: string }>>(r).map((e) => e.type)
          ))
        expect(events.filter((types) => types.includes("sandbox.replaced"))).toHaveLength(1)
      }),
    TIMEOUT
  )
})
