/**
 * What a transfer does not keep is said (sparse files written out in full, hard links split), and a session's sync
 * state can be forgotten once the session has ended.
 */
import { expect, layer } from "@effect/vitest"
import { WorkspaceSync } from "@org/sandbox-core/WorkspaceSync"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineLayer, seed, sync, transports, world } from "./fixtures/harness.js"

for (const transport of transports) {
  layer(EngineLayer)(`notices [${transport}]`, (it) => {
    it.scoped("a sparse file and hard links are transferred as plain files, and the result says so", () =>
      Effect.gen(function*() {
        const w = yield* world({ "a.txt": "A" }, transport)
        const fd = fs.openSync(path.join(w.host, "sparse.bin"), "w")
        fs.ftruncateSync(fd, 8 << 20)
        fs.writeSync(fd, "end", (8 << 20) - 3)
        fs.closeSync(fd)
        fs.writeFileSync(path.join(w.host, "h1.txt"), "host link")
        fs.linkSync(path.join(w.host, "h1.txt"), path.join(w.host, "h2.txt"))
        const seeded = yield* seed(w.request())
        expect(seeded.notices).toEqual([
          { path: "h1.txt", reason: "hard link split: copied as a separate file" },
          { path: "h2.txt", reason: "hard link split: copied as a separate file" },
          { path: "sparse.bin", reason: "sparse file written out in full" }
        ])
        // split in the runtime too: one is written, the other keeps its content
        expect(fs.statSync(path.join(w.runtime, "h1.txt")).ino).not.toBe(
          fs.statSync(path.join(w.runtime, "h2.txt")).ino
        )
        fs.writeFileSync(path.join(w.runtime, "one.txt"), "linked")
        fs.linkSync(path.join(w.runtime, "one.txt"), path.join(w.runtime, "two.txt"))
        const rfd = fs.openSync(path.join(w.runtime, "hole.bin"), "w")
        fs.ftruncateSync(rfd, 4 << 20)
        fs.writeSync(rfd, "end", (4 << 20) - 3)
        fs.closeSync(rfd)
        const back = yield* sync(w.request({ reason: "stop" }))
        expect(back.notices).toEqual([
          { path: "hole.bin", reason: "sparse file written out in full" },
          { path: "one.txt", reason: "hard link split: copied as a separate file" },
          { path: "two.txt", reason: "hard link split: copied as a separate file" }
        ])
        expect(fs.readFileSync(path.join(w.host, "two.txt"), "utf8")).toBe("linked")
        expect(fs.statSync(path.join(w.host, "hole.bin")).size).toBe(4 << 20)
      }))
  })
}

layer(EngineLayer)("forget", (it) => {
  it.scoped("forget drops a session's sync state; the next sync starts from no ancestor", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A", "dir/b.txt": "B" })
      yield* seed(w.request())
      expect(fs.readdirSync(w.state)).toContain("sync-ancestor.json")
      fs.writeFileSync(path.join(w.state, "unrelated"), "kept")
      const engine = yield* WorkspaceSync
      yield* engine.forget!(w.state)
      expect(fs.readdirSync(w.state)).toEqual(["unrelated"])
      // no ancestor: a runtime deletion is not propagated (it is not known to be one), the host keeps its file
      fs.rmSync(path.join(w.runtime, "a.txt"))
      const result = yield* sync(w.request({ reason: "stop" }))
      expect(result.deleted_on_host).toBe(0)
      expect(fs.readFileSync(path.join(w.host, "a.txt"), "utf8")).toBe("A")
    }))
})
