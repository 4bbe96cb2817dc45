/**
 * The worker thread that walks the runtime and shares large copies. A worker runs compiled JavaScript, so these
 * tests load the build (`dist/`, which the test task builds first) and are skipped when there is none; the rest
 * of the suite runs the same walker and copies in the test's own thread.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Filter from "../src/Filter.js"
import * as hostFs from "../src/internal/hostFs.js"
import type * as WalkInWorker from "../src/internal/walkInWorker.js"
import type { Entry } from "../src/Manifest.js"
import { writeTree } from "./fixtures/harness.js"

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "internal")
const built = fs.existsSync(path.join(dist, "scanWorker.js"))
const load = () => import(path.join(dist, "walkInWorker.js")) as Promise<typeof WalkInWorker>

const here = (root: string, filter: Filter.Filter) => {
  const walker = new hostFs.Walker(root, filter)
  while (!walker.step(1 << 30)) {
    // one step walks everything
  }
  return walker
}
const shape = (entries: ReadonlyMap<string, Entry>) =>
  Object.fromEntries(
    [...entries.values()].map((e) => [e.path, [e.kind, e.size, e.mtime_ns, e.mode, e.ino, e.link_target ?? ""]])
  )

describe.skipIf(!built)("scan worker (built)", () => {
  // these small trees would be walked and copied here: send every one to the workers
  beforeAll(async () => (await load()).setWorth(0))

  it("a small tree is walked in the caller's thread, no worker started; a big one goes to a worker", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "sync-worker-policy-"))
    try {
      writeTree(root, { "a.txt": "A" })
      const big = path.join(root, "big")
      const spec: Record<string, string> = {}
      for (let i = 0; i < 40; i++) spec[`d${i % 4}/f${i}.txt`] = `${i}`
      writeTree(big, spec)
      const module = JSON.stringify(path.join(dist, "walkInWorker.js"))
      const filter = JSON.stringify(path.join(dist, "..", "Filter.js"))
      // in a process of its own: no other test's worker runs there
      const script = `const w = await import(${module}); const F = await import(${filter});
        const { Effect } = await import("effect");
        const small = await Effect.runPromise(w.walk(${JSON.stringify(root)}, F.make({ exclude: ["big"] })));
        const smallCopies = w.worthCopying(3, 100);
        const before = w.running();
        w.setWorth(10);
        const large = await Effect.runPromise(w.walk(${JSON.stringify(big)}, F.make({})));
        console.log(JSON.stringify({ files: small.entries.size, smallCopies, before, version: small.version,
          big: large.entries.size, bigVersion: large.version !== undefined, after: w.running() }))`
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: path.join(dist, "..", ".."),
        timeout: 20_000
      })
      expect(JSON.parse(out.toString())).toEqual({
        files: 1,
        smallCopies: false,
        before: 0,
        big: 44,
        bigVersion: true,
        after: 1
      })
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it("a process started with V8's own options (a supervisor's --max-semi-space-size) still walks in a worker", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "sync-worker-v8flags-"))
    try {
      const spec: Record<string, string> = {}
      for (let i = 0; i < 40; i++) spec[`d${i % 4}/f${i}.txt`] = `${i}`
      writeTree(root, spec)
      const module = JSON.stringify(path.join(dist, "walkInWorker.js"))
      const filter = JSON.stringify(path.join(dist, "..", "Filter.js"))
      const script = `const w = await import(${module}); const F = await import(${filter});
        const { Effect } = await import("effect");
        w.setWorth(10);
        const walked = await Effect.runPromise(w.walk(${JSON.stringify(root)}, F.make({})));
        console.log(JSON.stringify({ entries: walked.entries.size, inWorker: walked.version !== undefined,
          running: w.running() }))`
      const out = execFileSync(
        process.execPath,
        ["--max-semi-space-size=4", "--stack-size=2000", "--input-type=module", "-e", script],
        { cwd: path.join(dist, "..", ".."), timeout: 20_000 }
      )
      expect(JSON.parse(out.toString())).toEqual({ entries: 44, inWorker: true, running: 1 })
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it.effect("walks like the walker here, then answers with diffs that rebuild the same manifest", () =>
    Effect.gen(function*() {
      const { walk } = yield* Effect.promise(load)
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "sync-worker-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
      writeTree(root, {
        "a.txt": "A",
        "dir/b.txt": "B",
        "dir/link": { link: "../a.txt" },
        "dir/sp ace/c d": "C",
        "node_modules/x.js": "X",
        "run.sh": { x: "#!/bin/sh" }
      })
      fs.symlinkSync("/etc", path.join(root, "escape"))
      const filter = Filter.make({})
      const first = yield* walk(root, filter)
      const mine = here(root, filter)
      expect(first && shape(first.entries)).toEqual(shape(mine.entries))
      expect(first?.problems).toEqual(mine.problems)
      fs.writeFileSync(path.join(root, "a.txt"), "A changed")
      fs.rmSync(path.join(root, "dir/sp ace"), { recursive: true })
      fs.mkdirSync(path.join(root, "new"))
      fs.writeFileSync(path.join(root, "new/n.txt"), "N")
      const second = yield* walk(root, filter)
      expect(second && shape(second.entries)).toEqual(shape(here(root, filter).entries))
      // an unchanged entry is the held object itself (never mutated by a caller), with no digest
      expect(second?.entries.get("run.sh")).toBe(first?.entries.get("run.sh"))
      expect(second?.entries.get("run.sh")?.digest).toBeUndefined()
    }).pipe(Effect.scoped))

  it.effect("a walk split in halves (one here, one in the worker) is the whole walk", () =>
    Effect.gen(function*() {
      const { walk } = yield* Effect.promise(load)
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "sync-worker-split-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
      // one top-level directory holds almost everything: the halves must still share its files
      const spec: Record<string, string> = { "top.txt": "T", "docs/readme.md": "R" }
      for (let i = 0; i < 24; i++) spec[`src/d${i}/sub/f${i}.txt`] = `${i}`
      writeTree(root, spec)
      fs.mkdirSync(path.join(root, "bad\nname"))
      const filter = Filter.make({})
      const half = new hostFs.Walker(root, filter, 0)
      while (!half.step(1 << 30)) {
        // one step walks everything
      }
      const other = yield* walk(root, filter, 1)
      const merged = new Map([...half.entries, ...(other?.entries ?? [])])
      const files = (m: ReadonlyMap<string, { kind: string }>) => [...m.values()].filter((e) => e.kind !== "dir").length
      const dirs = (m: ReadonlyMap<string, { kind: string }>) => [...m.keys()].filter((p) => m.get(p)!.kind === "dir")
      // every directory in both halves, every file in exactly one, and each half has a fair share of the files
      expect(dirs(half.entries)).toEqual(dirs(other!.entries))
      expect(files(half.entries) + files(other!.entries)).toBe(files(merged))
      expect(files(half.entries)).toBeGreaterThan(4)
      expect(files(other!.entries)).toBeGreaterThan(4)
      expect(shape(merged)).toEqual(shape(here(root, filter).entries))
      // a directory's problem is reported by one half only
      expect([...half.problems, ...other!.problems]).toEqual(here(root, filter).problems)
    }).pipe(Effect.scoped))

  it.effect("idle workers never keep the process alive (started, used, or never asked anything)", () =>
    Effect.gen(function*() {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "sync-worker-exit-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
      writeTree(root, { "a.txt": "A", "d/b.txt": "B" })
      const module = JSON.stringify(path.join(dist, "walkInWorker.js"))
      const filter = JSON.stringify(path.join(dist, "..", "Filter.js"))
      // a process that starts both workers, walks with one of them and then has nothing left to do must end
      const script = `const w = await import(${module}); const F = await import(${filter});
        const { Effect } = await import("effect");
        w.warm(true);
        await Effect.runPromise(w.walk(${JSON.stringify(root)}, F.make({}), 1));
        console.log("walked")`
      const started = Date.now()
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: path.join(dist, "..", ".."),
        timeout: 20_000
      })
      expect(out.toString()).toBe("walked\n")
      expect(Date.now() - started).toBeLessThan(20_000)
    }).pipe(Effect.scoped))

  it.effect("copies files with the host mtime, reports stats, skips a vanished source", () =>
    Effect.gen(function*() {
      const { copyInWorker } = yield* Effect.promise(load)
      const base = fs.mkdtempSync(path.join(os.tmpdir(), "sync-worker-copy-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(base, { recursive: true, force: true })))
      fs.writeFileSync(path.join(base, "a"), "hello")
      fs.utimesSync(path.join(base, "a"), 1_000_000, 1_000_000)
      const a = hostFs.lstat(path.join(base, "a"))!
      const jobs = [
        { from: path.join(base, "a"), to: path.join(base, "a.copy"), size: a.size, mtime_ns: a.mtime_ns, ino: a.ino },
        { from: path.join(base, "gone"), to: path.join(base, "gone.copy"), size: 1, mtime_ns: "1", ino: 1 }
      ]
      const results = yield* Effect.promise(() => copyInWorker(jobs)!)
      expect(results.map((r) => r.status)).toEqual(["copied", "skipped"])
      expect(fs.readFileSync(path.join(base, "a.copy"), "utf8")).toBe("hello")
      const copied = results[0]!
      expect(copied.status === "copied" && [copied.raced, copied.stat?.mtime_ns]).toEqual([false, a.mtime_ns])
      expect(fs.existsSync(path.join(base, "gone.copy"))).toBe(false)
    }).pipe(Effect.scoped))
})
