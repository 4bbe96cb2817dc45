/**
 * What a transfer does not keep is said (sparse files written out in full, hard links split), and a session's sync
 * state can be forgotten once the session has ended.
 */
import { expect, layer } from "@effect/vitest"
import { WorkspaceSync } from "@org/sandbox-core/WorkspaceSync"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineLayer, seed, sync, world } from "./fixtures/harness.js"

layer(EngineLayer)("notices and forget", (it) => {
  it.scoped("a sparse file and hard links are transferred as plain files, and the result says so", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A" })
      const fd = fs.openSync(path.join(w.host, "sparse.bin"), "w")
      fs.ftruncateSync(fd, 8 << 20)
      fs.writeSync(fd, "end", (8 << 20) - 3)
      fs.closeSync(fd)
      const seeded = yield* seed(w.request())
      expect(seeded.notices).toEqual([{ path: "sparse.bin", reason: "sparse file written out in full" }])
      fs.writeFileSync(path.join(w.runtime, "one.txt"), "linked")
      fs.linkSync(path.join(w.runtime, "one.txt"), path.join(w.runtime, "two.txt"))
      const back = yield* sync(w.request({ reason: "stop" }))
      expect(back.notices).toEqual([
        { path: "one.txt", reason: "hard link split: copied as a separate file" },
        { path: "two.txt", reason: "hard link split: copied as a separate file" }
      ])
      expect(fs.readFileSync(path.join(w.host, "two.txt"), "utf8")).toBe("linked")
    }))

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
