/**
 * Writes on both sides: temp file and rename (never in place), a target that changed between the scan and the
 * write is never overwritten, a write never goes through a symlink, case collisions on a case-insensitive host.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Entry } from "../src/Manifest.js"
import * as TransferFromRuntime from "../src/TransferFromRuntime.js"
import { EngineLayer, readTree, seed, SESSION, sync, transports, world } from "./fixtures/harness.js"

const T0 = { "a.txt": "A", "dir/b.txt": "B" } as const
const put = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
  fs.writeFileSync(path.join(root, p), text)
}

for (const transport of transports) {
  layer(EngineLayer)(`transfer [${transport}]`, (it) => {
    it.scoped("host files are replaced by rename, never written in place (a hard link keeps the old bytes)", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.linkSync(path.join(w.host, "a.txt"), path.join(w.base, "host-link"))
        put(w.runtime, "a.txt", "A2")
        const result = yield* sync(w.request())
        expect(result.files_from_runtime).toBe(1)
        expect(readTree(w.host)["a.txt"]).toBe("f:A2")
        expect(fs.readFileSync(path.join(w.base, "host-link"), "utf8")).toBe("A")
        // no temp file is left behind
        expect(Object.keys(readTree(w.host)).filter((p) => p.includes(".sandbox-sync-"))).toEqual([])
      }))

    it.scoped("runtime files are replaced by rename too", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.linkSync(path.join(w.runtime, "a.txt"), path.join(w.base, "runtime-link"))
        put(w.host, "a.txt", "A3")
        const result = yield* sync(w.request())
        expect(result.files_to_runtime).toBe(1)
        expect(readTree(w.runtime)["a.txt"]).toBe("f:A3")
        expect(fs.readFileSync(path.join(w.base, "runtime-link"), "utf8")).toBe("A")
        expect(Object.keys(readTree(w.runtime)).filter((p) => p.includes(".sandbox-sync-"))).toEqual([])
      }))

    it.scoped("a host file edited after the scan is not overwritten: it becomes a conflict, the runtime's copy beside it", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        put(w.runtime, "a.txt", "from runtime")
        w.dir.afterScan(() => put(w.host, "a.txt", "edited on the host during the sync"))
        const result = yield* sync(w.request())
        expect(result.conflicts).toEqual([{
          path: "a.txt",
          host_change: "changed during the sync",
          runtime_change: "modified",
          runtime_copy: `a.txt.sandbox-conflict-${SESSION}`
        }])
        const host = readTree(w.host)
        expect(host["a.txt"]).toBe("f:edited on the host during the sync")
        expect(host[`a.txt.sandbox-conflict-${SESSION}`]).toBe("f:from runtime")
        // the next sync sees both edits and keeps reporting the conflict; nothing is lost
        const again = yield* sync(w.request())
        expect(again.conflicts.map((c) => c.path)).toEqual(["a.txt"])
        expect(readTree(w.host)["a.txt"]).toBe("f:edited on the host during the sync")
        expect(readTree(w.runtime)["a.txt"]).toBe("f:from runtime")
      }))

    it.scoped("a host file deleted by the sync but edited after the scan is kept", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.rmSync(path.join(w.runtime, "dir/b.txt"))
        put(w.runtime, "new.txt", "N")
        w.dir.afterScan(() => put(w.host, "dir/b.txt", "edited during the sync"))
        const result = yield* sync(w.request())
        expect(result.deleted_on_host).toBe(0)
        expect(result.conflicts.map((c) => [c.path, c.host_change])).toEqual([["dir/b.txt", "changed during the sync"]])
        expect(readTree(w.host)["dir/b.txt"]).toBe("f:edited during the sync")
        expect(readTree(w.host)["new.txt"]).toBe("f:N")
      }))

    it.scoped("a runtime file edited after the scan is not overwritten; it is reported and retried", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        put(w.host, "a.txt", "from host")
        put(w.host, "dir/b.txt", "B from host")
        w.dir.afterScan(() => put(w.runtime, "a.txt", "edited in the runtime during the sync"))
        const result = yield* sync(w.request())
        expect(result.refused).toEqual([
          { path: "a.txt", reason: "changed in the runtime during the sync; retried at the next sync" }
        ])
        expect(readTree(w.runtime)["a.txt"]).toBe("f:edited in the runtime during the sync")
        expect(readTree(w.runtime)["dir/b.txt"]).toBe("f:B from host")
        // next sync: both sides changed a.txt since the ancestor: a conflict, the host's file stays
        const again = yield* sync(w.request())
        expect(again.conflicts.map((c) => c.path)).toEqual(["a.txt"])
        expect(readTree(w.host)["a.txt"]).toBe("f:from host")
        expect(readTree(w.host)[`a.txt.sandbox-conflict-${SESSION}`]).toBe("f:edited in the runtime during the sync")
      }))

    it.scoped("never writes through a host directory swapped for a symlink after the scan", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        const outside = path.join(w.base, "outside")
        fs.mkdirSync(outside)
        put(w.runtime, "dir/new.txt", "N")
        put(w.runtime, "dir/b.txt", "B2")
        w.dir.afterScan(() => {
          fs.renameSync(path.join(w.host, "dir"), path.join(w.base, "moved-dir"))
          fs.symlinkSync(outside, path.join(w.host, "dir"))
        })
        const result = yield* sync(w.request())
        expect(result.refused.map((r) => r.path).sort()).toEqual(["dir/b.txt", "dir/new.txt"])
        expect(new Set(result.refused.map((r) => r.reason))).toEqual(
          new Set(["a parent directory on the host is not a real directory"])
        )
        expect(fs.readdirSync(outside)).toEqual([])
        expect(fs.readFileSync(path.join(w.base, "moved-dir/b.txt"), "utf8")).toBe("B")
      }))

    it.scoped("never writes through a runtime directory swapped for a symlink after the scan", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        const outside = path.join(w.base, "outside")
        fs.mkdirSync(outside)
        put(w.host, "dir/b.txt", "B2")
        put(w.host, "dir/new.txt", "N")
        w.dir.afterScan(() => {
          fs.renameSync(path.join(w.runtime, "dir"), path.join(w.base, "moved-dir"))
          fs.symlinkSync(outside, path.join(w.runtime, "dir"))
        })
        const result = yield* Effect.either(sync(w.request()))
        expect(Either.isLeft(result) && result.left._tag === "SyncError" && result.left.reason).toBe("Changed")
        expect(fs.readdirSync(outside)).toEqual([])
        expect(fs.readFileSync(path.join(w.base, "moved-dir/b.txt"), "utf8")).toBe("B")
        expect(readTree(w.host)["dir/b.txt"]).toBe("f:B2")
      }))
  })
}

describe("case collisions on a case-insensitive host", () => {
  const e = (p: string) => new Entry(p, "file", 1, "1", 0o644, 1, "c".repeat(64), undefined)
  it("a runtime name that differs from a host name only by case is reported, not written", () => {
    const ops = TransferFromRuntime.buildOps({
      roots: ["readme", "other.txt"],
      conflicts: [],
      ancestor: new Map(),
      host: new Map([["README", e("README")]]),
      runtime: new Map([["readme", e("readme")], ["other.txt", e("other.txt")]]),
      children: new Map(),
      hostDigest: (x) => x.digest,
      caseInsensitive: true,
      sessionId: SESSION
    })
    expect(ops.collisions.map((c) => [c.path, c.host_change])).toEqual([
      ["readme", "exists as README (case-insensitive filesystem)"]
    ])
    expect(ops.fetch).not.toContain("readme")
    expect(ops.fetch).toContain("other.txt")
  })

  it("two runtime names that fold to the same name: the second is reported", () => {
    const ops = TransferFromRuntime.buildOps({
      roots: ["Makefile", "makefile"],
      conflicts: [],
      ancestor: new Map(),
      host: new Map(),
      runtime: new Map([["Makefile", e("Makefile")], ["makefile", e("makefile")]]),
      children: new Map(),
      hostDigest: (x) => x.digest,
      caseInsensitive: true,
      sessionId: SESSION
    })
    expect(ops.fetch).toEqual(["Makefile"])
    expect(ops.collisions.map((c) => c.path)).toEqual(["makefile"])
  })
})
