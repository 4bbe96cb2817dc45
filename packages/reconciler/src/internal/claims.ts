/**
 * Claims let reconcilers that run at the same time (two `reconcile` commands, or a CLI start and a
 * `reconcile`) act on each sandbox at most once. A claim is a file created exclusively (hard link of a
 * complete temp file), kept fresh by a heartbeat while its holder acts, and marked done when it finishes: a
 * claim done after a plan was made means another reconciler already acted on what that plan saw.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type { Scope } from "effect"
import { Clock, Effect, Option, Schedule, Schema } from "effect"

/** @internal */
export type ClaimResult =
  | { readonly _tag: "Claimed" }
  | { readonly _tag: "Busy"; readonly pid: number }
  | { readonly _tag: "Done" }

/** @internal */
export interface Claims {
  /** Claim `key` for the rest of the scope; `since` is when the plan was made (epoch ms). */
  readonly claim: (key: string, since: number) => Effect.Effect<ClaimResult, never, Scope.Scope>
}

const ClaimFile = Schema.parseJson(Schema.Struct({
  pid: Schema.Number,
  heartbeat_at: Schema.Number,
  done_at: Schema.optional(Schema.Number)
}))
const decode = Schema.decodeUnknownOption(ClaimFile)

const STALE_MS = 30_000
const HEARTBEAT_MS = 5_000

const randomTag = () => Math.random().toString(36).slice(2, 10)

/** @internal */
export const makeFile = (
  options: { readonly dir: string; readonly pid: number; readonly isAlive: (pid: number) => boolean }
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const write = (file: string, done: boolean) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const temp = `${file}.${options.pid}.${randomTag()}.tmp`
        yield* fs.writeFileString(
          temp,
          JSON.stringify({ pid: options.pid, heartbeat_at: now, ...(done ? { done_at: now } : {}) })
        )
        yield* fs.rename(temp, file).pipe(Effect.onError(() => fs.remove(temp).pipe(Effect.ignore)))
      })

    const createExclusive = (file: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const temp = `${file}.${options.pid}.${randomTag()}.tmp`
        yield* fs.writeFileString(temp, JSON.stringify({ pid: options.pid, heartbeat_at: now }))
        return yield* fs.link(temp, file).pipe(
          Effect.as(true),
          Effect.catchAll(() => Effect.succeed(false)),
          Effect.ensuring(fs.remove(temp).pipe(Effect.ignore))
        )
      })

    const judge = (text: string, since: number, now: number): ClaimResult | "stale" => {
      const claim = decode(text)
      if (Option.isNone(claim)) return "stale"
      const { done_at, heartbeat_at, pid } = claim.value
      if (done_at !== undefined) return done_at > since ? { _tag: "Done" } : "stale"
      return options.isAlive(pid) && now - heartbeat_at < STALE_MS ? { _tag: "Busy", pid } : "stale"
    }

    const claim: Claims["claim"] = (key, since) =>
      Effect.gen(function*() {
        yield* fs.makeDirectory(options.dir, { recursive: true })
        const file = path.join(options.dir, `${key}.claim`)
        let owned = yield* createExclusive(file)
        if (!owned) {
          const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))
          const verdict = judge(text, since, yield* Clock.currentTimeMillis)
          if (verdict !== "stale") return verdict
          // Take over a stale claim: move it aside (only one taker can), check that what moved is what was
          // judged (and put a fresh claim back if it was not), then create ours.
          const aside = `${file}.${options.pid}.${randomTag()}.stale`
          const moved = yield* fs.rename(file, aside).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
          if (moved) {
            const movedText = yield* fs.readFileString(aside).pipe(Effect.orElseSucceed(() => ""))
            if (movedText !== text) {
              yield* fs.link(aside, file).pipe(Effect.ignore)
              yield* fs.remove(aside).pipe(Effect.ignore)
              return { _tag: "Busy", pid: -1 } as const
            }
            yield* fs.remove(aside).pipe(Effect.ignore)
          }
          owned = yield* createExclusive(file)
          if (!owned) return { _tag: "Busy", pid: -1 } as const
        }
        yield* Effect.addFinalizer(() => write(file, true).pipe(Effect.ignore))
        yield* write(file, false).pipe(
          Effect.ignore,
          Effect.delay(`${HEARTBEAT_MS} millis`),
          Effect.repeat(Schedule.forever),
          Effect.forkScoped
        )
        return { _tag: "Claimed" } as const
      }).pipe(
        // A claim that cannot be written (read-only state dir) must not stop the reconciler from working alone.
        Effect.catchAll(() => Effect.succeed({ _tag: "Claimed" } as const))
      )
    return { claim } satisfies Claims
  })

/** In-process claims, for tests and for the library used without a state directory. @internal */
export const makeMemory = (): Claims => {
  const claims = new Map<string, { done_at: number | undefined }>()
  return {
    claim: (key, since) =>
      Effect.gen(function*() {
        const existing = claims.get(key)
        if (existing !== undefined) {
          if (existing.done_at === undefined) return { _tag: "Busy", pid: -1 } as const
          if (existing.done_at > since) return { _tag: "Done" } as const
        }
        const entry = { done_at: undefined as number | undefined }
        claims.set(key, entry)
        yield* Effect.addFinalizer(() => Effect.map(Clock.currentTimeMillis, (now) => void (entry.done_at = now)))
        return { _tag: "Claimed" } as const
      })
  }
}
