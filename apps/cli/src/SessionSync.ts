/**
 * What `session sync` does once its command line is read: ask the session's supervisor to sync now (or to pause
 * or resume live sync) and report what it did. Apart from the command tree (commands/session.ts defines the
 * command line) so that the short path of `session sync ID` (SessionSyncNow.ts) runs the same code without it.
 */
import * as EndOfSession from "@org/sandbox-core/EndOfSession"
import { UsageError } from "@org/sandbox-core/SandboxError"
import * as WorkspaceSync from "@org/sandbox-core/WorkspaceSync"
import { Effect, Schema } from "effect"
import type { Output } from "./CommonOptions.js"
import * as Control from "./Control.js"
import { CommandFailed } from "./Failure.js"
import * as Progress from "./Progress.js"
import * as Render from "./Render.js"
import * as Supervisors from "./Supervisors.js"

/**
 * `session sync -o json`: what the sync did. `conflicts` are paths, as in `session status` and `run`; the
 * details of each (what changed on each side, where the sandbox's copy is) are in `conflict_details`.
 */
export const SyncReport = Schema.Struct({
  ...WorkspaceSync.SyncResult.fields,
  conflicts: Schema.Array(Schema.String),
  conflict_details: Schema.Array(WorkspaceSync.Conflict)
})

/** Live sync's health in one line (`session status`, `session sync --pause|--resume`). */
export const renderLive = (l: WorkspaceSync.LiveStatus) =>
  `${l.state}, ${l.pending} pending, lag ${l.lag_ms} ms, ${l.batches} batches` +
  (l.last_batch_ms !== null ? ` (last ${l.last_batch_ms} ms)` : "") +
  (l.last_error !== null ? `; last error: ${l.last_error}` : "")

export interface Options {
  readonly id: string
  readonly output: Output
  readonly pause: boolean
  readonly resume: boolean
  /** Let the sync-back pass the mass-deletion halt. */
  readonly force: boolean
  readonly acceptHeld: boolean
}

/** `session sync`: needs the store (and the platform's file system and paths). */
export const sync = ({ acceptHeld, force, id, output, pause, resume }: Options) =>
  Effect.gen(function*() {
    if (pause && resume) return yield* new UsageError({ detail: "--pause and --resume exclude each other" })
    if (pause && force) return yield* new UsageError({ detail: "--force goes with a sync or --resume, not --pause" })
    // --resume --force: the forced sync first (live sync is paused meanwhile, so no batch halts again), then resume
    if (resume && force) {
      const forced = yield* Control.ask(id, { action: "sync", force: true }, "10 minutes")
      if (!forced.ok) return yield* new CommandFailed({ message: `sync failed: ${forced.error ?? "unknown error"}` })
    }
    if (pause || resume) {
      const answer = yield* Control.ask(id, { action: "live", live: pause ? "pause" : "resume" }, "1 minute")
      if (!answer.ok) return yield* new CommandFailed({ message: answer.error ?? "unknown error" })
      const live = Schema.decodeUnknownSync(WorkspaceSync.LiveStatus)(answer.result)
      return yield* Render.by(output, WorkspaceSync.LiveStatus, live, (l) => Render.line(`live sync: ${renderLive(l)}`))
    }
    const reply = yield* Progress.following(
      (yield* Supervisors.supervisorPaths(id)).progress,
      Control.ask(
        id,
        { action: "sync", ...(acceptHeld ? { accept_held: true } : {}), ...(force ? { force: true } : {}) },
        "10 minutes"
      )
    )
    if (!reply.ok) return yield* new CommandFailed({ message: `sync failed: ${reply.error ?? "unknown error"}` })
    const result = Schema.decodeUnknownSync(WorkspaceSync.SyncResult)(reply.result)
    const report = { ...result, conflicts: result.conflicts.map((c) => c.path), conflict_details: result.conflicts }
    yield* Render.by(output, SyncReport, report, (r) =>
      Render.line(
        `synced: ${r.files_to_runtime} file(s) to the sandbox, ${r.files_from_runtime} back; ${r.conflicts.length} conflict(s)${
          r.conflicts.length ? `: ${r.conflicts.join(", ")}` : ""
        }`
      ))
    if (output === "text") {
      yield* Render.notices(result.notices ?? [])
      for (const line of EndOfSession.summarizeHeld(result.held ?? [])) yield* Render.warn(line)
    }
  })
