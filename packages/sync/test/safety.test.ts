/**
 * Safety: symlink escapes, hostile archives, case collisions, a wiped runtime, mass deletion, excludes.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { spawnAsync } from "./fixtures/DirProvider.js"
import { EngineLayer, expected, readTree, seed, sync, transports, world } from "./fixtures/harness.js"

const T0 = { "a.txt": "A", "dir/b.txt": "B", "dir/sub/c.txt": "C" } as const

for (const transport of transports) {
  layer(EngineLayer)(`safety [${transport}]`, (it) => {
    it.scoped("symlinks escaping the root from the runtime are refused and reported; the host is untouched", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.symlinkSync("/etc/passwd", path.join(w.runtime, "abs-link"))
        fs.symlinkSync("../../outside", path.join(w.runtime, "dir/up-link"))
        fs.symlinkSync("../a.txt", path.join(w.runtime, "dir/ok-link"))
        const result = yield* sync(w.request())
        expect(result.refused).toEqual(expect.arrayContaining([
          { path: "abs-link", reason: "symlink with an absolute target" },
          { path: "dir/up-link", reason: "symlink escapes the root" }
        ]))
        const host = readTree(w.host)
        expect(host["abs-link"]).toBeUndefined()
        expect(host["dir/up-link"]).toBeUndefined()
        expect(host["dir/ok-link"]).toBe("l:../a.txt")
      }))

    it.scoped("host symlinks escaping the root (absolute, '../..') are refused and reported; never sent", () =>
      Effect.gen(function*() {
        const w = yield* world({ ...T0, "ok-link": { link: "dir/b.txt" } }, transport)
        fs.symlinkSync("/etc", path.join(w.host, "abs-link"))
        fs.symlinkSync("../../outside", path.join(w.host, "dir/up-link"))
        const result = yield* seed(w.request())
        expect(result.refused).toEqual(expect.arrayContaining([
          { path: "abs-link", reason: "symlink with an absolute target" },
          { path: "dir/up-link", reason: "symlink escapes the root" }
        ]))
        expect(readTree(w.runtime)).toEqual(expected({ ...T0, "ok-link": { link: "dir/b.txt" } }))
        // and a later sync-back leaves them alone on the host
        const back = yield* sync(w.request({ reason: "stop" }))
        expect(back.deleted_on_host).toBe(0)
        expect(fs.readlinkSync(path.join(w.host, "abs-link"))).toBe("/etc")
      }))

    it.scoped("a runtime directory swapped for an escaping symlink is refused; the host directory stays", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.mkdirSync(path.join(w.base, "elsewhere"))
        fs.writeFileSync(path.join(w.base, "elsewhere", "b.txt"), "EVIL")
        fs.rmSync(path.join(w.runtime, "dir"), { recursive: true })
        fs.symlinkSync(path.join(w.base, "elsewhere"), path.join(w.runtime, "dir"))
        const result = yield* sync(w.request())
        expect(result.refused).toEqual([{ path: "dir", reason: "symlink with an absolute target" }])
        expect(result.deleted_on_host).toBe(0)
        expect(readTree(w.host)).toEqual(expected(T0))
        // relative escape through a parent component
        fs.rmSync(path.join(w.runtime, "dir"))
        fs.symlinkSync("../elsewhere", path.join(w.runtime, "dir"))
        const again = yield* sync(w.request())
        expect(again.refused).toEqual([{ path: "dir", reason: "symlink escapes the root" }])
        expect(readTree(w.host)).toEqual(expected(T0))
      }))

    // the fast path reads the runtime's own directory: there is no archive to forge
    it.scoped.skipIf(transport !== "archive")(
      "absolute and '..' members of a runtime archive are refused; nothing is written outside",
      () =>
        Effect.gen(function*() {
          // The hostile archive below is a plain tar: the provider says so through its format hint.
          const w = yield* world(T0, transport, { archiveFormat: "tar" })
          yield* seed(w.request())
          fs.writeFileSync(path.join(w.runtime, "x.txt"), "X")
          fs.writeFileSync(path.join(w.runtime, "y.txt"), "Y")
          w.dir.tamperGetArchive = async ({ archive_path, root }) => {
            fs.writeFileSync(path.join(w.base, "evil"), "EVIL")
            // y.txt arrives under an absolute name, an extra member climbs out with '..'
            await spawnAsync(["tar", "-C", root, "-cf", archive_path, "x.txt"])
            await spawnAsync([
              "tar",
              "-C",
              root,
              "-rf",
              archive_path,
              "-P",
              "--transform",
              "s,^y.txt$,/y.txt,",
              "y.txt"
            ])
            await spawnAsync([
              "tar",
              "-C",
              w.base,
              "-rf",
              archive_path,
              "-P",
              "--transform",
              "s,^evil$,../../escape.txt,",
              "evil"
            ])
          }
          const result = yield* sync(w.request())
          expect(result.refused.map((r) => r.reason).sort()).toEqual([
            "'..' in a path of the runtime archive",
            "absolute path in the runtime archive"
          ])
          const host = readTree(w.host)
          expect(host["x.txt"]).toBe("f:X")
          expect(host["y.txt"]).toBeUndefined()
          expect(fs.existsSync(path.join(w.base, "escape.txt"))).toBe(false)
          expect(fs.existsSync(path.join(path.dirname(w.base), "escape.txt"))).toBe(false)
          // refused paths are not recorded: a clean transfer later brings y.txt
          w.dir.tamperGetArchive = undefined
          yield* sync(w.request())
          expect(readTree(w.host)["y.txt"]).toBe("f:Y")
        })
    )

    it.scoped("case collisions from the runtime on a case-sensitive host: both names are kept", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.writeFileSync(path.join(w.runtime, "README"), "upper")
        fs.writeFileSync(path.join(w.runtime, "readme"), "lower")
        const result = yield* sync(w.request())
        expect(result.conflicts).toEqual([])
        expect(readTree(w.host)).toMatchObject({ README: "f:upper", readme: "f:lower" })
      }))

    it.scoped("a wiped runtime never propagates deletions to the host; force lets the sync pass, host intact", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        for (const name of fs.readdirSync(w.runtime)) fs.rmSync(path.join(w.runtime, name), { recursive: true })
        const emptied = yield* Effect.either(sync(w.request()))
        expect(Either.isLeft(emptied) && emptied.left._tag === "SyncError" && emptied.left.reason).toBe("MassDeletion")
        fs.rmSync(w.runtime, { recursive: true })
        const gone = yield* Effect.either(sync(w.request({ reason: "stop" })))
        expect(Either.isLeft(gone) && gone.left._tag === "SyncError" && gone.left.reason).toBe("MassDeletion")
        expect(readTree(w.host)).toEqual(expected(T0))
        // forced, the sync-back passes and deletes nothing: the host keeps every file
        const forced = yield* sync(w.request({ force: true, reason: "stop" }))
        expect(forced.deleted_on_host).toBe(0)
        expect(readTree(w.host)).toEqual(expected(T0))
        // a re-seed restores the runtime
        yield* seed(w.request())
        expect(readTree(w.runtime)).toEqual(expected(T0))
      }))

    it.scoped("mass deletion halts without force and proceeds with force", () =>
      Effect.gen(function*() {
        const files: Record<string, string> = {}
        for (let i = 0; i < 12; i++) files[`f${i}.txt`] = `${i}`
        const w = yield* world(files, transport)
        yield* seed(w.request())
        for (let i = 0; i < 7; i++) fs.rmSync(path.join(w.runtime, `f${i}.txt`))
        const halted = yield* Effect.either(sync(w.request({ reason: "stop" })))
        expect(Either.isLeft(halted) && halted.left._tag === "SyncError" && halted.left.reason).toBe("MassDeletion")
        expect(Object.keys(readTree(w.host))).toHaveLength(12)
        const forced = yield* sync(w.request({ reason: "stop", force: true }))
        expect(forced.deleted_on_host).toBe(7)
        expect(Object.keys(readTree(w.host)).sort()).toEqual(["f10.txt", "f11.txt", "f7.txt", "f8.txt", "f9.txt"])
      }))

    it.scoped("excludes apply in both directions and excluded paths are never deleted", () =>
      Effect.gen(function*() {
        const w = yield* world({
          ...T0,
          ".git/config": "[core]",
          "node_modules/lib/index.js": "host lib",
          "pkg/__pycache__/m.pyc": "pyc",
          "build/out.o": "obj"
        }, transport)
        yield* seed(w.request({ exclude: ["build/"] }))
        // pkg/ is tracked; only its __pycache__ is not
        expect(readTree(w.runtime)).toEqual(expected({ ...T0, pkg: { dir: true } }))
        fs.mkdirSync(path.join(w.runtime, "node_modules/other"), { recursive: true })
        fs.writeFileSync(path.join(w.runtime, "node_modules/other/x.js"), "runtime lib")
        fs.mkdirSync(path.join(w.runtime, ".git"))
        fs.writeFileSync(path.join(w.runtime, ".git/HEAD"), "ref")
        fs.writeFileSync(path.join(w.runtime, "hook.log"), "log")
        fs.rmSync(path.join(w.host, "node_modules"), { recursive: true })
        const result = yield* sync(w.request({ exclude: ["build/"], extra: ["*.log"] }))
        expect(result.files_from_runtime + result.deleted_in_runtime + result.deleted_on_host).toBe(0)
        const host = readTree(w.host)
        expect(host["node_modules"]).toBeUndefined()
        expect(host[".git/config"]).toBe("f:[core]")
        expect(host[".git/HEAD"]).toBeUndefined()
        expect(host["hook.log"]).toBeUndefined()
        expect(host["build/out.o"]).toBe("f:obj")
        const runtime = readTree(w.runtime)
        expect(runtime["node_modules/other/x.js"]).toBe("f:runtime lib")
        expect(runtime[".git/HEAD"]).toBe("f:ref")
        expect(runtime["hook.log"]).toBe("f:log")
      }))

    it.scoped("include re-includes a path inside an excluded directory", () =>
      Effect.gen(function*() {
        const w = yield* world({ ...T0, "node_modules/keep/k.js": "K", "node_modules/drop/d.js": "D" }, transport)
        yield* seed(w.request({ include: ["node_modules/keep/"] }))
        const runtime = readTree(w.runtime)
        expect(runtime["node_modules/keep/k.js"]).toBe("f:K")
        expect(runtime["node_modules/drop/d.js"]).toBeUndefined()
      }))
  })
}
