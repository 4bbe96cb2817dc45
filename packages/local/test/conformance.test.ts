import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, it } from "@effect/vitest"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import { cases, conformanceSuite } from "@org/sandbox-core/testing"
import { Effect } from "effect"
import * as LocalProvider from "../src/LocalProvider.js"
import { bwrapUsable } from "./helpers.js"

/** Every case gets its own state directory, removed with the case's scope. */
const makeProvider = (profile: Profile) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-conformance-" })
    return yield* LocalProvider.make({ profile, stateDir })
  })

const plain = await conformanceSuite({
  makeProvider: makeProvider(builtinLocal),
  layer: NodeContext.layer,
  capabilities: LocalProvider.capabilities
})

// Under bubblewrap every exec gets its own PID namespace, so the case that checks a background pid from a
// second exec cannot see it; the local process-group tests cover that path.
const isolated = await conformanceSuite({
  makeProvider: makeProvider(Profile.make({ ...builtinLocal, backend_config: { isolation: "bubblewrap" } })),
  layer: NodeContext.layer,
  capabilities: LocalProvider.capabilities,
  cases: cases.filter((c) => !c.name.includes("process group"))
})

describe("LocalProvider conformance", () => {
  for (const c of plain) it.skipIf(c.skip)(c.name, c.run, c.timeout)
})

describe("LocalProvider conformance under bubblewrap", () => {
  for (const c of isolated) it.skipIf(c.skip || !bwrapUsable)(c.name, c.run, c.timeout)
})
