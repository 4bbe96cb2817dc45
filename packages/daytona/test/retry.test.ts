/**
 * One retry layer per operation: against an API that answers 429 forever, every operation of the provider sends
 * each of its requests at most `1 + times` times, and then fails with `RateLimited` (issue 13, item 1).
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import { makeProvider, profile, spec, useEmulator } from "./helpers.js"

const emulator = useEmulator()

const TIMES = 3

/** Each operation, the route its SDK calls go to, and the most requests one call of it may send there. */
const operations: ReadonlyArray<
  readonly [string, string, (p: Service, i: Instance) => Effect.Effect<unknown, unknown, FileSystem.FileSystem>]
> = [
  ["create", "POST /api/sandbox", (p) => p.create(spec())],
  ["list (create's lookup)", "GET /api/sandbox", (p) => p.create(spec())],
  ["get", "GET /api/sandbox/{sandboxIdOrName}", (p, i) => p.get(i.instance_id)],
  ["stop", "POST /api/sandbox/{sandboxIdOrName}/stop", (p, i) => p.stop(i)],
  ["destroy", "DELETE /api/sandbox/{sandboxIdOrName}", (p, i) => p.destroy(i)],
  ["exec", "POST /toolbox/{sandboxId}/process/execute", (p, i) => p.exec(i, { argv: ["true"] })],
  ["writeFile", "POST /toolbox/{sandboxId}/files/bulk-upload", (p, i) => p.writeFile(i, "a.txt", new Uint8Array(1))],
  ["readFile", "POST /toolbox/{sandboxId}/files/bulk-download", (p, i) => p.readFile(i, "a.txt")],
  ["listDir", "GET /toolbox/{sandboxId}/files", (p, i) => p.listDir(i, ".")],
  ["putArchive", "POST /toolbox/{sandboxId}/files/bulk-upload", (p, i) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFile(`${dir}/a.tar`, new Uint8Array(1024))
      return yield* p.putArchive(i, { archive_path: `${dir}/a.tar`, dest: "x", format: "tar" })
    }).pipe(Effect.scoped)]
]

describe("a 429 that never stops", () => {
  for (const [name, route, run] of operations) {
    it.scopedLive(`${name}: at most ${1 + TIMES} requests to ${route}, then RateLimited`, () =>
      Effect.gen(function*() {
        const emu = emulator()
        const provider = yield* makeProvider(emu, profile(), {
          retry: { base: "1 millis", cap: "5 millis", times: TIMES }
        })
        const instance = yield* provider.create(spec())
        emu.setFaults([{ route, kind: "429", retryAfterSeconds: 0 }])
        emu.resetStats()
        const failed = yield* Effect.flip(run(provider, instance)).pipe(
          Effect.ensuring(Effect.sync(() => emu.setFaults([])))
        )
        expect((failed as { reason?: string }).reason).toBe("RateLimited")
        expect(emu.stats().routes[route]).toBe(1 + TIMES)
        yield* provider.destroy(instance)
      }).pipe(Effect.provide(NodeContext.layer)))
  }
})
