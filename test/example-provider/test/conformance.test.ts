/**
 * The example provider passes core's conformance suite for every capability it declares, adapted exactly as the
 * CLI adapts it: core's `fromPromiseProvider`, with `close()` in the scope's finalizer.
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { fromPromiseProvider } from "@org/sandbox-core/PromiseAdapter"
import { conformanceSuite } from "@org/sandbox-core/testing"
import { Effect } from "effect"
import { makeTmpdirProvider } from "../src/index.js"

/** Every case gets its own root directory, removed with the case's scope. */
const makeProvider = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-tmpdir-conformance-" })
  const provider = yield* Effect.acquireRelease(
    Effect.promise(() => makeTmpdirProvider({ root })),
    (p) => Effect.promise(() => p.close?.() ?? Promise.resolve())
  )
  return fromPromiseProvider(provider)
})

const suite = await conformanceSuite({ makeProvider, layer: NodeContext.layer })

describe("tmpdir provider conformance", () => {
  for (const c of suite) it.skipIf(c.skip)(c.name, c.run, c.timeout)

  it("declares the capabilities the suite exercises, so none of it is skipped but the absent ones", () => {
    const skipped = suite.filter((c) => c.skip).map((c) => c.capability)
    expect(skipped).toEqual([])
  })
})
