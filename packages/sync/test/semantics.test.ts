/**
 * Reconcile semantics beyond the matrix: modification beats deletion, full deletions, the racy-clean edit,
 * modes, a reused runtime without ancestor, a corrupt ancestor, O(1) provider calls.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Ancestor from "../src/Ancestor.js"
import * as AncestorStore from "../src/AncestorStore.js"
import { EngineLayer, expected, readTree, seed, SESSION, sync, transports, world } from "./fixtures/harness.js"

const T0 = { "a.txt": "A", "dir/b.txt": "B", "dir/sub/c.txt": "C" } as const
const put = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
  fs.writeFileSync(path.join(root, p), text)
}

for (const transport of transports) {
  layer(EngineLayer)(`semantics [${transport}]`, (it) => {
    describe("modification beats deletion", () => {
      it.scoped("host deletes, runtime modifies: the runtime's file comes back", () =>
        Effect.gen(function*() {
          const w = yield* world(T0, transport)
          yield* seed(w.request())
          fs.rmSync(path.join(w.host, "a.txt"))
          put(w.runtime, "a.txt", "A-runtime")
          const result = yield* sync(w.request())
          expect(result.conflicts).toEqual([])
          expect(readTree(w.host)["a.txt"]).toBe("f:A-runtime")
          expect(readTree(w.runtime)).toEqual(readTree(w.host))
        }))

      it.scoped("host modifies, runtime deletes: the host's file goes back", () =>
        Effect.gen(function*() {
          const w = yield* world(T0, transport)
          yield* seed(w.request())
          put(w.host, "a.txt", "A-host")
          fs.rmSync(path.join(w.runtime, "a.txt"))
          const result = yield* sync(w.request())
          expect(result.conflicts).toEqual([])
          expect(readTree(w.runtime)["a.txt"]).toBe("f:A-host")
          expect(readTree(w.runtime)).toEqual(readTree(w.host))
        }))

      it.scoped("host deletes a directory the runtime added to: the runtime's whole directory comes back", () =>
        Effect.gen(function*() {
          const w = yield* world(T0, transport)
          yield* seed(w.request())
          fs.rmSync(path.join(w.host, "dir"), { recursive: true })
          put(w.runtime, "dir/sub/new.txt", "N")
          const result = yield* sync(w.request())
          expect(result.conflicts).toEqual([])
          expect(readTree(w.host)).toEqual(expected({ ...T0, "dir/sub/new.txt": "N" }))
          expect(readTree(w.runtime)).toEqual(readTree(w.host))
        }))

      it.scoped("both only delete (differently): the full deletion is propagated", () =>
        Effect.gen(function*() {
          const w = yield* world(T0, transport)
          yield* seed(w.request())
          fs.rmSync(path.join(w.host, "dir/sub/c.txt"))
          fs.rmSync(path.join(w.runtime, "dir/sub"), { recursive: true })
          const result = yield* sync(w.request())
          expect(result.conflicts).toEqual([])
          expect(readTree(w.host)).toEqual(expected({ "a.txt": "A", "dir/b.txt": "B" }))
          expect(readTree(w.runtime)).toEqual(readTree(w.host))
        }))

      it.scoped("both make the same change: no conflict, nothing moves", () =>
        Effect.gen(function*() {
          const w = yield* world(T0, transport)
          yield* seed(w.request())
          put(w.host, "a.txt", "same")
          put(w.runtime, "a.txt", "same")
          put(w.host, "n/new.txt", "new")
          put(w.runtime, "n/new.txt", "new")
          const result = yield* sync(w.request())
          expect(result.conflicts).toEqual([])
          expect(result.files_to_runtime + result.files_from_runtime).toBe(0)
          expect(readTree(w.runtime)).toEqual(readTree(w.host))
        }))
    })

    it.scoped("racy clean: a same-size edit with the mtime set back is still caught by the digest", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        yield* sync(w.request())
        const file = path.join(w.host, "a.txt")
        const ref = path.join(w.base, "ref")
        fs.writeFileSync(ref, "")
        execFileSync("touch", ["-r", file, ref])
        const before = fs.statSync(file, { bigint: true })
        fs.writeFileSync(file, "Z") // same size, same inode
        execFileSync("touch", ["-r", ref, file])
        const after = fs.statSync(file, { bigint: true })
        expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino])
        const result = yield* sync(w.request())
        expect(result.files_to_runtime).toBe(1)
        expect(readTree(w.runtime)["a.txt"]).toBe("f:Z")
        // and the same on the runtime side
        const rfile = path.join(w.runtime, "dir/b.txt")
        execFileSync("touch", ["-r", rfile, ref])
        fs.writeFileSync(rfile, "Y")
        execFileSync("touch", ["-r", ref, rfile])
        const back = yield* sync(w.request())
        expect(back.files_from_runtime).toBe(1)
        expect(readTree(w.host)["dir/b.txt"]).toBe("f:Y")
      }))

    it.scoped("mode none moves nothing; live behaves as session-bidirectional", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        const none = yield* seed(w.request({ mode: "none" }))
        expect(none.files_to_runtime).toBe(0)
        expect(fs.existsSync(w.runtime)).toBe(false)
        expect(w.dir.calls).toEqual([])
        yield* seed(w.request({ mode: "live" }))
        put(w.runtime, "a.txt", "live")
        const live = yield* sync(w.request({ mode: "live" }))
        expect(live.files_from_runtime).toBe(1)
        expect(readTree(w.host)["a.txt"]).toBe("f:live")
      }))

    it.scoped("seeding a runtime that has content and no ancestor is one-way-safe", () =>
      Effect.gen(function*() {
        const w = yield* world({ ...T0, "same.txt": "S" }, transport)
        fs.mkdirSync(w.runtime)
        put(w.runtime, "same.txt", "S")
        put(w.runtime, "a.txt", "runtime version")
        put(w.runtime, "leftover.txt", "L")
        const result = yield* seed(w.request())
        expect(result.conflicts).toEqual([{
          path: "a.txt",
          host_change: "created file",
          runtime_change: "created file",
          runtime_copy: `a.txt.sandbox-conflict-${SESSION}`
        }])
        expect(readTree(w.runtime)).toEqual(
          expected({ ...T0, "same.txt": "S", "a.txt": "runtime version", "leftover.txt": "L" })
        )
        expect(readTree(w.host)["a.txt"]).toBe("f:A")
        expect(readTree(w.host)[`a.txt.sandbox-conflict-${SESSION}`]).toBe("f:runtime version")
      }))

    it.scoped("a corrupt ancestor means no ancestor: nothing is deleted", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.rmSync(path.join(w.runtime, "a.txt"))
        fs.writeFileSync(path.join(w.state, Ancestor.FILE_NAME), "{ not json")
        const result = yield* sync(w.request())
        expect(result.deleted_on_host).toBe(0)
        // with no ancestor the host's file is a creation and goes back to the runtime
        expect(readTree(w.runtime)).toEqual(expected(T0))
        expect(readTree(w.host)).toEqual(expected(T0))
      }))

    it.scoped("O(1) provider calls: seed = scan + putArchive + apply; sync-back = scan + getArchive", () =>
      Effect.gen(function*() {
        const files: Record<string, string> = {}
        for (let i = 0; i < 300; i++) files[`d${i % 7}/f${i}.txt`] = `${i}`
        const w = yield* world(files, transport)
        // the fast path asks for the directory before the scan and again right before writing, nothing else
        const archive = transport === "archive"
        yield* seed(w.request())
        expect(w.dir.calls).toEqual(archive ? ["exec", "putArchive", "exec"] : ["hostPath", "hostPath"])
        w.dir.calls.length = 0
        for (let i = 0; i < 50; i++) put(w.runtime, `d${i % 7}/f${i}.txt`, `changed ${i}`)
        const result = yield* sync(w.request({ reason: "stop" }))
        expect(result.files_from_runtime).toBe(50)
        expect(readTree(w.host)).toEqual(readTree(w.runtime))
        expect(w.dir.calls).toEqual(archive ? ["exec", "getArchive"] : ["hostPath", "hostPath"])
        w.dir.calls.length = 0
        yield* sync(w.request())
        expect(w.dir.calls).toEqual(archive ? ["exec"] : ["hostPath"])
      }))

    it.scoped("the ancestor is bound to the sandbox and the runtime instance (a reuse session shares it)", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        const loaded = yield* AncestorStore.load(w.state, {
          session_id: SESSION,
          sandbox_id: "sbx_test000000000001",
          instance_id: "another",
          host_root: w.host,
          runtime_root: w.runtime
        })
        expect(loaded._tag).toBe("None")
        const otherSession = yield* AncestorStore.load(w.state, {
          session_id: "ses_other00000000001",
          sandbox_id: "sbx_test000000000001",
          instance_id: w.dir.instance.instance_id,
          host_root: w.host,
          runtime_root: w.runtime
        })
        // a reuse session reattached to the same sandbox and instance syncs against the real ancestor
        expect(otherSession._tag).toBe("Some")
        const same = yield* AncestorStore.load(w.state, {
          session_id: SESSION,
          sandbox_id: "sbx_test000000000001",
          instance_id: w.dir.instance.instance_id,
          host_root: w.host,
          runtime_root: w.runtime
        })
        expect(same._tag).toBe("Some")
      }))
  })
}
