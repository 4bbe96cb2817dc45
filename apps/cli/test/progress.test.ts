import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { ProgressEvent } from "@org/sandbox-core/Progress"
import { Effect, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fixture, paths } from "./helpers.js"

const TIMEOUT = 60_000
const decode = Schema.decodeUnknownSync(Schema.parseJson(ProgressEvent))
const hasScript = spawnSync("script", ["--version"]).status === 0

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
        expect(seed.map((e) => e.phase)).toEqual(["scan", ...seed.slice(1, -1).map(() => "transfer"), "done"])
        const transfer = seed.find((e) => e.phase === "transfer")!
        expect([transfer.entries_total, transfer.bytes_total]).toEqual([12, 7800])
        expect(seed.at(-1)).toMatchObject({ entries_done: 12, bytes_done: 7800 })
        expect(back[0]?.phase).toBe("scan")
        // the sync-back counts what it applies, as the seed does: one file of 4 bytes
        const backTransfer = back.filter((e) => e.phase === "transfer" && e.entries_total !== null)
        expect(backTransfer.length).toBeGreaterThan(0)
        expect([backTransfer[0]!.entries_total, backTransfer[0]!.bytes_total]).toEqual([1, 4])
        expect(back.at(-1)).toMatchObject({ phase: "done", entries_done: 1, bytes_done: 4 })
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
})
