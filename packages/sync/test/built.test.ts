/**
 * The engine as it ships (`dist/`), where worker threads can start: walks split between two workers, copies
 * shared with them, files hashed there, a quiet rescan answered from the last one. The rest of the suite runs
 * from sources, where no worker starts and everything happens in the test's own thread; these tests check the
 * threaded paths decide and write exactly the same. Skipped when there is no build.
 */
import { NodeContext } from "@effect/platform-node"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Filter from "../src/Filter.js"
import type * as HostScanModule from "../src/HostScan.js"
import * as copyFile from "../src/internal/copyFile.js"
import * as hostFs from "../src/internal/hostFs.js"
import type * as WalkInWorker from "../src/internal/walkInWorker.js"
import type * as SyncEngineModule from "../src/SyncEngine.js"
import { readTree, world, writeTree } from "./fixtures/harness.js"

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist")
const built = fs.existsSync(path.join(dist, "internal", "scanWorker.js"))
const engineModule = () => import(path.join(dist, "SyncEngine.js")) as Promise<typeof SyncEngineModule>
const hostScanModule = () => import(path.join(dist, "HostScan.js")) as Promise<typeof HostScanModule>

// enough files for the copies to be shared out in chunks, in enough directories for both halves of a walk
const bigTree = () => {
  const spec: Record<string, string | { x: string }> = {}
  for (let d = 0; d < 40; d++) {
    for (let f = 0; f < 30; f++) spec[`src/d${d}/f${f}.txt`] = `file ${d}/${f}\n`.repeat(1 + ((d * f) % 50))
  }
  spec["bin/tool.sh"] = { x: "#!/bin/sh\necho tool\n" }
  spec["big.bin"] = "x".repeat(600 << 10)
  return spec
}

describe.skipIf(!built)("the built engine (worker threads)", () => {
  // these trees are small enough to be walked and copied here: send them to the workers
  beforeAll(async () => {
    const module = await import(path.join(dist, "internal", "walkInWorker.js")) as typeof WalkInWorker
    module.setWorth(0)
  })

  it.scoped("seeds a tree of many files exactly, modes included, and syncs it back the same way", () =>
    Effect.gen(function*() {
      const { make } = yield* Effect.promise(engineModule)
      const engine = yield* make()
      const w = yield* world(bigTree())
      fs.chmodSync(path.join(w.host, "src/d3/f4.txt"), 0o664)
      fs.symlinkSync("../src/d1/f1.txt", path.join(w.host, "bin/link"))
      const seeded = yield* engine.seed(w.request())
      expect(seeded.files_to_runtime).toBe(40 * 30 + 3)
      expect(readTree(w.runtime)).toEqual(readTree(w.host))
      expect(fs.statSync(path.join(w.runtime, "src/d3/f4.txt")).mode & 0o777).toBe(0o664)
      // the mtime comes along (to the microsecond: finer digits are lost on the way, as with `tar -x`)
      expect(fs.statSync(path.join(w.runtime, "src/d3/f4.txt")).mtimeMs).toBeCloseTo(
        fs.statSync(path.join(w.host, "src/d3/f4.txt")).mtimeMs,
        2
      )
      // a quiet runtime, twice (the second answered from the first), then one change
      for (let i = 0; i < 2; i++) {
        const quiet = yield* engine.sync(w.request({ reason: "stop" }))
        expect(quiet.files_from_runtime + quiet.deleted_on_host).toBe(0)
      }
      fs.appendFileSync(path.join(w.runtime, "src/d7/f7.txt"), "changed in the runtime\n")
      fs.rmSync(path.join(w.runtime, "src/d8"), { recursive: true })
      const back = yield* engine.sync(w.request({ reason: "stop" }))
      expect([back.files_from_runtime, back.deleted_on_host]).toEqual([1, 30])
      expect(readTree(w.host)).toEqual(readTree(w.runtime))
      const again = yield* engine.sync(w.request({ reason: "stop" }))
      expect(again.files_from_runtime + again.deleted_on_host).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a scoped sync-back from workers decides as a cold full scan does", () =>
    Effect.gen(function*() {
      const { make } = yield* Effect.promise(engineModule)
      const [warm, cold] = [yield* world(bigTree()), yield* world(bigTree())]
      const warmEngine = yield* make()
      for (const w of [warm, cold]) {
        const e = w === warm ? warmEngine : yield* make()
        yield* e.seed(w.request())
        fs.appendFileSync(path.join(w.runtime, "src/d1/f1.txt"), "runtime\n")
        fs.appendFileSync(path.join(w.host, "src/d2/f2.txt"), "host\n")
        fs.appendFileSync(path.join(w.host, "src/d3/f3.txt"), "host\n")
        fs.appendFileSync(path.join(w.runtime, "src/d3/f3.txt"), "runtime\n")
        fs.rmSync(path.join(w.runtime, "src/d4"), { recursive: true })
        fs.writeFileSync(path.join(w.host, "src/d4/new-on-host.txt"), "kept")
      }
      const a = yield* warmEngine.sync(warm.request({ reason: "stop" }))
      const b = yield* (yield* make()).sync(cold.request({ reason: "stop" }))
      expect({ ...a, duration_ms: 0 }).toEqual({ ...b, duration_ms: 0 })
      expect(a.conflicts.map((c) => c.path)).toEqual(["src/d3/f3.txt"])
      expect(readTree(warm.host)).toEqual(readTree(cold.host))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a content manifest hashed by the workers has the digests hashed here", () =>
    Effect.gen(function*() {
      const HostScan = yield* Effect.promise(hostScanModule)
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "sync-built-hash-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
      writeTree(root, bigTree())
      const scanned = yield* HostScan.scan({ root, filter: Filter.make({}), hash: "all" })
      let files = 0
      for (const [p, e] of scanned.entries) {
        if (e.kind !== "file") continue
        files++
        expect(e.digest).toBe(hostFs.hashFile(path.join(root, p)))
      }
      expect(files).toBe(40 * 30 + 2)
    }).pipe(Effect.scoped))
})

describe("copying a file into the runtime", () => {
  const setup = () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "sync-copy-"))
    const from = path.join(base, "from")
    fs.writeFileSync(from, "content")
    fs.chmodSync(from, 0o664)
    const st = hostFs.lstat(from)!
    return { base, from, job: { from, to: path.join(base, "to"), size: st.size, mtime_ns: st.mtime_ns, ino: st.ino } }
  }

  it("keeps the mode (whatever the umask) and the mtime; an unchanged source is not raced", () => {
    const { base, job } = setup()
    const result = copyFile.copyJob(job)
    expect(result.status === "copied" && result.raced).toBe(false)
    expect(fs.readFileSync(job.to, "utf8")).toBe("content")
    expect(fs.statSync(job.to).mode & 0o777).toBe(0o664)
    expect(result.status === "copied" && result.stat?.mtime_ns.slice(0, 13)).toBe(job.mtime_ns.slice(0, 13))
    fs.rmSync(base, { recursive: true })
  })

  it("reports a source that changed since the scan as raced", () => {
    const { base, from, job } = setup()
    fs.writeFileSync(from, "content, longer now")
    const result = copyFile.copyJob(job)
    expect(result.status === "copied" && result.raced).toBe(true)
    fs.rmSync(base, { recursive: true })
  })

  it("skips a source that became a symlink or a FIFO (without blocking on it) or is gone", () => {
    const { base, from, job } = setup()
    fs.rmSync(from)
    fs.symlinkSync("/etc/passwd", from)
    expect(copyFile.copyJob(job).status).toBe("skipped")
    fs.rmSync(from)
    expect(copyFile.copyJob(job).status).toBe("skipped")
    const fifo = path.join(base, "fifo")
    if (fs.existsSync("/usr/bin/mkfifo")) {
      execFileSync("mkfifo", [fifo])
      expect(copyFile.copyJob({ ...job, from: fifo }).status).toBe("skipped")
      expect(hostFs.hashFile(fifo)).toBeUndefined()
    }
    expect(fs.existsSync(job.to)).toBe(false)
    fs.rmSync(base, { recursive: true })
  })

  it("never writes through a name that exists at the target", () => {
    const { base, job } = setup()
    fs.symlinkSync(path.join(base, "elsewhere"), job.to)
    const result = copyFile.copyJob(job)
    expect(result.status).toBe("failed")
    expect(fs.existsSync(path.join(base, "elsewhere"))).toBe(false)
    fs.rmSync(base, { recursive: true })
  })
})
