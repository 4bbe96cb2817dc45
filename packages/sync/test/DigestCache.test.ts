/**
 * The digest cache: a file is hashed again only when its stat (size, mtime_ns, inode) changed or its record is
 * racy; a recorded digest is reused otherwise.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DigestCache from "../src/DigestCache.js"
import * as Filter from "../src/Filter.js"
import * as HostScan from "../src/HostScan.js"
import { writeTree } from "./fixtures/harness.js"

const cacheOf = (manifest: HostScan.HostManifest): DigestCache.DigestCache => {
  const cache: DigestCache.DigestCache = new Map()
  for (const e of manifest.entries.values()) {
    if (e.kind === "file" && e.digest !== undefined) {
      cache.set(e.path, DigestCache.record(e, e.digest, manifest.scan_ns))
    }
  }
  return cache
}

describe("digest cache", () => {
  it.scoped("reuses digests for unchanged files and re-hashes changed and racy ones", () =>
    Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "sync-cache-"))),
        (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      )
      writeTree(root, { "a.txt": "A", "b.txt": "B", "d/c.txt": "C" })
      const old = new Date(Date.now() - 3_600_000)
      for (const p of ["a.txt", "b.txt", "d/c.txt"]) fs.utimesSync(path.join(root, p), old, old)
      const filter = Filter.make({})

      const first = yield* HostScan.scan({ root, filter, hash: "all" })
      expect(first.hashed).toBe(3)
      const cache = cacheOf(first)
      expect([...cache.values()].every((c) => !c.racy)).toBe(true)

      const second = yield* HostScan.scan({ root, filter, cache, hash: "all" })
      expect(second.hashed).toBe(0)
      expect(second.entries.get("a.txt")?.digest).toBe(first.entries.get("a.txt")?.digest)

      // a content change that moves the stat is hashed again (and is racy: just written)
      fs.writeFileSync(path.join(root, "b.txt"), "B2")
      const third = yield* HostScan.scan({ root, filter, cache })
      expect(third.hashed).toBe(1)
      expect(third.entries.get("b.txt")?.digest).not.toBe(first.entries.get("b.txt")?.digest)
      const racy = cacheOf(third).get("b.txt")
      expect(racy?.racy).toBe(true)

      // a racy record is never trusted, even when the stat did not move (same-size edit in the same tick)
      const stat = fs.statSync(path.join(root, "b.txt"))
      fs.writeFileSync(path.join(root, "b.txt"), "B3")
      fs.utimesSync(path.join(root, "b.txt"), stat.atime, stat.mtime)
      expect(DigestCache.lookup(cacheOf(third), third.entries.get("b.txt")!)).toBeUndefined()
      const fourth = yield* HostScan.scan({ root, filter, cache: cacheOf(third) })
      expect(fourth.entries.get("b.txt")?.digest).not.toBe(third.entries.get("b.txt")?.digest)
    }))

  it("a record is racy when the file changed within the window before the scan", () => {
    const scan = 10_000_000_000n
    expect(DigestCache.isRacy((scan - DigestCache.RACY_WINDOW_NS - 1n).toString(), scan)).toBe(false)
    expect(DigestCache.isRacy((scan - 1n).toString(), scan)).toBe(true)
  })
})

describe("isRacy", () => {
  it("compares like the numbers it stands for, whatever the digit counts", () => {
    const scan = 5_000_000_000n
    for (const [mtime, racy] of [["2999999999", false], ["3000000000", true], ["999", false], ["10000000000", true]]) {
      expect(DigestCache.isRacy(mtime as string, scan)).toBe(racy)
      expect(DigestCache.isRacy(mtime as string, scan)).toBe(
        BigInt(mtime as string) >= scan - DigestCache.RACY_WINDOW_NS
      )
    }
    expect(DigestCache.isRacy("0", 1n)).toBe(true)
    expect(DigestCache.isRacy("-5", 3_000_000_000n)).toBe(false)
  })
})
