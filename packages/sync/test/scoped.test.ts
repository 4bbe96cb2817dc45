/**
 * The scoped sync-back: a warm engine reads the host again only where the runtime changed (and where it wrote
 * last time), taking the rest from its last host scan. It must decide exactly as a cold engine that scans the
 * whole host, and the entries it takes from the earlier scan must never vouch for content it did not read.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Ancestor from "../src/Ancestor.js"
import * as AncestorStore from "../src/AncestorStore.js"
import * as SyncEngine from "../src/SyncEngine.js"
import { EngineLayer, readTree, seed, sync, transports, world } from "./fixtures/harness.js"
import type { World } from "./fixtures/harness.js"

const T0 = {
  "a.txt": "A",
  "keep.txt": "K",
  "dir/b.txt": "B",
  "dir/sub/c.txt": "C",
  "gone/d.txt": "D",
  "gone/e.txt": "E",
  "other/f.txt": "F"
} as const
const put = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
  fs.writeFileSync(path.join(root, p), text)
}

// every kind of change on both sides: runtime-only, host-only, both (conflict), deletion against modification
const changeBoth = (w: World) => {
  put(w.runtime, "a.txt", "A-runtime")
  put(w.host, "keep.txt", "K-host")
  put(w.host, "dir/b.txt", "B-host")
  put(w.runtime, "dir/b.txt", "B-runtime")
  put(w.runtime, "dir/sub/new.txt", "N")
  fs.rmSync(path.join(w.runtime, "gone"), { recursive: true })
  put(w.host, "gone/added-on-host.txt", "H")
  fs.rmSync(path.join(w.runtime, "other/f.txt"))
  put(w.host, "late/host-only.txt", "L")
}

const stop = (w: World) => sync(w.request({ reason: "stop" }))

/** Runs the same story in two worlds: one engine stays warm, a new engine does the sync-back of the other. */
const story = (transport: "host-path" | "archive") =>
  Effect.gen(function*() {
    const warm = yield* world(T0, transport)
    const cold = yield* world(T0, transport)
    const warmEngine = yield* SyncEngine.make()
    const coldSeed = yield* SyncEngine.make()
    const coldStop = yield* SyncEngine.make()
    yield* warmEngine.seed(warm.request())
    yield* warmEngine.sync(warm.request())
    yield* coldSeed.seed(cold.request())
    yield* coldSeed.sync(cold.request())
    changeBoth(warm)
    changeBoth(cold)
    const a = yield* warmEngine.sync(warm.request({ reason: "stop" }))
    const b = yield* coldStop.sync(cold.request({ reason: "stop" }))
    return { warm, cold, a, b }
  })

describe("scoped sync-back", () => {
  for (const transport of transports) {
    it.scoped(`decides as a full scan does [${transport}]`, () =>
      Effect.gen(function*() {
        const { a, b, cold, warm } = yield* story(transport)
        const strip = (r: typeof a) => ({ ...r, duration_ms: 0 })
        expect(strip(a)).toEqual(strip(b))
        expect(a.conflicts.map((c) => c.path)).toEqual(["dir/b.txt"])
        expect(readTree(warm.host)).toEqual(readTree(cold.host))
        expect(readTree(warm.runtime)).toEqual(readTree(cold.runtime))
        // the host-only edits stay where they are, the runtime's changes arrived, deletion lost to the host's add
        const host = readTree(warm.host)
        expect(host["keep.txt"]).toBe("f:K-host")
        expect(host["a.txt"]).toBe("f:A-runtime")
        expect(host["dir/sub/new.txt"]).toBe("f:N")
        expect(host["gone/added-on-host.txt"]).toBe("f:H")
        expect(host["other/f.txt"]).toBeUndefined()
        // and both engines leave the same ancestor behind
        const load = (w: World) =>
          AncestorStore.load(w.state, {
            session_id: w.request().session_id,
            sandbox_id: w.request().sandbox_id,
            instance_id: w.request().instance.instance_id,
            host_root: w.host,
            runtime_root: w.request().instance.workdir
          })
        const [x, y] = [yield* load(warm), yield* load(cold)]
        const entries = (o: typeof x) => o._tag === "Some" ? [...o.value.ancestor.entries].sort() : []
        expect(entries(x).map(([p, e]) => [p, e.kind, e.digest])).toEqual(
          entries(y).map(([p, e]) => [p, e.kind, e.digest])
        )
        expect(x._tag === "Some" && Ancestor.validate(x.value.ancestor)).toBeUndefined()
      }).pipe(Effect.provide(EngineLayer)))
  }

  it.scopedLive(
    "a host file the last scan hashed while racy is never trusted by a later scoped sync-back",
    () =>
      Effect.gen(function*() {
        const w = yield* world({ "a.txt": "A", "r.txt": "R" })
        yield* seed(w.request())
        // modified a second ago (a whole second, so that it can be set again exactly): the next scan finds it inside
        // the racy window and records its digest as racy
        const tick = Math.floor(Date.now() / 1000) - 1
        put(w.host, "a.txt", "A1")
        fs.utimesSync(path.join(w.host, "a.txt"), tick, tick)
        yield* sync(w.request())
        // the same size within the same mtime tick: only a re-read can tell
        put(w.host, "a.txt", "A2")
        fs.utimesSync(path.join(w.host, "a.txt"), tick, tick)
        // the record's racy window has passed; a scoped sync-back (the runtime changed r.txt only) must not turn
        // that racy record into a trusted one
        yield* Effect.sleep("2100 millis")
        put(w.runtime, "r.txt", "R-runtime")
        yield* stop(w)
        const result = yield* sync(w.request())
        expect(result.files_to_runtime).toBe(1)
        expect(readTree(w.runtime)["a.txt"]).toBe("f:A2")
      }).pipe(Effect.provide(EngineLayer)),
    20_000
  )

  it.scoped("consecutive sync-backs with a host edit between them: the edit stays, and a checkpoint sends it", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A", "b.txt": "B" })
      yield* seed(w.request())
      put(w.runtime, "a.txt", "A-runtime")
      yield* stop(w)
      // the host then edits the file the engine just wrote, and the runtime changes something else
      put(w.host, "a.txt", "A-host-again")
      put(w.runtime, "b.txt", "B-runtime")
      const result = yield* stop(w)
      expect(result.conflicts).toEqual([])
      expect(readTree(w.host)).toMatchObject({ "a.txt": "f:A-host-again", "b.txt": "f:B-runtime" })
      // a checkpoint then sends the host's edit in
      yield* sync(w.request())
      expect(readTree(w.runtime)["a.txt"]).toBe("f:A-host-again")
    }).pipe(Effect.provide(EngineLayer)))
})
