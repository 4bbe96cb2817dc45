/**
 * The ACP session an agent last had in a sandbox that is kept for reuse (`persistence = "reuse"`), so that the
 * next session in that sandbox continues it (`session/load` or `session/resume`, where the agent supports one).
 * One small file per sandbox instance under `<state>/agents/sessions/`; only the host writes it.
 */
import * as Locations from "@org/sandbox-core/Locations"
import { Effect, Option, Schema } from "effect"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const Kept = Schema.Struct({ agent: Schema.String, acp_session_id: Schema.String })
const decode = Schema.decodeUnknownOption(Schema.parseJson(Kept))

const fileOf = (instanceId: string) =>
  Effect.map(
    Locations.stateDir,
    (root) => join(root, "agents", "sessions", `${encodeURIComponent(instanceId)}.json`)
  )

/**
 * The agent session to continue in this sandbox for this agent, if one was kept.
 *
 * @since 0.1.0
 * @category supervision
 */
export const lastFor = (instanceId: string, agent: string): Effect.Effect<Option.Option<string>> =>
  Effect.flatMap(fileOf(instanceId), (file) =>
    Effect.sync(() => {
      try {
        return Option.flatMap(decode(readFileSync(file, "utf8")), (kept) =>
          kept.agent === agent ? Option.some(kept.acp_session_id) : Option.none())
      } catch {
        return Option.none()
      }
    })).pipe(Effect.orElseSucceed(() => Option.none()))

/**
 * Keep the agent session of this sandbox for the next session that reuses it.
 *
 * @since 0.1.0
 * @category supervision
 */
export const keep = (instanceId: string, agent: string, acpSessionId: string): Effect.Effect<void> =>
  Effect.flatMap(fileOf(instanceId), (file) =>
    Effect.sync(() => {
      mkdirSync(join(file, ".."), { recursive: true })
      writeFileSync(`${file}.tmp`, JSON.stringify({ agent, acp_session_id: acpSessionId }))
      renameSync(`${file}.tmp`, file)
    })).pipe(Effect.orElse(() => Effect.void))
