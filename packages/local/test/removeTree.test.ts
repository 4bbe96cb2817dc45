/**
 * Removing a sandbox's tree a directory at a time: everything below goes, a symbolic link is removed and never
 * followed, a tree already gone is no error.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { removeTree } from "../src/internal/removeTree.js"

describe("removeTree", () => {
  it("removes a nested tree with more entries per directory than removals in flight, never following links", async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "local-remove-"))
    try {
      const outside = path.join(base, "outside")
      fs.mkdirSync(outside)
      fs.writeFileSync(path.join(outside, "keep.txt"), "kept")
      const tree = path.join(base, "tree")
      for (let d = 0; d < 3; d++) {
        const dir = path.join(tree, `d${d}`, "deeper", "deepest")
        fs.mkdirSync(dir, { recursive: true })
        for (let f = 0; f < 40; f++) fs.writeFileSync(path.join(tree, `d${d}`, `f${f}.txt`), `${f}`)
        fs.writeFileSync(path.join(dir, "leaf.txt"), "leaf")
      }
      fs.mkdirSync(path.join(tree, "empty"))
      fs.symlinkSync(outside, path.join(tree, "d0", "link-to-outside"))
      fs.symlinkSync(path.join(outside, "keep.txt"), path.join(tree, "file-link"))
      await removeTree(tree, 4)
      expect(fs.existsSync(tree)).toBe(false)
      expect(fs.readFileSync(path.join(outside, "keep.txt"), "utf8")).toBe("kept")
      await removeTree(tree)
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })
})
