/**
 * The example provider passes core's conformance suite for every capability it declares, adapted exactly as the
 * CLI adapts it: core's `fromPromiseProvider`, with `close()` in the scope's finalizer. And the suite is not
 * satisfied by less: the same provider with an `execStream` that drops `cwd`, drops `env` or ignores its abort
 * signal fails the case that covers it.
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { fromPromiseProvider } from "@org/sandbox-core/PromiseAdapter"
import type { PromiseExecRequest, PromiseProvider } from "@org/sandbox-core/PromiseProvider"
import { cases, conformanceSuite } from "@org/sandbox-core/testing"
import { Effect } from "effect"
import { makeTmpdirProvider } from "../src/index.js"

/** Every case gets its own root directory, removed with the case's scope; `mutate` may break the provider. */
const makeProvider = (mutate: (p: PromiseProvider) => PromiseProvider = (p) => p) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-tmpdir-conformance-" })
    const provider = yield* Effect.acquireRelease(
      Effect.promise(() => makeTmpdirProvider({ root })),
      (p) => Effect.promise(() => p.close?.() ?? Promise.resolve())
    )
    return fromPromiseProvider(mutate(provider))
  })

const suite = await conformanceSuite({ makeProvider: makeProvider(), layer: NodeContext.layer })

describe("tmpdir provider conformance", () => {
  for (const c of suite) it.skipIf(c.skip)(c.name, c.run, c.timeout)

  it("declares the capabilities the suite exercises, so none of it is skipped but the absent ones", () => {
    const skipped = suite.filter((c) => c.skip).map((c) => c.capability)
    expect(skipped).toEqual([])
  })
})

/** The provider with its `execStream` requests rewritten before they reach it. */
const streamWith = (rewrite: (request: PromiseExecRequest) => PromiseExecRequest) => (p: PromiseProvider) => ({
  ...p,
  execStream: (instance: Parameters<NonNullable<PromiseProvider["execStream"]>>[0], request: PromiseExecRequest) =>
    p.execStream!(instance, rewrite(request))
})

const mutants = [
  {
    broken: "an execStream that ignores cwd",
    caseName: "execStream runs in the workdir by default, resolves a relative cwd against it and passes env",
    mutate: streamWith(({ cwd: _cwd, ...rest }) => rest),
    message: /exit of a cwd check in sub\/dir/
  },
  {
    broken: "an execStream that ignores env",
    caseName: "execStream runs in the workdir by default, resolves a relative cwd against it and passes env",
    mutate: streamWith((request) => ({ ...request, env: {} })),
    message: /env var seen by the streamed command|exit of a cwd check/
  },
  {
    broken: "an execStream that ignores its abort signal",
    caseName: "execStream stopped by its consumer kills the command (one that never ends by itself)",
    mutate: streamWith((request) => ({ ...request, signal: new AbortController().signal })),
    message: /still running/
  }
] as const

describe("the suite catches a broken execStream", () => {
  for (const m of mutants) {
    it(`${m.broken} fails "${m.caseName}"`, async () => {
      const selected = cases.filter((c) => c.name === m.caseName)
      expect(selected).toHaveLength(1)
      const [test] = await conformanceSuite({
        makeProvider: makeProvider(m.mutate),
        layer: NodeContext.layer,
        cases: selected
      })
      await expect(test!.run()).rejects.toThrow(m.message)
    }, 60_000)
  }
})
