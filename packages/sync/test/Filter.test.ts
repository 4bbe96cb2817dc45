/**
 * Excludes: gitignore semantics (the `ignore` package, case-sensitive), the default excludes, includes.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Filter from "../src/Filter.js"

describe("Filter", () => {
  it("excludes the defaults at any depth, directories only", () => {
    const f = Filter.make({})
    for (const name of [".git", "node_modules", "__pycache__", ".venv", "venv", ".tox"]) {
      expect(f.excluded(name, true)).toBe(true)
      expect(f.excluded(`pkg/sub/${name}`, true)).toBe(true)
      // a plain file with such a name is not a directory rule's business
      expect(f.excluded(`pkg/${name}`, false)).toBe(false)
    }
    expect(f.excluded("src", true)).toBe(false)
    expect(f.excluded("src/index.ts", false)).toBe(false)
  })

  it("always excludes the engine's own names", () => {
    const f = Filter.make({ noDefaults: true })
    expect(f.excluded(".sandbox-sync-stage-x", true)).toBe(true)
    expect(f.excluded("a.txt.sandbox-conflict-ses_1", false)).toBe(true)
  })

  it("follows gitignore semantics: anchoring, globs, '**', negation, last match wins, case-sensitive", () => {
    const f = Filter.make({ exclude: ["/build", "*.log", "!keep.log", "docs/**/tmp/", "Secret.txt"] })
    expect(f.excluded("build", true)).toBe(true)
    expect(f.excluded("pkg/build", true)).toBe(false) // anchored to the root
    expect(f.excluded("Build", true)).toBe(false) // case-sensitive
    expect(f.excluded("a.log", false)).toBe(true)
    expect(f.excluded("deep/er/b.log", false)).toBe(true)
    expect(f.excluded("keep.log", false)).toBe(false)
    expect(f.excluded("docs/a/b/tmp", true)).toBe(true)
    expect(f.excluded("docs/tmp", true)).toBe(true)
    expect(f.excluded("docs/a/tmp", false)).toBe(false) // directory-only rule
    expect(f.excluded("Secret.txt", false)).toBe(true)
    expect(f.excluded("secret.txt", false)).toBe(false)
  })

  it("extra excludes (from hooks) apply after the profile's", () => {
    const f = Filter.make({ exclude: ["*.tmp"], extra: ["generated/"] })
    expect(f.excluded("x.tmp", false)).toBe(true)
    expect(f.excluded("generated", true)).toBe(true)
    expect(f.key).not.toBe(Filter.make({ exclude: ["*.tmp"] }).key)
  })

  it("the fast path and the general path decide alike", () => {
    const fast = Filter.make({ exclude: ["*.o", "dist/"] })
    const general = Filter.make({ exclude: ["*.o", "dist/", "!never-matches-anything"] })
    expect(fast.pruneNames).toBeDefined()
    expect(general.pruneNames).toBeUndefined()
    const cases: Array<[string, boolean]> = [
      ["a.o", false],
      ["src/a.o", false],
      ["dist", true],
      ["src/dist", true],
      ["dist", false],
      ["node_modules", true],
      ["src/a.c", false],
      ["a.o.c", false]
    ]
    for (const [p, dir] of cases) expect(fast.excluded(p, dir)).toBe(general.excluded(p, dir))
  })

  it("an include re-includes a path below an excluded directory (kept as a phantom)", () => {
    const f = Filter.make({ include: ["node_modules/keep/"] })
    expect(f.excluded("node_modules", true)).toBe(true)
    expect(f.mayIncludeBelow("node_modules")).toBe(true)
    const kept = Filter.filterPreorder(
      f,
      ["node_modules", "node_modules/drop", "node_modules/drop/d.js", "node_modules/keep", "node_modules/keep/k.js"],
      (p) => !p.endsWith(".js")
    )
    expect([...kept].sort()).toEqual(["node_modules", "node_modules/keep", "node_modules/keep/k.js"])
  })
})
