/**
 * Around the three-way sync: a host edit made while the runtime's version is copied, and a sync-back killed
 * mid-apply (a real child process, `kill -9`).
 */
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as SyncEngine from "../src/SyncEngine.js"
import { readTree, seed, SESSION, sync, transports, world } from "./fixtures/harness.js"

const T0 = { "a.txt": "A", "dir/b.txt": "B" } as const
const here = path.dirname(fileURLToPath(import.meta.url))

// a host edit raced into the window between the copy of the runtime's version and its rename into place
let race: { readonly target: string; readonly edit: (abs: string) => void } | undefined
const RacingEngine = SyncEngine.layerWith({
  hooks: {
    beforeRename: (target) => {
      const r = race
      if (r !== undefined && target.endsWith(`/${r.target}`)) {
        race = undefined
        r.edit(target)
      }
    }
  }
}).pipe(Layer.provideMerge(NodeContext.layer))

const tempsUnder = (root: string): Array<string> => {
  const out: Array<string> = []
  const walk = (dir: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      if (d.name.startsWith(".sandbox-sync-tmp-")) out.push(path.join(dir, d.name))
      else if (d.isDirectory()) walk(path.join(dir, d.name))
    }
  }
  walk(root)
  return out
}

for (const transport of transports) {
  layer(RacingEngine)(`host edits during the sync-back [${transport}]`, (it) => {
    it.scoped("a host edit made while the runtime's version is copied is kept; the runtime's is beside it", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.writeFileSync(path.join(w.runtime, "a.txt"), "A-runtime")
        race = { target: "a.txt", edit: (abs) => fs.writeFileSync(abs, "A-host, typed during the copy") }
        const result = yield* sync(w.request({ reason: "stop" }))
        expect(race).toBeUndefined()
        expect(fs.readFileSync(path.join(w.host, "a.txt"), "utf8")).toBe("A-host, typed during the copy")
        const copy = `a.txt.sandbox-conflict-${SESSION}`
        expect(result.conflicts).toEqual([
          { path: "a.txt", host_change: "changed during the sync", runtime_change: "modified", runtime_copy: copy }
        ])
        expect(fs.readFileSync(path.join(w.host, copy), "utf8")).toBe("A-runtime")
        expect(tempsUnder(w.host)).toEqual([])
      }))

    it.scoped("a host file created while the runtime's new file is copied is kept; the runtime's is beside it", () =>
      Effect.gen(function*() {
        const w = yield* world(T0, transport)
        yield* seed(w.request())
        fs.writeFileSync(path.join(w.runtime, "dir/new.txt"), "N-runtime")
        race = { target: "dir/new.txt", edit: (abs) => fs.writeFileSync(abs, "N-host") }
        const result = yield* sync(w.request({ reason: "stop" }))
        expect(race).toBeUndefined()
        expect(fs.readFileSync(path.join(w.host, "dir/new.txt"), "utf8")).toBe("N-host")
        expect(result.conflicts.map((c) => [c.path, c.runtime_copy])).toEqual([
          ["dir/new.txt", `dir/new.txt.sandbox-conflict-${SESSION}`]
        ])
        expect(fs.readFileSync(path.join(w.host, `dir/new.txt.sandbox-conflict-${SESSION}`), "utf8")).toBe("N-runtime")
        // and the next sync still sees both versions: the host's stays, nothing is lost
        const again = yield* sync(w.request({ reason: "stop" }))
        expect(again.conflicts.map((c) => c.path)).toEqual(["dir/new.txt"])
        expect(fs.readFileSync(path.join(w.host, "dir/new.txt"), "utf8")).toBe("N-host")
      }))
  })
}

const waitFor = (file: string, child: { exitCode: number | null }) =>
  Effect.promise(async () => {
    for (let i = 0; i < 1200; i++) {
      if (fs.existsSync(file)) return true
      if (child.exitCode !== null) return false
      await new Promise((r) => setTimeout(r, 50))
    }
    return false
  })

for (const transport of transports) {
  layer(SyncEngine.layer.pipe(Layer.provideMerge(NodeContext.layer)))(
    `a sync-back killed mid-apply [${transport}]`,
    (it) => {
      it.scoped(
        "kill -9 while a big file is put in place: the next sync removes the temporary file",
        () =>
          Effect.gen(function*() {
            const w = yield* world(T0, transport)
            yield* seed(w.request())
            const big = Buffer.alloc(24 << 20)
            for (let i = 0; i < big.length; i += 4096) {
              big.writeUInt32LE(i, i)
            }
            fs.writeFileSync(path.join(w.runtime, "dir/big.bin"), big)
            const child = spawn(
              "npx",
              [
                "vite-node",
                "--config",
                path.join(here, "..", "vitest.config.ts"),
                path.join(here, "fixtures/syncChild.ts"),
                w.host,
                w.runtime,
                w.state,
                transport
              ],
              { cwd: path.join(here, ".."), stdio: ["ignore", "ignore", "pipe"], detached: true }
            )
            let stderr = ""
            child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
            yield* Effect.addFinalizer(() =>
              Effect.sync(() => child.exitCode === null && process.kill(-child.pid!, "SIGKILL"))
            )
            const ready = yield* waitFor(path.join(w.base, "child-ready"), child)
            expect(ready, stderr).toBe(true)
            const pid = Number(fs.readFileSync(path.join(w.base, "child-ready"), "utf8"))
            process.kill(pid, "SIGKILL")
            yield* Effect.promise(() => new Promise((r) => child.exitCode !== null ? r(null) : child.on("exit", r)))
            // the crash left the copy of the big file under a temporary name in the workspace
            expect(tempsUnder(w.host).length).toBeGreaterThan(0)
            expect(fs.existsSync(path.join(w.host, "dir/big.bin"))).toBe(false)
            const result = yield* sync(w.request({ reason: "stop" }))
            expect(tempsUnder(w.host)).toEqual([])
            expect(result.files_from_runtime).toBe(1)
            expect(fs.readFileSync(path.join(w.host, "dir/big.bin")).equals(big)).toBe(true)
            expect(readTree(w.host)["a.txt"]).toBe("f:A")
          }),
        { timeout: 120_000 }
      )
    }
  )
}
