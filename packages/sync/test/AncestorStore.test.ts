/**
 * The ancestor on disk: a base plus an append-only journal; what a cold load rebuilds, torn and corrupt journals,
 * compaction, and delta validation.
 */
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Ancestor from "../src/Ancestor.js"
import * as AncestorStore from "../src/AncestorStore.js"
import { EngineLayer, readTree, seed, SESSION, sync, world } from "./fixtures/harness.js"

const T0 = { "a.txt": "A", "dir/b.txt": "B", "dir/sub/c.txt": "C" } as const
const base = (w: { readonly state: string }) => path.join(w.state, Ancestor.FILE_NAME)
const journal = (w: { readonly state: string }) => path.join(w.state, Ancestor.JOURNAL_NAME)
const identityOf = (w: { readonly host: string; readonly runtime: string }) => ({
  session_id: SESSION,
  sandbox_id: "sbx_test000000000001",
  instance_id: "dir-1",
  host_root: w.host,
  runtime_root: w.runtime
})

layer(EngineLayer)("AncestorStore", (it) => {
  it.scoped("later cycles append to the journal; a cold load rebuilds the same ancestor", () =>
    Effect.gen(function*() {
      const w = yield* world(T0)
      yield* seed(w.request())
      const before = fs.statSync(base(w), { bigint: true })
      fs.writeFileSync(path.join(w.host, "a.txt"), "A2")
      yield* sync(w.request())
      fs.writeFileSync(path.join(w.runtime, "dir/new.txt"), "N")
      fs.rmSync(path.join(w.runtime, "dir/sub"), { recursive: true })
      yield* sync(w.request())
      const after = fs.statSync(base(w), { bigint: true })
      expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs])
      expect(fs.readFileSync(journal(w), "utf8").trim().split("\n").length).toBeGreaterThanOrEqual(2)
      const loaded = yield* AncestorStore.load(w.state, identityOf(w))
      if (Option.isNone(loaded)) return expect.fail("no ancestor")
      const a = loaded.value.ancestor
      expect([...a.entries.keys()].sort()).toEqual(["a.txt", "dir", "dir/b.txt", "dir/new.txt"])
      expect([...a.runtime.entries.keys()].sort()).toEqual(["a.txt", "dir", "dir/b.txt", "dir/new.txt"])
      expect(loaded.value.generation).toBeDefined()
      // a new engine (cold) starts from the files and finds nothing to do
      const cold = yield* sync(w.request()).pipe(Effect.provide(EngineLayer))
      expect(cold.files_to_runtime + cold.files_from_runtime + cold.deleted_in_runtime + cold.deleted_on_host).toBe(0)
    }))

  it.scoped("a base is written in pieces whose text is exactly the whole encoding", () =>
    Effect.gen(function*() {
      const spec: Record<string, string> = {}
      for (let i = 0; i < 1300; i++) spec[`d${i % 7}/f${i}.txt`] = `${i}`
      const w = yield* world(spec)
      yield* seed(w.request())
      const loaded = yield* AncestorStore.load(w.state, identityOf(w))
      if (Option.isNone(loaded)) return expect.fail("no ancestor")
      const a = loaded.value.ancestor
      const pieces = [...Ancestor.encodeText(a, "gen", 4096)]
      expect(pieces.length).toBeGreaterThan(4)
      expect(pieces.join("")).toBe(JSON.stringify(Ancestor.encode(a, "gen")))
      expect([...Ancestor.encodeText(a)].join("")).toBe(JSON.stringify(Ancestor.encode(a)))
      // and what the store wrote reads back as the same ancestor
      expect(fs.readFileSync(base(w), "utf8")).toBe(
        JSON.stringify(Ancestor.encode(a, loaded.value.generation))
      )
    }))

  it.scoped("a torn last line is ignored and the next save compacts", () =>
    Effect.gen(function*() {
      const w = yield* world(T0)
      yield* seed(w.request())
      fs.writeFileSync(path.join(w.host, "a.txt"), "A2")
      yield* sync(w.request())
      fs.appendFileSync(journal(w), "{\"generation\":\"x\",\"entr")
      const loaded = yield* AncestorStore.load(w.state, identityOf(w))
      if (Option.isNone(loaded)) return expect.fail("no ancestor")
      expect(loaded.value.generation).toBeUndefined()
      fs.writeFileSync(path.join(w.runtime, "dir/b.txt"), "B2")
      const result = yield* sync(w.request()).pipe(Effect.provide(EngineLayer))
      expect(result.files_from_runtime).toBe(1)
      expect(fs.existsSync(journal(w))).toBe(false)
      expect(readTree(w.host)).toEqual(readTree(w.runtime))
    }))

  it.scoped("a corrupt journal line means no ancestor: nothing is deleted", () =>
    Effect.gen(function*() {
      const w = yield* world(T0)
      yield* seed(w.request())
      fs.appendFileSync(journal(w), "not json\n")
      fs.rmSync(path.join(w.runtime, "a.txt"))
      const result = yield* sync(w.request()).pipe(Effect.provide(EngineLayer))
      expect(result.deleted_on_host).toBe(0)
      expect(readTree(w.runtime)["a.txt"]).toBe("f:A")
    }))

  it.scoped("journal lines of another generation are ignored; a journal over the limit is compacted away", () =>
    Effect.gen(function*() {
      const w = yield* world(T0)
      yield* seed(w.request())
      const stale = JSON.stringify({
        generation: "stale",
        entries: [],
        entries_gone: ["a.txt"],
        host: [],
        host_gone: [],
        runtime: [],
        runtime_gone: [],
        runtime_filter: ""
      })
      const lines = Math.ceil(AncestorStore.JOURNAL_LIMIT / stale.length) + 1
      fs.writeFileSync(journal(w), `${stale}\n`.repeat(lines))
      const loaded = yield* AncestorStore.load(w.state, identityOf(w))
      if (Option.isNone(loaded)) return expect.fail("no ancestor")
      expect(loaded.value.ancestor.entries.has("a.txt")).toBe(true)
      const generation = loaded.value.generation
      fs.writeFileSync(path.join(w.host, "a.txt"), "A2")
      yield* sync(w.request()).pipe(Effect.provide(EngineLayer))
      expect(fs.existsSync(journal(w))).toBe(false)
      const again = yield* AncestorStore.load(w.state, identityOf(w))
      expect(Option.map(again, (p) => p.generation !== generation)).toEqual(Option.some(true))
    }))
})

layer(NodeContext.layer)("AncestorStore delta validation", (it) => {
  it.scoped("an append that would orphan an entry is refused", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(fs.realpathSync("/tmp"), "ancestor-store-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const identity = { session_id: "s", sandbox_id: "b", instance_id: "i", host_root: "/h", runtime_root: "/r" }
      const file = { kind: "file", exec: false, digest: "a".repeat(64), link_target: undefined } as const
      const folder = { kind: "dir", exec: false, digest: undefined, link_target: undefined } as const
      const first: Ancestor.Ancestor = {
        ...Ancestor.empty(identity),
        entries: new Map<string, Ancestor.AncestorEntry>([["d", folder], ["d/f", file]])
      }
      const saved = yield* AncestorStore.save(dir, first, undefined)
      // "d" becomes a file while "d/f" stays: invalid
      const broken: Ancestor.Ancestor = {
        ...first,
        entries: new Map<string, Ancestor.AncestorEntry>([["d", file], ["d/f", file]])
      }
      const exit = yield* Effect.exit(AncestorStore.save(dir, broken, saved))
      expect(Exit.isFailure(exit) && Exit.isInterrupted(exit) === false).toBe(true)
      // a valid change goes to the journal and loads back
      const fine: Ancestor.Ancestor = { ...first, entries: new Map([["d", folder]]) }
      yield* AncestorStore.save(dir, fine, saved)
      const loaded = yield* AncestorStore.load(dir, identity)
      expect(Option.map(loaded, (p) => [...p.ancestor.entries.keys()])).toEqual(Option.some(["d"]))
    }))
})
