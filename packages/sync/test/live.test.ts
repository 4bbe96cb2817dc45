/**
 * Live sync end to end in the engine: real watchers, real files, batches through the engine's scoped cycle.
 *
 * The randomized test runs two writer processes (one on the host tree, one on the runtime tree) that apply random
 * create / modify / delete / rename / mode change / type change operations while live sync runs, then stop. After
 * quiescence: both trees are equal except for conflicts, every content a side wrote last at a path (and that the
 * other side did not touch afterwards) is at that path on its side or in the path's conflict copy, and a full
 * three-way sync finds nothing left to move. The seed is fixed in CI; `SEED=random` (or a number) locally.
 */
import { describe, expect, it } from "@effect/vitest"
import type { LiveHandle, SyncResult } from "@org/sandbox-core/WorkspaceSync"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SyncEngine from "../src/SyncEngine.js"
import type { Transport, World } from "./fixtures/harness.js"
import { EngineLayer, readTree, SESSION, world } from "./fixtures/harness.js"
import { check, runWriter, seedOf, T0 } from "./fixtures/twoWriters.js"

type Engine = Effect.Effect.Success<ReturnType<typeof SyncEngine.make>>

/** Starts live sync on a world; every batch result is collected. */
const startLive = (engine: Engine, w: World) =>
  Effect.gen(function*() {
    const results: Array<SyncResult> = []
    const failures: Array<string> = []
    const request = w.request({ mode: "live", reason: "live" })
    const handle = yield* engine.live!(request, {
      batch: (scope) =>
        engine.sync({ ...request, ...(scope !== undefined ? { scope } : {}) }).pipe(
          Effect.tap((r) => Effect.sync(() => results.push(r))),
          Effect.tapError((e) => Effect.sync(() => failures.push(e.message))),
          Effect.uninterruptible
        )
    })
    return { handle, results, failures }
  })

/** Waits until live sync has nothing pending and no batch ran for `quietMs`. */
const quiesce = (handle: LiveHandle, quietMs: number, timeoutMs = 60_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    let last = -1
    let since = Date.now()
    for (;;) {
      const s = yield* handle.status
      if (s.batches !== last || s.pending > 0 || s.state !== "watching") {
        last = s.batches
        since = Date.now()
      } else if (Date.now() - since >= quietMs) return s
      if (Date.now() - start > timeoutMs) return s
      yield* Effect.sleep("50 millis")
    }
  })

const until = (check: () => boolean, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!check()) {
      if (Date.now() - start > timeoutMs) return false
      yield* Effect.sleep("10 millis")
    }
    return true
  })

const randomized = (transport: Transport, ops: number, quietMs: number) =>
  Effect.gen(function*() {
    const seed = seedOf()
    const w = yield* world(T0, transport)
    const engine = yield* SyncEngine.make()
    yield* engine.seed(w.request({ mode: "live", reason: "start" }))
    const live = yield* startLive(engine, w)
    yield* quiesce(live.handle, 200)
    const [host, runtime] = yield* Effect.all(
      [runWriter(w.host, "host", seed, ops, 15), runWriter(w.runtime, "runtime", seed + 1, ops, 15)],
      { concurrency: 2 }
    )
    const status = yield* quiesce(live.handle, quietMs)
    const trees = { host: readTree(w.host), runtime: readTree(w.runtime) }
    // the conflicts standing now are what a full three-way sync reports (it changes nothing there); that sync
    // must find nothing else to move: live sync left nothing behind
    const full = yield* engine.sync(w.request({ mode: "live", reason: "checkpoint" }))
    const conflicted = new Set(full.conflicts.map((c) => c.path))
    const problems = check(trees, { host, runtime }, conflicted, SESSION)
    // a batch that a writer raced (a directory replaced as it was written or packed) may fail: it is retried as a
    // full rescan, and what counts is where the trees end
    const context = `seed ${seed} (${transport}): ${live.results.length} batches, ${conflicted.size} conflicts, ` +
      `${live.failures.length} batches retried (${live.failures.slice(0, 3).join("; ")})`
    expect(status.state, context).toBe("watching")
    expect(problems, context).toEqual([])
    const n = full.files_to_runtime + full.files_from_runtime + full.deleted_in_runtime + full.deleted_on_host
    expect(n, context).toBe(0)
  })

describe("live sync", () => {
  it.scopedLive(
    "an edit on either side reaches the other; the echo of the engine's own writes moves nothing",
    () =>
      Effect.gen(function*() {
        const w = yield* world({ "a.txt": "A", "dir/b.txt": "B" })
        const engine = yield* SyncEngine.make()
        yield* engine.seed(w.request({ mode: "live", reason: "start" }))
        const live = yield* startLive(engine, w)
        yield* quiesce(live.handle, 200)
        fs.writeFileSync(path.join(w.host, "a.txt"), "A-host")
        expect(yield* until(() => readTree(w.runtime)["a.txt"] === "f:A-host")).toBe(true)
        fs.mkdirSync(path.join(w.runtime, "new/deep"), { recursive: true })
        fs.writeFileSync(path.join(w.runtime, "new/deep/c.txt"), "C")
        expect(yield* until(() => readTree(w.host)["new/deep/c.txt"] === "f:C")).toBe(true)
        fs.rmSync(path.join(w.host, "dir"), { recursive: true })
        expect(yield* until(() => readTree(w.runtime)["dir/b.txt"] === undefined)).toBe(true)
        const status = yield* quiesce(live.handle, 300)
        expect(status.state).toBe("watching")
        expect(status.host_watcher).toBe("fs.watch")
        // after the last change, the batches that read the echo of the engine's writes moved nothing
        const moved = live.results.map((r) => r.files_to_runtime + r.files_from_runtime + r.deleted_in_runtime)
        expect(moved.filter((n) => n > 0).length).toBeLessThanOrEqual(3)
        expect(moved[moved.length - 1]).toBe(0)
        expect(readTree(w.host)).toEqual(readTree(w.runtime))
      }).pipe(Effect.provide(EngineLayer)),
    30_000
  )

  it.scopedLive("excludes apply both ways while live", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A" })
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request({ mode: "live", reason: "start" }))
      const live = yield* startLive(engine, w)
      yield* quiesce(live.handle, 200)
      fs.mkdirSync(path.join(w.runtime, "node_modules/x"), { recursive: true })
      fs.writeFileSync(path.join(w.runtime, "node_modules/x/i.js"), "x")
      fs.mkdirSync(path.join(w.host, ".git"))
      fs.writeFileSync(path.join(w.host, ".git/HEAD"), "ref")
      fs.writeFileSync(path.join(w.host, "a.txt"), "A2")
      expect(yield* until(() => readTree(w.runtime)["a.txt"] === "f:A2")).toBe(true)
      yield* quiesce(live.handle, 300)
      expect(fs.existsSync(path.join(w.host, "node_modules"))).toBe(false)
      expect(fs.existsSync(path.join(w.runtime, ".git"))).toBe(false)
    }).pipe(Effect.provide(EngineLayer)), 30_000)

  it.scopedLive("the mass-deletion halt pauses live sync and says so; resume rescans", () =>
    Effect.gen(function*() {
      const files: Record<string, string> = {}
      for (let i = 0; i < 20; i++) files[`f${i}.txt`] = `${i}`
      const w = yield* world(files)
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request({ mode: "live", reason: "start" }))
      const live = yield* startLive(engine, w)
      yield* quiesce(live.handle, 200)
      for (let i = 0; i < 18; i++) fs.rmSync(path.join(w.runtime, `f${i}.txt`))
      expect(yield* until(() => live.failures.length > 0)).toBe(true)
      const paused = yield* live.handle.status
      expect(paused.state).toBe("paused")
      expect(paused.last_error).toMatch(/would delete 18 of 20 files/)
      expect(Object.keys(readTree(w.host))).toHaveLength(20)
      // the runtime puts the files back; resume rescans in full and goes on watching
      for (let i = 0; i < 18; i++) fs.writeFileSync(path.join(w.runtime, `f${i}.txt`), `${i}`)
      yield* live.handle.resume
      const after = yield* quiesce(live.handle, 300)
      expect(after.state).toBe("watching")
      fs.writeFileSync(path.join(w.host, "f0.txt"), "again")
      expect(yield* until(() => readTree(w.runtime)["f0.txt"] === "f:again")).toBe(true)
    }).pipe(Effect.provide(EngineLayer)), 30_000)

  it.scopedLive("pause holds batches back; resume catches up with a full rescan", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A" })
      const engine = yield* SyncEngine.make()
      yield* engine.seed(w.request({ mode: "live", reason: "start" }))
      const live = yield* startLive(engine, w)
      yield* quiesce(live.handle, 200)
      // pause, change both sides (the watchers see it, the batches wait), resume: a full rescan catches up
      yield* live.handle.pause
      fs.writeFileSync(path.join(w.host, "h.txt"), "H")
      fs.writeFileSync(path.join(w.runtime, "r.txt"), "R")
      yield* Effect.sleep("200 millis")
      expect(readTree(w.runtime)["h.txt"]).toBeUndefined()
      expect((yield* live.handle.status).pending).toBeGreaterThan(0)
      yield* live.handle.resume
      yield* quiesce(live.handle, 300)
      expect(readTree(w.runtime)["h.txt"]).toBe("f:H")
      expect(readTree(w.host)["r.txt"]).toBe("f:R")
    }).pipe(Effect.provide(EngineLayer)), 30_000)

  it.scopedLive(
    "randomized two writers, runtime on this host [host-path]",
    () => randomized("host-path", 200, 500).pipe(Effect.provide(EngineLayer)),
    120_000
  )

  it.scopedLive(
    "randomized two writers, remote runtime watched by a process in it [archive]",
    () => randomized("archive", 120, 3000).pipe(Effect.provide(EngineLayer)),
    180_000
  )
})
