/**
 * Asking a session's supervisor to act (`session sync`, `session prompt`, `session stop --force`): a request file
 * in the session's control directory, SIGUSR1 to the supervisor, and its answer renamed into place beside the
 * request. The asking side watches the directory for that answer, so it has it as soon as it is written.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { isFinal } from "@org/sandbox-core/Session"
import { type Duration, Effect, Option, Schema } from "effect"
import { awaitFile } from "./AwaitFile.js"
import { CommandFailed } from "./Failure.js"
import * as SmallFileSystem from "./SmallFileSystem.js"
import * as Supervisors from "./Supervisors.js"

/** What a `.req` control file holds. */
export const ControlRequestBody = Schema.Union(
  /**
   * `session sync [--accept-held] [--force]`: sync now; apply held config and hook changes only when asked; pass
   * the mass-deletion guard only when asked.
   */
  Schema.Struct({
    action: Schema.Literal("sync"),
    accept_held: Schema.optional(Schema.Boolean),
    force: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({ action: Schema.Literal("prompt"), text: Schema.String }),
  /**
   * `session stop --force` / `--grace`: stop, let the sync-back pass the mass-deletion guard, give the command this
   * many milliseconds to clean up.
   */
  Schema.Struct({
    action: Schema.Literal("stop"),
    force: Schema.Boolean,
    grace_ms: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.nonNegative()))
  }),
  /** `session sync --pause|--resume`: live sync's control. */
  Schema.Struct({ action: Schema.Literal("live"), live: Schema.Literal("pause", "resume") })
)

export const ControlReply = Schema.Struct({
  ok: Schema.Boolean,
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String)
})

/**
 * Ask a session's supervisor to do something and wait for its answer. The request and the answer are small files:
 * read and written on this thread (SmallFileSystem), not through the thread pool.
 */
export const ask = (id: string, body: typeof ControlRequestBody.Type, wait: Duration.DurationInput) =>
  Effect.gen(function*() {
    const session = yield* Supervisors.sessionById(id)
    const lock = yield* Supervisors.liveSupervisor(id)
    if (Option.isNone(lock) || isFinal(session.state)) return yield* Supervisors.notRunning(session)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const paths = yield* Supervisors.supervisorPaths(id)
    const nonce = `${Date.now()}-${process.pid}`
    yield* fs.makeDirectory(paths.control, { recursive: true })
    yield* fs.writeFileString(path.join(paths.control, `${nonce}.req`), JSON.stringify(body))
    process.kill(lock.value.pid, "SIGUSR1")
    // An answer written before the watch starts is found by the first look.
    const text = yield* awaitFile(paths.control, `${nonce}.json`, wait).pipe(
      Effect.mapError(() => new CommandFailed({ message: `no answer from the supervisor of ${id}` }))
    )
    yield* fs.remove(path.join(paths.control, `${nonce}.json`)).pipe(Effect.ignore)
    return Schema.decodeUnknownSync(Schema.parseJson(ControlReply))(text)
  }).pipe(Effect.provide(SmallFileSystem.layer))
