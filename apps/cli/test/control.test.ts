/**
 * The asking side of the supervisor's control files: it must have the answer when it is written, not at its next
 * look. These run under Effect's test clock, which never moves by itself: a wait that looks again only after a
 * sleep (as a poll does) never sees the answer here, so only a real notification passes.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect, Either, Fiber, TestClock } from "effect"
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { awaitFile } from "../src/AwaitFile.js"

/** Real time, outside the test clock. */
const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Fails the test when `self` has not finished within `ms` of real time. */
const within = <A, E, R>(ms: number, self: Effect.Effect<A, E, R>) =>
  Effect.raceFirst(self, Effect.flatMap(realSleep(ms), () => Effect.die(new Error(`not done within ${ms} ms`))))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "control-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

layer(NodeContext.layer)("supervisor control files", (it) => {
  it.scoped("an answer renamed into place after the wait began is read at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const waiting = yield* Effect.fork(awaitFile(dir, "1.json", "10 minutes"))
      yield* realSleep(50)
      writeFileSync(join(dir, "1.json.tmp"), "{\"ok\":true}")
      renameSync(join(dir, "1.json.tmp"), join(dir, "1.json"))
      expect(yield* within(5_000, waiting.await.pipe(Effect.flatten))).toBe("{\"ok\":true}")
    }))

  it.scoped("an answer already there is read by the first look; other files do not end the wait", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeFileSync(join(dir, "2.json"), "early")
      expect(yield* within(5_000, awaitFile(dir, "2.json", "1 minute"))).toBe("early")
      const waiting = yield* Effect.fork(awaitFile(dir, "3.json", "1 minute"))
      writeFileSync(join(dir, "4.json"), "someone else's")
      yield* realSleep(100)
      expect(waiting.unsafePoll()).toBeNull()
      writeFileSync(join(dir, "3.json"), "mine")
      expect(yield* within(5_000, waiting.await.pipe(Effect.flatten))).toBe("mine")
    }))

  it.scoped("no answer ends in a timeout", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const waiting = yield* Effect.fork(Effect.either(awaitFile(dir, "5.json", "1 minute")))
      yield* TestClock.adjust("2 minutes")
      expect(yield* within(5_000, Fiber.join(waiting))).toEqual(Either.left("timeout"))
    }))
})
