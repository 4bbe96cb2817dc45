/**
 * The live loop's decisions, with watchers driven by the test: bursts become one scoped batch, a watcher overflow
 * makes the next batch a full rescan, a failed batch is retried in full, the mass-deletion halt pauses.
 */
import { describe, expect, it } from "@effect/vitest"
import { SyncError } from "@org/sandbox-core/SandboxError"
import { emptyResult } from "@org/sandbox-core/WorkspaceSync"
import { Effect } from "effect"
import * as LiveSync from "../src/LiveSync.js"

const drive = () => {
  const handlers: Array<LiveSync.WatchHandlers> = []
  const watch = (name: string): LiveSync.Watch => ({
    name,
    start: (h) => Effect.sync(() => void handlers.push(h))
  })
  return { handlers, host: watch("test-host"), runtime: watch("test-runtime") }
}

const settle = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400 && !check(); i++) yield* Effect.sleep("5 millis")
    expect(check()).toBe(true)
  })

describe("LiveSync.run", () => {
  it.scopedLive("a burst is one scoped batch; an overflow makes the next one a full rescan", () =>
    Effect.gen(function*() {
      const d = drive()
      const batches: Array<ReadonlyArray<string> | undefined> = []
      const handle = yield* LiveSync.run({
        host: d.host,
        runtime: d.runtime,
        batch: (scope) => Effect.sync(() => void batches.push(scope)).pipe(Effect.as(emptyResult())),
        debounceMs: 20
      })
      // the first batch catches up in full
      yield* settle(() => batches.length === 1)
      expect(batches[0]).toBeUndefined()
      d.handlers[0]!.paths(["a.txt"])
      d.handlers[1]!.paths(["b/c.txt", "a.txt"])
      yield* settle(() => batches.length === 2)
      expect([...batches[1]!].sort()).toEqual(["a.txt", "b/c.txt"])
      d.handlers[1]!.overflow("queue overflow")
      yield* settle(() => batches.length === 3)
      expect(batches[2]).toBeUndefined()
      const status = yield* handle.status
      expect(status).toMatchObject({ state: "watching", pending: 0, batches: 3, last_error: null })
      expect(status.runtime_watcher).toBe("test-runtime")
    }))

  it.scopedLive("a failed batch is retried in full; the mass-deletion halt pauses until resume", () =>
    Effect.gen(function*() {
      const d = drive()
      const batches: Array<ReadonlyArray<string> | undefined> = []
      let fail: SyncError | undefined
      const handle = yield* LiveSync.run({
        host: d.host,
        runtime: d.runtime,
        batch: (scope) =>
          Effect.suspend(() => {
            batches.push(scope)
            const f = fail
            fail = undefined
            return f !== undefined ? Effect.fail(f) : Effect.succeed(emptyResult())
          }),
        debounceMs: 10
      })
      yield* settle(() => batches.length === 1)
      fail = new SyncError({ direction: "to_runtime", reason: "Io", detail: "disk full" })
      d.handlers[0]!.paths(["x"])
      yield* settle(() => batches.length === 2)
      expect((yield* handle.status).state).toBe("error")
      // retried after the backoff, as a full rescan
      yield* settle(() => batches.length === 3)
      expect(batches[2]).toBeUndefined()
      expect((yield* handle.status).state).toBe("watching")
      fail = new SyncError({ direction: "from_runtime", reason: "MassDeletion", detail: "would delete 18 of 20" })
      d.handlers[1]!.paths(["y"])
      yield* settle(() => batches.length === 4)
      const paused = yield* handle.status
      expect(paused.state).toBe("paused")
      expect(paused.last_error).toContain("would delete 18 of 20")
      d.handlers[1]!.paths(["z"])
      yield* Effect.sleep("100 millis")
      expect(batches).toHaveLength(4)
      expect((yield* handle.status).pending).toBe(1)
      yield* handle.resume
      yield* settle(() => batches.length === 5)
      expect(batches[4]).toBeUndefined()
      expect((yield* handle.status).state).toBe("watching")
    }))
})
