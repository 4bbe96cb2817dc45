import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as DirProvider from "./fixtures/DirProvider.js"
import { EngineLayer, expected, readTree, seed, sync, transports, world } from "./fixtures/harness.js"

const T0 = {
  "a.txt": "A",
  "dir/b.txt": "B",
  "run.sh": { x: "#!/bin/sh" },
  link: { link: "a.txt" },
  "empty": { dir: true }
} as const

for (const transport of transports) {
  layer(EngineLayer)(`smoke [${transport}]`, (it) => {
    it.scoped("seed, no-op, host modify, runtime modify", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        const r1 = yield* seed(w.request())
        expect(readTree(w.runtime)).toEqual(expected(T0))
        expect(r1.files_to_runtime).toBe(4)
        expect(w.dir.calls).toEqual(transport === "archive" ? ["exec", "putArchive", "exec"] : ["hostPath", "hostPath"])
        const r2 = yield* sync(w.request())
        expect(r2.files_to_runtime + r2.files_from_runtime).toBe(0)
        fs.writeFileSync(path.join(w.host, "a.txt"), "A2")
        const r3 = yield* sync(w.request())
        expect(r3.files_to_runtime).toBe(1)
        expect(readTree(w.runtime)).toEqual(readTree(w.host))
        fs.writeFileSync(path.join(w.runtime, "dir/b.txt"), "B2")
        const r4 = yield* sync(w.request())
        expect(r4.files_from_runtime).toBe(1)
        expect(readTree(w.host)).toEqual(readTree(w.runtime))
        expect(readTree(w.host)["dir/b.txt"]).toBe("f:B2")
      }))

    it.scoped("the other path takes over the same ancestor: nothing moves, then changes flow both ways", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        const other = DirProvider.make({
          root: w.runtime,
          instanceId: w.dir.instance.instance_id,
          transport: transport === "archive" ? "host-path" : "archive"
        })
        const request = () => ({ ...w.request(), provider: other.provider, instance: other.instance })
        const idle = yield* sync(request())
        expect(idle.files_to_runtime + idle.files_from_runtime + idle.deleted_in_runtime + idle.deleted_on_host)
          .toBe(0)
        fs.writeFileSync(path.join(w.host, "a.txt"), "A-host")
        fs.writeFileSync(path.join(w.runtime, "dir/b.txt"), "B-runtime")
        const moved = yield* sync(request())
        expect([moved.files_to_runtime, moved.files_from_runtime, moved.conflicts]).toEqual([1, 1, []])
        expect(readTree(w.host)).toEqual(readTree(w.runtime))
        expect(readTree(w.host)["a.txt"]).toBe("f:A-host")
        expect(readTree(w.host)["dir/b.txt"]).toBe("f:B-runtime")
      }))
  })
}
