/**
 * A reuse session reattaches to the sandbox an earlier session kept: it syncs against that sandbox's ancestor,
 * whatever its own session id.
 */
import { expect, layer } from "@effect/vitest"
import { SessionId } from "@org/sandbox-core/Ids"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineLayer, seed, sync, world } from "./fixtures/harness.js"

layer(EngineLayer)("reuse", (it) => {
  it.scoped("a later session of the same sandbox finds the ancestor: host edits and deletions reach the runtime", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A", "gone.txt": "G", "kept.txt": "K" })
      yield* seed(w.request({ reason: "start" }))
      yield* sync(w.request({ reason: "stop" }))
      // between sessions the user edits one file and deletes another
      fs.writeFileSync(path.join(w.host, "a.txt"), "A2")
      fs.rmSync(path.join(w.host, "gone.txt"))
      const next = { ...w.request({ reason: "start" }), session_id: SessionId.make("ses_nextsession001") }
      const result = yield* sync(next)
      expect(result.conflicts).toEqual([])
      expect(fs.readFileSync(path.join(w.runtime, "a.txt"), "utf8")).toBe("A2")
      expect(fs.existsSync(path.join(w.runtime, "gone.txt"))).toBe(false)
      expect(fs.existsSync(path.join(w.host, "gone.txt"))).toBe(false)
      expect(fs.readdirSync(w.host).sort()).toEqual(["a.txt", "kept.txt"])
    }))
})
