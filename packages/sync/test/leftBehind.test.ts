/**
 * Runtime content the sync refuses to bring home is reported in `left_behind` (path, kind, reason), so that a
 * caller never destroys a runtime that still holds it.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineLayer, seed, sync, transports, world } from "./fixtures/harness.js"

const T0 = { "a.txt": "A", "dir/b.txt": "B" } as const

for (const transport of transports) {
  layer(EngineLayer)(`left behind [${transport}]`, (it) => {
    it.scoped("refused names, escaping symlinks, FIFOs and reserved names in the runtime are left behind, by kind", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        const nfd = "cafe\u0301.txt"
        fs.writeFileSync(path.join(w.runtime, nfd), "NFD")
        fs.writeFileSync(path.join(w.runtime, "dir", "two\nlines.txt"), "NL")
        fs.writeFileSync(path.join(w.runtime, "notes.sandbox-conflict-mine.txt"), "mine")
        fs.symlinkSync("/etc/passwd", path.join(w.runtime, "out-link"))
        execFileSync("mkfifo", [path.join(w.runtime, "dir", "pipe")])
        fs.writeFileSync(path.join(w.runtime, "dir/b.txt"), "B-runtime")
        const result = yield* sync(w.request({ reason: "stop" }))
        // what could come home did
        expect(fs.readFileSync(path.join(w.host, "dir/b.txt"), "utf8")).toBe("B-runtime")
        const left = (result.left_behind ?? []).map((l) => [l.path, l.kind])
        expect(left).toEqual(expect.arrayContaining([
          [nfd, "name"],
          ["dir/two\nlines.txt", "name"],
          ["notes.sandbox-conflict-mine.txt", "reserved"],
          ["out-link", "symlink"],
          ["dir/pipe", "special"]
        ]))
        expect(left).toHaveLength(5)
        for (const l of result.left_behind ?? []) expect(l.reason).not.toBe("")
        // and again at the next sync: nothing there is ever silently dropped
        const again = yield* sync(w.request({ reason: "stop" }))
        expect(again.left_behind).toHaveLength(5)
      }))

    it.scoped("a clean sync-back leaves nothing behind", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.writeFileSync(path.join(w.runtime, "new.txt"), "N")
        const result = yield* sync(w.request({ reason: "stop" }))
        expect(result.left_behind).toEqual([])
        expect(result.files_from_runtime).toBe(1)
      }))
  })
}
