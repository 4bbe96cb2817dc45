/**
 * The runtime scanner reports differences from the engine's last snapshot. A deletion must be noticed whether
 * the snapshot trusted the entry (its key went to the script, which reports it gone) or not (a racy or unhashed
 * file: the walk must report it afresh, so an unreported one is gone), and an unchanged runtime must report
 * no change at all (a directory's key may not depend on its contents).
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as AncestorStore from "../src/AncestorStore.js"
import * as Filter from "../src/Filter.js"
import { Entry } from "../src/Manifest.js"
import * as RuntimeScan from "../src/RuntimeScan.js"
import { EngineLayer, expected, readTree, seed, SESSION, sync, world } from "./fixtures/harness.js"

const DIGEST = "a".repeat(64)
const file = (p: string, mtime = "1700000000000000000") => new Entry(p, "file", 1, mtime, 0o644, 7, DIGEST, undefined)
const dir = (p: string) => new Entry(p, "dir", 0, "0", 0o755, 0, undefined, undefined)

/** The script's output for a walk that saw `plus` (key, link target) and lost `minus` keys. */
const output = (plus: ReadonlyArray<string>, minus: ReadonlyArray<string>, hashes: ReadonlyArray<string> = []) =>
  [
    "@SCAN",
    "1700000100000000000",
    "@DIFF",
    [...plus.flatMap((k) => [`+ ${k}`, ""]), ...minus.map((k) => `- ${k}`)].join("\n"),
    "@BAD",
    "@HASH",
    hashes.join("\n"),
    "@ERR",
    "",
    "@END",
    ""
  ].join("\0")

describe("RuntimeScan.parse", () => {
  const filter = Filter.make({ noDefaults: true })
  const snapshot: RuntimeScan.Snapshot = {
    entries: new Map([
      ["d", dir("d")],
      ["d/trusted.txt", file("d/trusted.txt")],
      ["d/racy.txt", file("d/racy.txt")],
      ["unhashed.txt", new Entry("unhashed.txt", "file", 1, "1700000000000000000", 0o644, 9, undefined, undefined)],
      ["kept.txt", file("kept.txt")]
    ]),
    racy: new Set(["d/racy.txt"]),
    filter_key: filter.key
  }

  it("sends only trusted keys: directories, and hashed files outside the racy window", () => {
    const keys = RuntimeScan.knownKeys(snapshot).trim().split("\n")
    expect(keys.map((k) => k.split(" ").pop()).sort()).toEqual(["d", "d/trusted.txt", "kept.txt"])
    expect(keys).toContain("d 0 0 0 755 d")
  })

  it("a trusted file reported gone and untrusted files not reported are deletions", () => {
    const trustedKey = RuntimeScan.keyOf(snapshot.entries.get("d/trusted.txt")!)
    const parsed = RuntimeScan.parse(output([], [trustedKey]), filter, snapshot)
    if (typeof parsed === "string") return expect.fail(parsed)
    expect([...parsed.entries.keys()].sort()).toEqual(["d", "kept.txt"])
    // one reported deletion, two unreported untrusted files
    expect(parsed.changes).toBe(3)
  })

  it("an untrusted file the walk reports again is kept with its new digest", () => {
    const racy = snapshot.entries.get("d/racy.txt")!
    const parsed = RuntimeScan.parse(
      output([RuntimeScan.keyOf(racy)], [], [`${"b".repeat(64)}  d/racy.txt`]),
      filter,
      snapshot
    )
    if (typeof parsed === "string") return expect.fail(parsed)
    expect(parsed.entries.get("d/racy.txt")?.digest).toBe("b".repeat(64))
    expect(parsed.entries.has("unhashed.txt")).toBe(false)
    expect(parsed.entries.has("d/trusted.txt")).toBe(true)
  })

  it("a missing root is reported as such", () => {
    const parsed = RuntimeScan.parse("@NOROOT\0", filter, snapshot)
    if (typeof parsed === "string") return expect.fail(parsed)
    expect(parsed.root_missing).toBe(true)
    expect(parsed.entries.size).toBe(0)
  })
})

const aged = (root: string) => {
  const old = new Date(Date.now() - 3_600_000)
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name)
      const st = fs.lstatSync(p)
      if (st.isDirectory()) walk(p)
      if (!st.isSymbolicLink()) fs.utimesSync(p, old, old)
    }
  }
  walk(root)
}

const T0 = { "a.txt": "A", "dir/b.txt": "B", "dir/sub/c.txt": "C" } as const

layer(EngineLayer)("RuntimeScan against a real runtime", (it) => {
  it.scoped("an unchanged runtime reports no change; a deleted trusted file is noticed and reaches the host", () =>
    Effect.gen(function*() {
      const w = yield* world(T0, "archive")
      aged(w.host)
      yield* seed(w.request())
      aged(w.runtime)
      // this sync re-reads the aged runtime files; afterwards the snapshot trusts them
      yield* sync(w.request())
      const identity = {
        session_id: SESSION,
        sandbox_id: "sbx_test000000000001",
        instance_id: w.dir.instance.instance_id,
        host_root: w.host,
        runtime_root: w.runtime
      }
      const loaded = yield* AncestorStore.load(w.state, identity)
      if (Option.isNone(loaded)) return expect.fail("no ancestor")
      const snapshot = loaded.value.ancestor.runtime
      expect(RuntimeScan.knownKeys(snapshot).trim().split("\n")).toHaveLength(5)
      const filter = Filter.make({})
      const scanned = yield* RuntimeScan.scan({
        provider: w.dir.provider,
        instance: w.dir.instance,
        root: w.runtime,
        filter,
        snapshot
      })
      if ("error" in scanned) return expect.fail(scanned.error)
      expect(scanned.manifest.changes).toBe(0)
      expect(scanned.manifest.hashed).toBe(0)

      fs.rmSync(path.join(w.runtime, "dir/sub/c.txt"))
      const result = yield* sync(w.request())
      expect(result.deleted_on_host).toBe(1)
      expect(readTree(w.host)).toEqual(expected({ "a.txt": "A", "dir/b.txt": "B", "dir/sub": { dir: true } }))
    }))
})
