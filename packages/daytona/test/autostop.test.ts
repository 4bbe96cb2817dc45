/**
 * Daytona's auto-stop is an inactivity timer reset by API and toolbox traffic, not by processes running. The
 * emulator runs it with a short "minute"; the provider keeps a sandbox alive while a command runs in it, and only
 * then, so an idle sandbox still stops and saves money (issue 13, item 3).
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schedule, Stream } from "effect"
import { makeProvider, profile, spec, useEmulator } from "./helpers.js"

/** One auto-stop "minute" of the emulator: the profile's 1-minute interval is this long. */
const MINUTE_MS = 1000

const emulator = useEmulator({ autoStopMinuteMs: MINUTE_MS })

const stateOf = (id: string) => emulator().sandboxes().find((s) => s.id === id)?.state

const refreshes = () => emulator().stats().routes["POST /api/sandbox/{sandboxId}/last-activity"] ?? 0

describe("auto-stop", () => {
  it.scopedLive("a command that runs 3x the interval with no other traffic is not stopped", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile({ auto_stop: 1 }), {
        keepAliveEvery: `${MINUTE_MS / 4} millis`
      })
      const instance = yield* provider.create(spec())
      // Its output comes over one WebSocket: without a keep-alive nothing would reach the API for 3 intervals.
      const out = yield* Stream.runCollect(
        provider.execStream(instance, { shell: `sleep ${(3 * MINUTE_MS) / 1000}; echo done` })
      )
      expect(Chunk.toArray(out).at(-1)).toEqual({ _tag: "Exit", exit_code: 0 })
      expect(stateOf(instance.instance_id)).toBe("started")
      // A blocking exec is one long request: kept alive the same way.
      const blocking = yield* provider.exec(instance, { shell: `sleep ${(3 * MINUTE_MS) / 1000}; echo done` })
      expect(blocking.stdout).toBe("done\n")
      expect(stateOf(instance.instance_id)).toBe("started")
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("an idle sandbox (a reused one between sessions) is stopped after its interval", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile({ auto_stop: 1 }), {
        keepAliveEvery: `${MINUTE_MS / 4} millis`
      })
      const instance = yield* provider.create(spec())
      yield* provider.exec(instance, { argv: ["true"] })
      expect(stateOf(instance.instance_id)).toBe("started")
      // Watched through the emulator's handle, which is no API traffic.
      yield* Effect.sync(() => stateOf(instance.instance_id)).pipe(
        Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (s) => s === "stopped" }),
        Effect.timeout("20 seconds")
      )
      expect(stateOf(instance.instance_id)).toBe("stopped")
      // It starts again on demand, as reuse does.
      const started = yield* provider.start(instance)
      expect(started.state).toBe("running")
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))

  // A session's stop (sync back through exec and getArchive) and every finalizer run with interruption off; a
  // keep-alive forked there inherited that, so the end of the exec waited forever for a loop that never ends:
  // the CLI hung at the end of each Daytona run.
  it.scopedLive("the keep-alive ends with its command, even where interruption is off", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile({ auto_stop: 1 }), {
        keepAliveEvery: `${MINUTE_MS / 10} millis`
      })
      const instance = yield* provider.create(spec())
      const work = Effect.gen(function*() {
        const blocking = yield* provider.exec(instance, { shell: "sleep 0.5; echo done" })
        const streamed = yield* Stream.runCollect(provider.execStream(instance, { shell: "sleep 0.5; echo done" }))
        return [blocking.stdout, Chunk.toArray(streamed).at(-1)] as const
      })
      const ran = yield* work.pipe(Effect.uninterruptible, Effect.disconnect, Effect.timeout("20 seconds"))
      expect(ran).toEqual(["done\n", { _tag: "Exit", exit_code: 0 }])
      expect(refreshes()).toBeGreaterThan(0)
      // Nothing refreshes the sandbox once its commands have ended.
      const after = refreshes()
      yield* Effect.sleep(`${MINUTE_MS / 2} millis`)
      expect(refreshes()).toBe(after)
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))
})
