/**
 * Waiting for a file another process writes (a supervisor's answer, renamed into place): watched, not polled.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { type Duration, Effect, Option, Queue } from "effect"
import { watch } from "node:fs"

/**
 * How long to wait between two looks when the directory's events do not come (a filesystem that does not report
 * them): the answer is still read, only later.
 */
const FALLBACK_LOOK_MS = 1000

/**
 * The text of `dir/name` once it exists: read at once, then again at every change in `dir` (the answer arrives by
 * a rename into `dir`), and at least every FALLBACK_LOOK_MS. Fails with "timeout" after `timeout`.
 */
export const awaitFile = (dir: string, name: string, timeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const changed = yield* Queue.sliding<void>(1)
    // Watching starts before the first look: an answer written in between is seen by the look or the watch.
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        try {
          const watcher = watch(dir, () => void Queue.unsafeOffer(changed, undefined))
          watcher.on("error", () => {})
          return watcher
        } catch {
          return undefined
        }
      }),
      (watcher) => Effect.sync(() => watcher?.close())
    )
    const file = path.join(dir, name)
    while (true) {
      const text = yield* fs.readFileString(file).pipe(Effect.option)
      if (Option.isSome(text)) return text.value
      yield* Effect.raceFirst(Queue.take(changed), Effect.sleep(FALLBACK_LOOK_MS))
    }
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const })
  )
