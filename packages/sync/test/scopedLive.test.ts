/**
 * The scoped two-way cycle (what a live batch runs): given the paths watchers saw change, a warm engine reads
 * only those on both sides. It must decide as a full three-way cycle does, update the ancestor alike, keep
 * excluded paths out both ways and stop at the mass-deletion guard.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as AncestorStore from "../src/AncestorStore.js"
import * as SyncEngine from "../src/SyncEngine.js"
import { EngineLayer, readTree, transports, world } from "./fixtures/harness.js"
import type { World } from "./fixtures/harness.js"

const T0 = {
  "a.txt": "A",
  "keep.txt": "K",
  "dir/b.txt": "B",
  "dir/sub/c.txt": "C",
  "gone/d.txt": "D",
  "gone/e.txt": "E",
  "other/f.txt": "F",
  "tool.sh": { x: "#!/bin/sh\n" }
} as const
const put = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
  fs.writeFileSync(path.join(root, p), text)
}

// both sides change, one path both ways (a conflict), a deletion against an addition, a rename, a mode change and
// a type change; returns the paths a watcher on each side would report
const changeBoth = (w: World): Array<string> => {
  put(w.runtime, "a.txt", "A-runtime")
  put(w.host, "keep.txt", "K-host")
  put(w.host, "dir/b.txt", "B-host")
  put(w.runtime, "dir/b.txt", "B-runtime")
  put(w.runtime, "dir/sub/new.txt", "N")
  fs.rmSync(path.join(w.runtime, "gone"), { recursive: true })
  put(w.host, "gone/added-on-host.txt", "H")
  fs.renameSync(path.join(w.host, "other/f.txt"), path.join(w.host, "other/g.txt"))
  fs.chmodSync(path.join(w.runtime, "tool.sh"), 0o644)
  fs.rmSync(path.join(w.host, "dir/sub/c.txt"))
  fs.mkdirSync(path.join(w.host, "dir/sub/c.txt"))
  put(w.host, "dir/sub/c.txt/inner.txt", "I")
  return [
    "a.txt",
    "keep.txt",
    "dir/b.txt",
    "dir/sub/new.txt",
    "gone",
    "gone/added-on-host.txt",
    "other/f.txt",
    "other/g.txt",
    "tool.sh",
    "dir/sub/c.txt"
  ]
}

const ancestorOf = (w: World) =>
  Effect.map(
    AncestorStore.load(w.state, {
      session_id: w.request().session_id,
      sandbox_id: w.request().sandbox_id,
      instance_id: w.request().instance.instance_id,
      host_root: w.host,
      runtime_root: w.request().instance.workdir
    }),
    (o) =>
      o._tag === "Some"
        ? [...o.value.ancestor.entries].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, e]) => [p, e.kind, e.digest])
        : []
  )

describe("scoped two-way cycle (a live batch)", () => {
  for (const transport of transports) {
    it.scoped(`decides as a full cycle does [${transport}]`, () =>
      Effect.gen(function*() {
        const live = yield* world(T0, transport)
        const full = yield* world(T0, transport)
        const a = yield* SyncEngine.make()
        const b = yield* SyncEngine.make()
        yield* a.seed(live.request())
        yield* b.seed(full.request())
        const scope = changeBoth(live)
        changeBoth(full)
        const x = yield* a.sync(live.request({ scope }))
        const y = yield* b.sync(full.request())
        const strip = (r: typeof x) => ({ ...r, duration_ms: 0 })
        expect(strip(x)).toEqual(strip(y))
        expect(x.conflicts.map((c) => c.path)).toEqual(["dir/b.txt"])
        expect(readTree(live.host)).toEqual(readTree(full.host))
        expect(readTree(live.runtime)).toEqual(readTree(full.runtime))
        expect(readTree(live.runtime)["other/g.txt"]).toBe("f:F")
        expect(readTree(live.runtime)["dir/sub/c.txt/inner.txt"]).toBe("f:I")
        expect(readTree(live.host)["tool.sh"]).toBe("f:#!/bin/sh\n")
        expect(yield* ancestorOf(live)).toEqual(yield* ancestorOf(full))
        // a second batch over paths the first one wrote finds nothing to do
        const again = yield* a.sync(live.request({ scope }))
        expect(again.files_to_runtime + again.files_from_runtime + again.deleted_on_host).toBe(0)
      }).pipe(Effect.provide(EngineLayer)))

    it.scoped(`reads only its scope: a change outside it waits for a later batch [${transport}]`, () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        const engine = yield* SyncEngine.make()
        yield* engine.seed(w.request())
        put(w.host, "a.txt", "A1")
        put(w.host, "keep.txt", "K1")
        const first = yield* engine.sync(w.request({ scope: ["a.txt"] }))
        expect(first.files_to_runtime).toBe(1)
        expect(readTree(w.runtime)["keep.txt"]).toBe("f:K")
        const second = yield* engine.sync(w.request({ scope: ["keep.txt"] }))
        expect(second.files_to_runtime).toBe(1)
        expect(readTree(w.runtime)).toEqual(readTree(w.host))
      }).pipe(Effect.provide(EngineLayer)))
  }

  it.scoped("a remote runtime is read only in the scope: one exec walks the scope, not the tree [archive]", () =>
    Effect.gen(function*() {
      const w = yield* world(T0, "archive")
      // files older than the racy window: a record of them is trusted, never read again unasked
      const old = Date.now() / 1000 - 60
      for (const p of Object.keys(T0)) fs.utimesSync(path.join(w.host, p), old, old)
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request())
      // warm: the host's scan that scoped batches build on
      yield* engine.sync(w.request())
      put(w.runtime, "a.txt", "A-runtime")
      put(w.runtime, "other/f.txt", "F-runtime")
      put(w.runtime, "dir/sub/deeper/new.txt", "N")
      w.dir.calls.length = 0
      const first = yield* engine.sync(w.request({ scope: ["a.txt", "dir/sub/deeper/new.txt"] }))
      expect(w.dir.calls).toEqual(["exec", "getArchive"])
      expect(first.files_from_runtime).toBe(2)
      expect(readTree(w.host)["dir/sub/deeper/new.txt"]).toBe("f:N")
      // outside the scope: waits for the batch whose watcher event names it
      expect(readTree(w.host)["other/f.txt"]).toBe("f:F")
      const second = yield* engine.sync(w.request({ scope: ["other"] }))
      expect(second.files_from_runtime).toBe(1)
      expect(readTree(w.host)).toEqual(readTree(w.runtime))
    }).pipe(Effect.provide(EngineLayer)))

  it.scoped("a directory above the scope that became a file drops what the snapshot had under it [archive]", () =>
    Effect.gen(function*() {
      const w = yield* world(T0, "archive")
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request())
      yield* engine.sync(w.request())
      fs.rmSync(path.join(w.runtime, "dir"), { recursive: true })
      put(w.runtime, "dir", "now a file")
      const r = yield* engine.sync(w.request({ scope: ["dir/b.txt"] }))
      expect(r.deleted_on_host + r.files_from_runtime).toBeGreaterThan(0)
      expect(readTree(w.host)).toEqual(readTree(w.runtime))
      expect(readTree(w.host)["dir"]).toBe("f:now a file")
    }).pipe(Effect.provide(EngineLayer)))

  it.scoped("excludes apply both ways: a scope inside an excluded directory moves nothing", () =>
    Effect.gen(function*() {
      const w = yield* world(T0)
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request({ exclude: ["build/"] }))
      put(w.runtime, "node_modules/x/index.js", "x")
      put(w.host, "build/out.bin", "o")
      put(w.runtime, "a.txt", "A2")
      const r = yield* engine.sync(
        w.request({ exclude: ["build/"], scope: ["node_modules/x/index.js", "node_modules", "build/out.bin", "a.txt"] })
      )
      expect(r.files_from_runtime).toBe(1)
      expect(fs.existsSync(path.join(w.host, "node_modules"))).toBe(false)
      expect(fs.existsSync(path.join(w.runtime, "build"))).toBe(false)
    }).pipe(Effect.provide(EngineLayer)))

  it.scoped("the mass-deletion guard stops a scoped batch that would delete most of the host", () =>
    Effect.gen(function*() {
      const files: Record<string, string> = {}
      for (let i = 0; i < 20; i++) files[`f${i}.txt`] = `${i}`
      const w = yield* world(files)
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request())
      for (let i = 0; i < 18; i++) fs.rmSync(path.join(w.runtime, `f${i}.txt`))
      const scope = Array.from({ length: 18 }, (_, i) => `f${i}.txt`)
      const error = yield* Effect.flip(engine.sync(w.request({ scope })))
      expect(error.reason).toBe("MassDeletion")
      expect(Object.keys(readTree(w.host))).toHaveLength(20)
    }).pipe(Effect.provide(EngineLayer)))
})
