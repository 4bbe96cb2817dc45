import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { makeSandboxId, makeSessionId } from "@org/sandbox-core/Ids"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import { labelsFor, SandboxProvider } from "@org/sandbox-core/SandboxProvider"
import { DaytonaProvider } from "@org/sandbox-daytona"
import { Console, Effect, Layer } from "effect"

const profile = Profile.make({ ...builtinLocal, backend: "daytona", backend_config: { image: "node:22" } })
const ids = { sandbox_id: makeSandboxId(), session_id: makeSessionId(), workspace: "demo", owner: "me@laptop" }

const program = Effect.gen(function*() {
  const daytona = yield* SandboxProvider
  // Destroyed when the scope closes, also on failure or Ctrl-C.
  const sandbox = yield* Effect.acquireRelease(
    daytona.create({ ...ids, profile, labels: labelsFor(ids), env: {} }),
    (s) => Effect.orDie(daytona.destroy(s))
  )
  const result = yield* daytona.exec(sandbox, { argv: ["node", "--version"] })
  yield* Console.log(result.stdout.trim())
})

// DAYTONA_API_KEY (and optionally DAYTONA_API_URL) come from the environment.
const DaytonaLive = DaytonaProvider.layerConfig({ profile }).pipe(Layer.provide(NodeContext.layer))

program.pipe(Effect.scoped, Effect.provide(DaytonaLive), NodeRuntime.runMain)
