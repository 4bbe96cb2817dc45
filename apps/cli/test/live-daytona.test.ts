/**
 * Live sync on the Daytona emulator (the real SDK on loopback): the runtime is watched by one watcher process
 * inside the sandbox whose output streams back over one session command with followed logs; edits flow both ways
 * while the session runs, and the session stops cleanly (the watcher ends with its lease).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import { Effect, Schedule, TestServices } from "effect"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { readTree } from "../../../packages/sync/test/fixtures/harness.js"
import { check, runWriter, seedOf, T0 } from "../../../packages/sync/test/fixtures/twoWriters.js"
import { scopedEmulator } from "./emulator.js"
import type { Fixture } from "./helpers.js"
import { expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 240_000
const KEY = "e2e-live-key"
const env = { DAYTONA_API_KEY: KEY }

const emulator = scopedEmulator({ apiKey: KEY, deleteLinger: { unchangedMs: 300, destroyingMs: 300 } })

interface StatusJson {
  readonly state: string
  readonly live: {
    readonly state: string
    readonly runtime_watcher: string
    readonly batches: number
    readonly pending: number
  } | null
}

const until = <A>(get: Effect.Effect<A>, ok: (a: A) => boolean) =>
  get.pipe(
    Effect.filterOrFail(ok, () => "not yet"),
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("90 seconds"))),
    Effect.orDie,
    TestServices.provideLive
  )

const status = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "status", id, "-o", "json"], { env }), (r) => json<StatusJson>(r))

layer(NodeContext.layer)("live sync on the Daytona emulator", (it) => {
  it.scoped("edits flow both ways over one streamed watcher; stop ends it", () =>
    Effect.gen(function*() {
      const emu: Emulator = yield* emulator
      const cli = yield* fixture()
      yield* cli.write(
        "cwd/.sandbox-cli.toml",
        `[sandboxes.cloud]\nbackend = "daytona"\nsync_mode = "live"\n[sandboxes.cloud.daytona]\napi_url = "${emu.url}"\n`
      )
      const ws = yield* cli.mkdir("cwd/project")
      writeFileSync(join(ws, "a.txt"), "A\n")
      expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "cloud"], { env }))
      const { id } = json<{ id: string }>(
        yield* cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", "sleep", "600"], { env })
      )
      const running = yield* until(status(cli, id), (s) => s.state === "running" && s.live?.state === "watching")
      expect(["python-inotify", "inotifywait", "scan"]).toContain(running.live!.runtime_watcher)

      writeFileSync(join(ws, "a.txt"), "A from the host\n")
      const cat = (file: string) =>
        Effect.map(cli.run(["session", "exec", id, "--", "cat", file], { env }), (r) => r.code === 0 ? r.stdout : "")
      yield* until(cat("a.txt"), (t) => t === "A from the host\n")
      expectOk(yield* cli.run(["session", "exec", id, "--", "sh", "-c", "echo from the sandbox > r.txt"], { env }))
      yield* until(Effect.sync(() => existsSync(join(ws, "r.txt"))), (x) => x)
      expect(readFileSync(join(ws, "r.txt"), "utf8")).toBe("from the sandbox\n")

      expectOk(yield* cli.run(["session", "stop", id], { env }))
      const final = yield* status(cli, id)
      expect(final.state).toBe("stopped")
      expect(final.live).toBeNull()
    }), TIMEOUT)

  it.scoped(
    "randomized two writers: host and sandbox change the tree at once; nothing is lost",
    () =>
      Effect.gen(function*() {
        const emu: Emulator = yield* emulator
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.cloud]\nbackend = "daytona"\nsync_mode = "live"\n[sandboxes.cloud.daytona]\napi_url = "${emu.url}"\n`
        )
        const ws = yield* cli.mkdir("cwd/project")
        for (const [p, text] of Object.entries(T0)) {
          mkdirSync(dirname(join(ws, p)), { recursive: true })
          writeFileSync(join(ws, p), text)
        }
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "cloud"], { env }))
        const { id } = json<{ id: string }>(
          yield* cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", "sleep", "600"], { env })
        )
        yield* until(status(cli, id), (s) => s.state === "running" && s.live?.state === "watching")
        // the sandbox's working directory, as a directory of this host (the emulator's sandboxes are directories)
        const pwd = expectOk(yield* cli.run(["session", "exec", id, "--", "pwd"], { env })).stdout.trim()
        const box = emu.sandboxes().find((s) => existsSync(join(s.dir, pwd, "a/one.txt")))!
        const runtimeDir = join(box.dir, pwd)
        const seed = seedOf()
        const [host, runtime] = yield* Effect.all(
          [runWriter(ws, "host", seed, 120, 15), runWriter(runtimeDir, "runtime", seed + 1, 120, 15)],
          { concurrency: 2 }
        )
        // quiet: nothing pending and no batch for 4 s (the sandbox's scan loop looks once a second)
        let last = -1
        let since = Date.now()
        yield* until(status(cli, id), (s) => {
          if (s.live === null || s.live.pending > 0 || s.live.batches !== last || s.live.state !== "watching") {
            last = s.live?.batches ?? -1
            since = Date.now()
            return false
          }
          return Date.now() - since > 4000
        })
        const trees = { host: readTree(ws), runtime: readTree(runtimeDir) }
        const full = json<{ files_to_runtime: number; files_from_runtime: number; conflicts: ReadonlyArray<string> }>(
          yield* cli.run(["session", "sync", id, "-o", "json"], { env })
        )
        const context = `seed ${seed} (daytona emulator)`
        expect(check(trees, { host, runtime }, new Set(full.conflicts), id), context).toEqual([])
        expect(full.files_to_runtime + full.files_from_runtime, context).toBe(0)
        expectOk(yield* cli.run(["session", "stop", id], { env }))
      }),
    TIMEOUT
  )
})
