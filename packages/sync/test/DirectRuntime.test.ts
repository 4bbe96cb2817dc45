/**
 * On the fast path the runtime directory is scanned by the runtime scanner's script run as a host process, and in
 * process where the host lacks its tools (or the script reports an error). Both must describe the same tree alike,
 * from an empty snapshot and as differences from a snapshot, or a runtime would look changed (or unchanged) only
 * because the scanner switched.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DirectRuntime from "../src/DirectRuntime.js"
import * as Filter from "../src/Filter.js"
import type { Entry } from "../src/Manifest.js"
import type * as RuntimeScan from "../src/RuntimeScan.js"

const OLD = 1_600_000_000

const write = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
  fs.writeFileSync(path.join(root, p), text)
  // outside the racy window, so the snapshot trusts it
  fs.utimesSync(path.join(root, p), OLD, OLD)
}

// a directory's stamp and inode are not part of its state (the script reports them as 0)
const view = (m: RuntimeScan.RuntimeManifest) => ({
  entries: [...m.entries.values()]
    .map((e: Entry) =>
      e.kind === "dir"
        ? { path: e.path, kind: e.kind, mode: e.mode }
        : {
          path: e.path,
          kind: e.kind,
          mode: e.mode,
          size: e.size,
          mtime_ns: e.mtime_ns,
          ino: e.ino,
          digest: e.digest,
          link_target: e.link_target
        }
    )
    .sort((a, b) => (a.path < b.path ? -1 : 1)),
  problems: m.problems.map((p) => p.path).sort(),
  root_missing: m.root_missing
})

const snapshotOf = (m: RuntimeScan.RuntimeManifest, filter: Filter.Filter): RuntimeScan.Snapshot => ({
  entries: m.entries,
  racy: m.racy,
  filter_key: filter.key
})

describe("DirectRuntime.scan", () => {
  it.effect("the scan script on the host and the in-process walk agree, in full and as differences", () =>
    Effect.gen(function*() {
      const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "sync-direct-")))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
      const filter = Filter.make({})
      write(root, "a.txt", "a")
      write(root, "src/deep/b.ts", "b")
      write(root, "src/with space.md", "c")
      write(root, "gone.txt", "gone")
      write(root, "node_modules/x/index.js", "excluded")
      fs.chmodSync(path.join(root, "a.txt"), 0o755)
      fs.symlinkSync("deep/b.ts", path.join(root, "src/link"))

      const both = (snapshot: RuntimeScan.Snapshot) =>
        Effect.all([
          DirectRuntime.scan({ root, filter, snapshot }),
          DirectRuntime.scan({ root, filter, snapshot, scanner: "in-process" })
        ])
      const empty: RuntimeScan.Snapshot = { entries: new Map(), racy: new Set(), filter_key: "" }
      const [first, firstHere] = yield* both(empty)
      expect(view(first)).toEqual(view(firstHere))
      // the script did run on this host (it reports a directory's stamp as 0, the walk here its real mtime)
      expect(first.entries.get("src")?.mtime_ns).toBe("0")
      expect(firstHere.entries.get("src")?.mtime_ns).not.toBe("0")
      expect(view(first).entries.map((e) => e.path)).toEqual([
        "a.txt",
        "gone.txt",
        "src",
        "src/deep",
        "src/deep/b.ts",
        "src/link",
        "src/with space.md"
      ])
      expect(view(first).problems).toEqual([])

      const snapshot = snapshotOf(first, filter)
      const [same, sameHere] = yield* both(snapshot)
      expect(same.changes).toBe(0)
      expect(sameHere.changes).toBe(0)
      expect(view(same)).toEqual(view(sameHere))

      write(root, "src/deep/b.ts", "b, longer")
      fs.rmSync(path.join(root, "gone.txt"))
      write(root, "new/n.txt", "n")
      fs.chmodSync(path.join(root, "a.txt"), 0o644)
      fs.symlinkSync("/etc/passwd", path.join(root, "escape"))
      const [next, nextHere] = yield* both(snapshot)
      expect(view(next).problems).toEqual(["escape"])
      expect(view(next)).toEqual(view(nextHere))
      expect(next.changes).toBeGreaterThan(0)
      expect(nextHere.changes).toBeGreaterThan(0)
      expect(next.entries.has("gone.txt")).toBe(false)
      expect(next.entries.get("a.txt")?.mode).toBe(0o644)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.effect("a missing runtime directory is reported as such", () =>
    Effect.gen(function*() {
      const root = path.join(os.tmpdir(), `sync-direct-missing-${process.pid}`)
      const m = yield* DirectRuntime.scan({
        root,
        filter: Filter.make({}),
        snapshot: { entries: new Map(), racy: new Set(), filter_key: "" }
      })
      expect(m.root_missing).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))
})
